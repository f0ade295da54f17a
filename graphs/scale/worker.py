"""`Worker`: a Celery worker that runs a fleet's session turns on accord's async core.

One process runs one event loop (the runtime's portal); Celery hands each turn to it through
the worker's pool (`turn_pool`), so a turn awaiting its model holds neither a process nor a
thread, and hundreds of turns run at once. A turn:

1. counts its delivery; past `Broker.attempts` it goes to the dead-letter queue, audited;
2. waits for its session's earlier turns (tickets), so a busy session's turns keep their order;
3. on a delivery after the first, audits it (`redelivered`) and drops the re-run's events
   that a dead delivery streamed already, of any kind (`Replay`: a `recovered` entry marks
   where the re-run streamed otherwise);
4. runs the session's `Run` with the message's id: it takes the session's lease (waiting for
   a dead worker's to expire), finishes an interrupted run from its last checkpoint, and
   answers a message already answered from the history instead of adding it again;
5. streams every event to Redis, then lets the session's next turn go.

While it runs, the worker posts its load to the fleet's board every second (turns in flight,
its concurrency, its mean turn time, its agents' steps in flight: `Board`), which the other
workers' routers and `Broker.recommend()` read; it takes its entry off when it stops.

A failure the caller must act on (budget, scope, closed session, bad message) is the turn's
answer; any other failure is retried with backoff, then dead-lettered. An unreachable database
is no fault of the message: the turn waits for it where it is, with backoff, for `db_wait`
seconds (counting no delivery, taking no other turn), then is answered with a
`ServiceUnavailable` naming the database and what starts it, and released (`_down`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel

from accord.agents import standby
from accord.graphs.errors import (
    BudgetExceeded,
    InvalidFeedback,
    NotAuthorized,
    ServiceUnavailable,
    SessionClosed,
)
from accord.graphs.scale.broker import Broker
from accord.graphs.scale.capacity import queued
from accord.graphs.scale.channel import Channel, turn_key
from accord.graphs.scale.event_loop import turn_pool
from accord.graphs.scale.extra import need, shown
from accord.graphs.scale.outbox import Outbox
from accord.graphs.scale.queue import TASK, application, dead_letter, queues
from accord.graphs.scale.wire import Replay, error_entry
from accord.graphs.sessions.access import User
from accord.graphs.sessions.run import Run
from accord.graphs.sessions.runtime import Runtime
from accord.persistence import DatabaseUnavailable, SessionNotFound

log = logging.getLogger("accord.worker")

ANSWERS = (
    BudgetExceeded,
    NotAuthorized,
    SessionClosed,
    SessionNotFound,
    InvalidFeedback,
    ValueError,
)
"""Failures that are the turn's answer: running it again would fail the same way."""

RETRY = "retry"

PAUSE_S = (0.5, 5.0)
"""The first and the longest pause of a turn waiting for an unreachable database (doubling)."""

SMOOTHING = 0.1
"""Weight of the latest turn in the worker's mean turn time (an exponential moving average)."""


