"""`accord worker`: a Celery worker running the session turns of one graph from RabbitMQ.

Start as many as the load needs, on any machines that reach the same RabbitMQ, Redis and
database; `accord serve --broker` (or `Sessions(graph, db=..., broker=...)`) enqueues turns.
"""

from __future__ import annotations

from typing import Annotated

import typer

from accord.app.cli import teams
from accord.app.cli.db import HELP, database_url
from accord.graphs import Broker, Worker

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/0"


def worker_command(
    graph: Annotated[
        str,
        typer.Option(
            metavar="MODULE:ATTR",
            help="The graph: module:attr or file.py:attr, or an example's name (onboarding).",
        ),
    ],
    db: Annotated[str, typer.Option(metavar="URL", help=HELP)],
    broker: Annotated[
        str, typer.Option(metavar="AMQP_URL", help="RabbitMQ, where turns queue.")
    ] = (BROKER),
    redis: Annotated[
        str, typer.Option(metavar="REDIS_URL", help="Redis, where turns' events stream.")
    ] = REDIS,
    prefix: Annotated[
        str, typer.Option(metavar="NAME", help="The fleet's queue and Redis key prefix.")
    ] = "accord",
    concurrency: Annotated[
        int, typer.Option(metavar="N", help="Turns this process runs at once.", min=1)
    ] = 200,
    lease_ttl: Annotated[
        float, typer.Option(metavar="SECONDS", help="How long a dead worker's turn blocks it.")
    ] = 30.0,
    attempts: Annotated[
        int, typer.Option(metavar="N", help="Deliveries before the dead-letter queue.", min=1)
    ] = 5,
    db_wait: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="How long a turn waits for an unreachable database."),
    ] = 60.0,
) -> None:
    """Runs session turns from RabbitMQ until stopped (SIGTERM lets in-flight turns finish)."""
    fleet = Broker(broker, redis=redis, prefix=prefix, attempts=attempts)
    # An example's name too: `accord serve --broker` serves one by default, and its workers
    # must run the same graph.
    served = teams.team(graph, option="--graph")
    Worker(
        served,
        db=database_url(db),
        broker=fleet,
        concurrency=concurrency,
        lease_ttl=lease_ttl,
        db_wait=db_wait,
    ).run()
