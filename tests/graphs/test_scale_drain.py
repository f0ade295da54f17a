"""A worker stopping (SIGTERM) and a burst of queued turns (real RabbitMQ, Redis and
PostgreSQL; workers are subprocesses)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fleet import Workers, broker, clean, fleet_database, services
from langchain_core.messages import AIMessage, HumanMessage
from scale_team import single

from accord.graphs import Broker, Sessions

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    services()
    with fleet_database(tmp_path) as url:
        yield url


@pytest.fixture
def fleet() -> Iterator[Broker]:
    made = broker()
    yield made
    clean(made)


def _kinds(fleet: Broker, session_id: str, message_id: str) -> list[str]:
    """The kinds of a turn's stream entries, read straight from Redis."""
    client = redis.Redis.from_url(fleet.redis)
    try:
        entries = client.xrange(f"{fleet.prefix}:turn:{session_id}:{message_id}")
    finally:
        client.close()
    return [json.loads(fields[b"e"])["kind"] for _, fields in entries]


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
            first.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            code = await asyncio.to_thread(first.wait, 60)
            took = time.monotonic() - stopped
            workers.running.remove(first)
            assert code == 0
            assert took < 15, f"a warm shutdown took {took:.1f} s"
            # Its turns in flight finished: answered before the next worker starts.
            done = [
                s.id
                for s in opened
                if _kinds(fleet, s.id, f"{s.id}-m0")[-1:] == ["done"]
            ]
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
                    assert kinds.count("done") == 1 and "recovered" not in kinds, kinds
                trail = await sessions.aaudit(session.id, "alice")
                assert "redelivered" not in [e.kind for e in trail]
    finally:
        workers.stop()