class Worker:
    """Runs the turns that `Sessions(graph, db=..., broker=...)` enqueues, for one graph.

    Args:
        graph: The compiled graph the sessions run (the same as the enqueuing side's).
        db: The sessions' database (PostgreSQL for a fleet): a URL or a saver.
        broker: The fleet: a RabbitMQ URL or a `Broker`.
        concurrency: Turns this process runs at once (all on its one loop; what it takes
            from the queue beyond those waits there for any worker).
        lease_ttl: Seconds a turn's lease lasts unless renewed: how long a turn that a
            killed worker held blocks its redelivery.
        wait: Seconds a turn waits for its session's lease (default: enough for a dead
            worker's lease to expire).
        db_wait: Seconds a turn waits for an unreachable database (trying again with
            backoff) before it is answered with a `ServiceUnavailable` naming it.
        **settings: `Sessions` settings (`durability`, `callbacks`, `metrics`).
    """

    def __init__(
        self,
        graph: Pregel[Any, Any, Any, Any],
        *,
        db: BaseCheckpointSaver[Any] | str,
        broker: Broker | str,
        concurrency: int = 200,
        lease_ttl: float = 30.0,
        wait: float | None = None,
        db_wait: float = 60.0,
        **settings: Any,
    ) -> None:
        self.broker = Broker.of(broker)
        self.concurrency = concurrency
        self.db_wait = db_wait
        self.database = shown(db) if isinstance(db, str) else "the sessions' database"
        patience = wait if wait is not None else 2 * lease_ttl + 5
        self.runtime = Runtime(graph, db=db, lease_ttl=lease_ttl, wait=patience, **settings)
        self.app = application(self.broker.url, self.broker.prefix)
        self.channel = Channel(self.broker.redis, prefix=self.broker.prefix, keep=self.broker.keep)
        self.board = self.broker.board()
        self.in_flight = 0
        self.turn_s = 0.0
        self._stopping = threading.Event()

        def task(
            task: Any, payload: dict[str, Any], ran: asyncio.Task[str | None] | None = None
        ) -> None:
            self._task(task, payload, ran)

        self.app.task(name=TASK, bind=True, acks_late=True, max_retries=None)(task)
        self.app.conf.worker_pool = turn_pool(TASK, self.runtime.portal, self.turn)

    def run(self, *, loglevel: str = "INFO") -> None:
        """Consumes the fleet's turn queue until stopped (SIGTERM: in-flight turns finish).

        Raises:
            ServiceUnavailable: RabbitMQ or Redis is unreachable at the start.
        """
        # Celery would retry an unreachable RabbitMQ for minutes, logging each try; a worker
        # that cannot start says so at once instead.
        queued(self.broker.url, self.broker.prefix)
        # Celery's "Task ... succeeded in 0.00002s" times only its bookkeeping after the turn
        # ran on the loop: each turn logs its own line instead (`turn`); failures still show.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        self.runtime.portal.call(self.channel.ping())
        turns, _ = queues(self.broker.prefix)
        beat = threading.Thread(target=self._post, name="accord-board", daemon=True)
        beat.start()
        try:
            self.app.worker_main(self._argv(turns, loglevel))
        finally:  # worker_main leaves by SystemExit once its pool has drained
            self._stopping.set()
            beat.join()
            self.runtime.portal.call(self.board.aretire())

    def _argv(self, turns: str, loglevel: str) -> list[str]:
        return [
            "worker",
            f"--concurrency={self.concurrency}",
            f"--queues={turns}",
            f"--hostname=accord-{os.getpid()}@%h",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]

    def _post(self) -> None:
        """Posts this worker's load to the board every beat until it stops (a failed post
        is logged and tried again next beat: the entry expires meanwhile)."""
        while not self._stopping.is_set():
            try:
                self.runtime.portal.call(self.post())
            except Exception as error:
                log.warning("could not post this worker's load (%r)", error)
            self._stopping.wait(self.board.beat)

    async def post(self) -> None:
        """Writes this worker's entry on the fleet's load board once."""
        await self.board.apost(
            turns=self.in_flight,
            concurrency=self.concurrency,
            turn_s=self.turn_s,
            agents=standby().counter.counts(),
        )

    async def turn(self, payload: dict[str, Any]) -> str | None:
        """Runs one delivered turn; `RETRY` if it should be delivered again later."""
        began = time.monotonic()
        self.in_flight += 1
        outcome: str | None = RETRY
        try:
            outcome = await self._turn(payload)
            return outcome
        finally:
            self.in_flight -= 1
            took = time.monotonic() - began
            self.turn_s += (took - self.turn_s) * (SMOOTHING if self.turn_s else 1.0)
            # Celery's own line would time only its bookkeeping, after the turn (`turn_pool`).
            done = "to be retried" if outcome == RETRY else "answered"
            log.info("turn %s of session %s %s in %.3f s", *_named(payload), done, took)

    async def _turn(self, payload: dict[str, Any]) -> str | None:
        session_id, message_id = payload["session_id"], payload["message_id"]
        turn = turn_key(session_id, message_id)
        user = User(payload["user"], frozenset(payload["roles"]))
        attempt, finished = await self.channel.arrive(turn, session_id)
        if attempt > self.broker.attempts:
            # Every delivery before this one died with its worker (or its retries ran out).
            await self._dead(payload, user, attempt, "WorkerLost")
            return None
        if not await self.channel.wait_turn(
            session_id, payload["ticket"], patience=self.broker.order_wait, finished=finished
        ):
            log.warning(
                "session %s: earlier turns still unfinished; running turn anyway", session_id
            )
        audited = attempt == 1
        pauses = _pauses(self.db_wait)
        again = False
        while True:
            try:
                if not audited:
                    details = {"message_id": message_id, "attempt": attempt}
                    await self.runtime.audit_trail.aappend(
                        session_id, "redelivered", actor=user.id, details=details
                    )
                    audited = True
                return await self._run(payload, user, turn, attempt, again)
            except DatabaseUnavailable as error:
                pause = next(pauses, None)
                if pause is None:
                    await self._down(payload, turn, error)
                    return None
                log.warning(
                    "turn %s: the database is unreachable (%s); trying again in %.1f s",
                    message_id,
                    error,
                    pause,
                )
                await asyncio.sleep(pause)
                again = True

    async def _run(
        self, payload: dict[str, Any], user: User, turn: str, attempt: int, again: bool
    ) -> str | None:
        """Runs the turn's session once; `again`: this delivery ran it before (the database
        went away), so what it streamed then is in the turn's stream."""
        session_id, message_id = payload["session_id"], payload["message_id"]
        replay = None
        if attempt > 1 or again:
            replay = Replay(await self.channel.streamed(turn), attempt)
        # A turn enqueued before inboxes names none.
        outbox = Outbox(self.channel, turn, payload.get("inbox"))
        try:
            run = Run(self.runtime, session_id, user)
            # A turn enqueued before `tokens` was sent has them (what every turn had then).
            async for event in run.events(payload["text"], message_id, payload.get("tokens", True)):
                data = event.to_dict()
                for entry in [data] if replay is None else replay.entries(data):
                    outbox.put(entry)
            await outbox.flush()
        except DatabaseUnavailable:
            with contextlib.suppress(Exception):
                await outbox.flush()  # a run again reads what this one streamed
            raise
        except ANSWERS as answer:
            outbox.put(error_entry(answer))
            await outbox.flush()
        except Exception as error:
            # What the run streamed goes before anything later: a redelivery's replay reads
            # it, and a dead letter's error entry must come last.
            with contextlib.suppress(Exception):
                await outbox.flush()
            if attempt < self.broker.attempts:
                log.warning("turn %s failed (%r); retrying", message_id, error)
                return RETRY
            await self._dead(payload, user, attempt, type(error).__name__, error)
            return None
        await self.channel.finish(session_id, payload["ticket"])
        return None

    async def _down(self, payload: dict[str, Any], turn: str, error: BaseException) -> None:
        """Answers a turn whose database stayed unreachable: the error names the database and
        what starts it. Nothing of the turn is left half-done: its session's next turn goes,
        and its message may be sent again (its claim is released; a run that got as far as
        adding the message resumes from its checkpoint then)."""
        down = ServiceUnavailable("database", self.database, error, _start(self.database))
        await self.channel.finish(payload["session_id"], payload["ticket"])
        await self.channel.publish(
            turn, error_entry(down), inbox=payload.get("inbox"), release=True
        )

    async def _dead(
        self,
        payload: dict[str, Any],
        user: User,
        attempt: int,
        reason: str,
        error: BaseException | None = None,
    ) -> None:
        """Moves a turn to the dead-letter queue, audits it, answers it, lets the next go."""
        session_id, message_id = payload["session_id"], payload["message_id"]
        await asyncio.to_thread(dead_letter, self.app, self.broker.url, self.broker.prefix, payload)
        details = {"message_id": message_id, "attempts": attempt - (error is None), "error": reason}
        await self.runtime.audit_trail.aappend(
            session_id, "dead_letter", actor=user.id, details=details
        )
        failure = error or RuntimeError(
            f"the turn's worker died on every one of its {attempt - 1} deliveries"
        )
        turn = turn_key(session_id, message_id)
        entry = error_entry(failure, dead_lettered=True)
        await self.channel.publish(turn, entry, inbox=payload.get("inbox"))
        await self.channel.finish(session_id, payload["ticket"])

    def _task(
        self, task: Any, payload: dict[str, Any], ran: asyncio.Task[str | None] | None
    ) -> None:
        """The Celery task: the turn, on this process's one event loop; `ran`: the turn, run
        already by the worker's pool (`turn_pool`), else it runs now, this thread waiting.

        A failure outside the run (Redis or the database down while counting, publishing or
        auditing) is delivered again later, never acknowledged as done: the turn would be lost.
        """
        try:
            outcome = ran.result() if ran else self.runtime.portal.call(self.turn(payload))
        except Exception as error:
            log.warning("turn %s could not run (%r); retrying", payload.get("message_id"), error)
            outcome = RETRY
        if outcome == RETRY:
            backoff = min(2.0**task.request.retries, 30.0)
            reject = need("celery.exceptions").Reject
            try:
                raise task.retry(countdown=backoff)
            except reject as refused:
                # Celery rejects a turn whose retry it could not publish without requeueing
                # it: RabbitMQ would drop it, acknowledged and never answered. Requeued, it is
                # delivered again at once (to any worker) and counted as one more attempt.
                raise reject(refused.reason, requeue=True) from None


def _named(payload: dict[str, Any]) -> tuple[str, str]:
    return str(payload.get("message_id")), str(payload.get("session_id"))


def _pauses(within: float) -> Iterator[float]:
    """The pauses of a turn waiting for the database: doubling from `PAUSE_S[0]` up to
    `PAUSE_S[1]`, until they add up to `within` seconds."""
    pause, left = PAUSE_S[0], within
    while left > 0:
        yield min(pause, left)
        left -= pause
        pause = min(pause * 2, PAUSE_S[1])


def _start(database: str) -> str:
    """What starts the database a URL names."""
    if database.startswith("postgresql"):
        return "pg_ctl start -D <data directory>, or systemctl start postgresql"
    if database.startswith(("mysql", "mariadb")):
        return "systemctl start mariadb"
    return "its server"
