"""`Broker`: where a fleet's turns queue (RabbitMQ) and its events stream (Redis)."""

from __future__ import annotations

from dataclasses import dataclass

from accord.graphs.errors import InvalidBroker

REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True, slots=True)
class Broker:
    """The services a fleet of workers shares with the processes that send it turns.

    Attributes:
        url: RabbitMQ, where turns queue: `amqp://guest:guest@127.0.0.1:5672//`.
        redis: Redis, where each turn's events stream to whichever process asked for it, and
            where the order of each session's turns is kept.
        prefix: Names the fleet's queues (`PREFIX.turns`, `PREFIX.dead`) and Redis keys, so
            fleets (or tests) can share the services.
        attempts: Deliveries of a turn before it goes to the dead-letter queue: a turn that
            fails (or kills its worker) every time stops blocking its session's later turns.
        keep: Seconds a turn's events stay readable after its last one (reconnecting clients).
        order_wait: Seconds a turn waits for its session's earlier turns before it runs anyway.
    """

    url: str
    redis: str = REDIS
    prefix: str = "accord"
    attempts: int = 5
    keep: float = 86_400.0
    order_wait: float = 600.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("amqp://", "amqps://", "pyamqp://")):
            raise InvalidBroker(f"a broker is a RabbitMQ URL (amqp://...), got {self.url!r}")
        if self.attempts < 1:
            raise InvalidBroker(f"attempts must be at least 1, got {self.attempts}")

    @classmethod
    def of(cls, broker: Broker | str) -> Broker:
        """A `Broker` from a broker or its RabbitMQ URL (Redis on 127.0.0.1)."""
        return broker if isinstance(broker, Broker) else cls(broker)

    def drop(self) -> None:
        """Deletes the fleet's queues (turns waiting in them included) and its Redis keys: for
        a fleet retired, or the scratch fleets of tests and benchmarks."""
        from accord.graphs.scale.extra import need
        from accord.graphs.scale.queue import queues

        with need("kombu").Connection(self.url) as connection:
            channel = connection.channel()
            for name in queues(self.prefix):
                channel.queue_delete(name)
        client = need("redis").Redis.from_url(self.redis)
        try:
            keys = list(client.scan_iter(f"{self.prefix}:*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
