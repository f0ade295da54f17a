"""How many workers a fleet needs: its load board, its backlog and the predictive forecast.

`Broker.recommend()` reads the board (workers alive, turns in flight, their concurrency and
mean turn time), the turns waiting in RabbitMQ and the arrivals per minute, and asks the
forecast (`accord.agents.workers_needed`) for a worker count. It only recommends: an operator,
a cron job, Kubernetes or any autoscaler acts on `Recommendation.workers` (see `Broker.watch`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from accord.agents import workers_needed
from accord.graphs.errors import ServiceUnavailable
from accord.graphs.scale.board import Board
from accord.graphs.scale.extra import need, shown
from accord.graphs.scale.queue import BROKER_START, broker_errors, queues

DEFAULT_CONCURRENCY = 200
"""Turns a worker runs at once when none is running to say (`accord worker`'s default)."""


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What the fleet runs now and how many workers it should run soon.

    Attributes:
        workers: Workers recommended (at least `minimum`).
        running: Workers on the load board now.
        in_flight: Turns the workers run now.
        queued: Turns waiting in the queue.
        expected: Turns the forecast expects in flight over the next minutes.
        per_worker: Turns one worker runs at once (the running workers' mean concurrency).
        turn_s: Seconds a turn takes (the running workers' mean).
    """

    workers: int
    running: int
    in_flight: int
    queued: int
    expected: float
    per_worker: float
    turn_s: float

    @property
    def change(self) -> int:
        """Workers to start (positive) or stop (negative)."""
        return self.workers - self.running

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        return {**asdict(self), "change": self.change}


def recommend(
    board: Board,
    queued: int,
    *,
    now: float | None = None,
    utilisation: float = 0.8,
    minimum: int = 1,
) -> Recommendation:
    """The recommendation from the board and the backlog (`Broker.recommend`)."""
    workers = board.workers()
    in_flight = sum(w.turns for w in workers)
    per_worker = (
        sum(w.concurrency for w in workers) / len(workers) if workers else DEFAULT_CONCURRENCY
    )
    timed = [w.turn_s for w in workers if w.turn_s > 0]
    turn_s = sum(timed) / len(timed) if timed else 1.0
    at = time.time() if now is None else now
    count, expected = workers_needed(
        board.arrivals(at),
        now=at,
        in_flight=in_flight + queued,
        per_worker=per_worker,
        step_s=turn_s,
        utilisation=utilisation,
        minimum=minimum,
    )
    return Recommendation(count, len(workers), in_flight, queued, expected, per_worker, turn_s)


def queued(url: str, prefix: str) -> int:
    """Turns waiting in the fleet's queue (0 before the queue exists)."""
    kombu = need("kombu")
    turns, _ = queues(prefix)
    try:
        with kombu.Connection(url, connect_timeout=3) as connection:
            channel = connection.channel()
            try:
                _, count, _ = channel.queue_declare(turns, durable=True, passive=True)
            except need("amqp").exceptions.NotFound:
                return 0
            return int(count)
    except broker_errors() as error:
        raise ServiceUnavailable("broker", shown(url), error, BROKER_START) from None


def watch(
    ask: Callable[[], Recommendation],
    act: Callable[[Recommendation], object],
    *,
    every: float = 30.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Calls `act` with each new recommendation that changes the worker count, every `every`
    seconds, until `stop()` (`Broker.watch`)."""
    last: int | None = None
    while not stop():
        advice = ask()
        if advice.workers != last:
            act(advice)
            last = advice.workers
        time.sleep(every)
