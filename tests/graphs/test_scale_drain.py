"""A worker stopping (SIGTERM) and a burst of queued turns (real RabbitMQ, Redis and
PostgreSQL; workers are subprocesses)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fleet import Workers, fleet_database, services, until
from langchain_core.messages import AIMessage, HumanMessage
from scale_team import single

from accord.graphs import Broker, Sessions
from accord.graphs.scale.capacity import queued
from accord.graphs.scale.queue import TASK, application, queues

pytestmark = pytest.mark.timeout(180)
kombu: Any = importlib.import_module("kombu")  # untyped


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    services()
    with fleet_database(tmp_path) as url:
        yield url


def _kinds(fleet: Broker, session_id: str, message_id: str) -> list[str]:
    """The kinds of a turn's stream entries, read straight from Redis."""
    client: Any = redis.Redis.from_url(fleet.redis)
    try:
        entries = client.xrange(f"{fleet.prefix}:turn:{session_id}:{message_id}")
    finally:
        client.close()
    return [json.loads(fields[b"e"])["kind"] for _, fields in entries]


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("Threads:")[1].split()[0])


async def test_sigterm_finishes_in_flight_turns_and_hands_back_the_rest(
    db: str, fleet: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_TEST_LATENCY", "1.5")
    workers = Workers("tests/scale_team.py:single", db, fleet, tmp_path, concurrency=8)
    [first] = workers.start()
    try:
        async with Sessions(single(), db=db, broker=fleet) as sessions:
            opened = [await sessions.aopen("alice") for _ in range(12)]

            async def converse(k: int) -> list[str]:
                session = opened[k]
                return [
                    (await session.asend(f"q{n}", message_id=f"{session.id}-m{n}")).text
                    for n in range(2)
                ]

            talks = asyncio.gather(*(converse(k) for k in range(len(opened))))
            board = fleet.board()
            deadline = time.monotonic() + 30
            while sum(w.turns for w in board.workers()) < 8:  # the worker is full
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            board.close()
            # Its pool runs them on its event loop: waiting on their model, they hold no thread.
            threads = _threads(first.pid)
            assert threads < 8, f"{threads} threads for 8 turns waiting on their model"
            first.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            code = await asyncio.to_thread(first.wait, 60)
            took = time.monotonic() - stopped
            workers.running.remove(first)
            assert code == 0
            assert took < 15, f"a warm shutdown took {took:.1f} s"
            # Its turns in flight finished: answered before the next worker starts.
            done = [s.id for s in opened if _kinds(fleet, s.id, f"{s.id}-m0")[-1:] == ["done"]]
            assert len(done) >= 8
            workers.start()  # takes the turns handed back and those still queued
            answers = await asyncio.wait_for(talks, 90)
            assert answers == [["answer to q0", "answer to q1"]] * len(opened)
            for session in opened:
                history = await session.ahistory()
                ids = [m.id for m in history if isinstance(m, HumanMessage)]
                assert ids == [f"{session.id}-m0", f"{session.id}-m1"]
                assert len([m for m in history if isinstance(m, AIMessage)]) == 2
                for n in range(2):
                    kinds = _kinds(fleet, session.id, f"{session.id}-m{n}")
                    # Answered once; none interrupted (that would be a `recovered` entry).
                    assert (kinds.count("done"), kinds.count("recovered")) == (1, 0), kinds
                trail = await sessions.aaudit(session.id, "alice")
                assert "redelivered" not in [e.kind for e in trail]
    finally:
        workers.stop()


BURST = 10_000


def _publish_burst(fleet: Broker, count: int) -> None:
    """`count` turns queued at once, each for a session of its own (none exists: a worker
    answers each with `SessionNotFound` after the whole turn machinery but the graph), as
    Celery's messages on one channel without publisher confirms (a burst, in seconds)."""
    app = application(fleet.url, fleet.prefix)
    turns, _ = queues(fleet.prefix)
    with kombu.Connection(fleet.url) as connection:  # the app's would confirm each publish
        producer = connection.Producer()
        for k in range(count):
            payload: dict[str, Any] = {"session_id": f"s{k}", "user": "alice", "roles": []}
            payload |= {"text": "hi", "message_id": "m", "ticket": 1}
            message = app.amqp.as_task_v2(
                uuid.uuid4().hex, TASK, args=[payload], argsrepr="", kwargsrepr=""
            )
            producer.publish(
                message.body,
                exchange="",
                routing_key=turns,
                headers=message.headers,
                serializer="json",
                delivery_mode=2,
                declare=[kombu.Queue(turns, durable=True)] if k == 0 else [],
                **message.properties,
            )
    app.close()


def _rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


def _answered(fleet: Broker) -> dict[str, int]:
    """Each answered turn's session and how many entries its stream holds."""
    return _streams(fleet, "turn", lambda client, key: client.xlen(key))


def _started(fleet: Broker) -> set[str]:
    """The sessions whose turn a worker took (it counts each delivery before anything else)."""
    return set(_streams(fleet, "attempts", lambda client, key: client.get(key)))


def _streams(fleet: Broker, kind: str, read: Any) -> dict[str, int]:
    client = redis.Redis.from_url(fleet.redis)
    try:
        keys = list(client.scan_iter(f"{fleet.prefix}:{kind}:*", count=1_000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            read(pipe, key)
        sessions = [key.decode().split(":")[2] for key in keys]
        return dict(zip(sessions, (int(n) for n in pipe.execute()), strict=True))
    finally:
        client.close()


def _take_queued(fleet: Broker) -> list[str]:
    """Empties the turn queue; the session of each turn that was in it."""
    turns, _ = queues(fleet.prefix)
    found: list[str] = []
    with kombu.Connection(fleet.url) as connection:
        queue = kombu.Queue(turns, durable=True, no_declare=True)

        def take(body: Any, message: Any) -> None:
            found.append(body[0][0]["session_id"])

        with connection.Consumer(queue, callbacks=[take], no_ack=True, accept=["json"]):
            while True:
                try:
                    connection.drain_events(timeout=1)
                except TimeoutError:
                    return found


async def test_a_burst_of_ten_thousand_turns_is_held_by_the_prefetch_not_in_memory(
    db: str, fleet: Broker, tmp_path: Path
) -> None:
    """What this proves: 10,000 turns queued at once sit in RabbitMQ, not in the worker: its
    memory stays flat while it drains them (it holds at most `concurrency` unacknowledged),
    and a SIGTERM mid-burst loses none and answers none twice: each turn is answered once or
    back in the queue, checked turn by turn. Not proved here: the whole drain (about 2
    minutes at 85 turns/s on 2 shared cores) and the memory of turns that run a graph
    (`bench/scale.py` measures that per in-flight turn)."""
    _publish_burst(fleet, BURST)
    # Published without confirms, the last messages may still be on their way from the closed
    # channel to the queue when its count is first read: all of them must arrive, not at once.
    await until(lambda: queued(fleet.url, fleet.prefix) == BURST, "the burst queued", 60)
    workers = Workers("tests/scale_team.py:single", db, fleet, tmp_path, concurrency=50)
    [worker] = workers.start()
    try:
        # Past start-up (imports, connections, every thread of the pool made): 100 answered.
        await until(lambda: queued(fleet.url, fleet.prefix) <= BURST - 150, "100 turns", 60)
        base = peak = _rss_kb(worker.pid)

        def drained() -> bool:
            nonlocal peak
            peak = max(peak, _rss_kb(worker.pid))
            return queued(fleet.url, fleet.prefix) <= BURST - 650

        await until(drained, "600 turns answered", 60)
        worker.send_signal(signal.SIGTERM)  # mid-burst: 50 turns in flight, 9,000 queued
        assert await asyncio.to_thread(worker.wait, 60) == 0
        workers.running.remove(worker)
    finally:
        workers.stop()
    # RabbitMQ puts the stopped worker's unacknowledged turns back once it has seen its
    # connection close (a moment after the process exits).
    with contextlib.suppress(AssertionError):
        await until(
            lambda: len(_answered(fleet)) + queued(fleet.url, fleet.prefix) >= BURST,
            "the stopped worker's turns back in the queue",
            30,
        )
    answered = _answered(fleet)
    waiting = _take_queued(fleet)
    everyone = {f"s{k}" for k in range(BURST)}
    lost = everyone - set(answered) - set(waiting)
    started = _started(fleet)
    assert not lost, f"{len(lost)} turns lost ({len(lost & started)} of them started): {lost}"
    assert len(waiting) == len(set(waiting)), "a turn queued twice"
    assert not set(answered) & set(waiting), "a turn answered and queued again"
    assert set(answered.values()) == {1}, "a turn answered twice"
    assert 600 <= len(answered) < BURST - 50
    # Thousands of turns waiting cost the worker nothing: 50 at a time in flight.
    assert (peak - base) < 15_000, f"RSS grew {peak - base} KB while draining"
