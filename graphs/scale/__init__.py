"""Turns on a fleet of Celery workers: RabbitMQ queues them, Redis streams their events.

`Broker` and `Worker` are exported by `accord.graphs`; `Sessions(graph, db=..., broker=...)`
enqueues instead of running in its own process.
"""
