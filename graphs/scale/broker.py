"""`Broker`: where a fleet's turns queue (RabbitMQ) and its events stream (Redis)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.graphs.errors import InvalidBroker

if TYPE_CHECKING:
    from accord.graphs.scale.board import Board
    from accord.graphs.scale.capacity import Recommendation

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

    def board(self, *, beat: float = 1.0) -> Board:
        """The fleet's load board: each worker's turns and agents' steps in flight.

        It is a `LoadSource`: `Router(team, load=SharedLoad(broker.board()))` makes a routed
        graph's router on a worker see the other workers' in-flight steps per agent.
        """
        from accord.graphs.scale.board import Board

        return Board(self.redis, self.prefix, beat=beat)

    def recommend(self, *, utilisation: float = 0.8, minimum: int = 1) -> Recommendation:
        """How many workers the fleet should run soon: the larger of the work in flight and
        waiting now and the work the predictive forecast of arrivals expects over the next
        five minutes, over workers kept `utilisation` full (`accord metrics --broker`).

        Raises:
            ServiceUnavailable: RabbitMQ or Redis is unreachable.
        """
        from accord.graphs.scale.capacity import queued, recommend

        board = self.board()
        try:
            backlog = queued(self.url, self.prefix)
            return recommend(board, backlog, utilisation=utilisation, minimum=minimum)
        finally:
            board.close()

    def watch(
        self,
        act: Callable[[Recommendation], object],
        *,
        every: float = 30.0,
        stop: Callable[[], bool] = lambda: False,
        **settings: float,
    ) -> None:
        """The scaling hook: calls `act(recommendation)` whenever the recommended worker count
        changes, checking every `every` seconds until `stop()` returns True. `act` starts or
        stops `accord worker` processes (or tells an autoscaler to); `settings` go to
        `recommend`."""
        from accord.graphs.scale.capacity import watch

        watch(lambda: self.recommend(**settings), act, every=every, stop=stop)  # type: ignore[arg-type]

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
