"""Turns on Celery workers (real RabbitMQ, Redis and PostgreSQL; workers are subprocesses).

Each test has its own queue and key prefix and its own database, cleaned up after it.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fleet import Workers, broker, clean, dead_letters, fleet_database, services, until
from langchain_core.messages import AIMessage, HumanMessage
from scale_team import gated, single, team

from accord.graphs import Broker, Sessions
from accord.graphs.errors import ScaleNotInstalled, ServiceUnavailable, TurnFailed
from accord.graphs.scale.channel import Channel, turn_key
from accord.graphs.scale.wire import encode, kept

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    services()
    with fleet_database(tmp_path) as url:
        yield url


@pytest.fixture
def fleet() -> Iterator[Broker]:
    made = broker(attempts=2)
    yield made
    clean(made)


async def test_turns_run_on_a_worker_in_order_and_poison_is_dead_lettered(
    db: str, fleet: Broker, tmp_path: Path
) -> None:
    workers = Workers("tests/scale_team.py:single", db, fleet, tmp_path)
    workers.start()
    try:
        async with Sessions(single(), db=db, broker=fleet) as sessions:
            session = await sessions.aopen("alice")
            reply = await session.asend("hello", message_id="m-hello")
            assert (reply.text, reply.agent) == ("answer to hello", "desk")
            kinds = [event.kind async for event in session.astream("tokens please")]
            assert kinds[0] == "token"
            assert kinds[-2:] == ["usage", "done"]
            assert "message" in kinds

            # The same message id again: answered from the history, never added twice.
            again = await session.asend("hello", message_id="m-hello")
            assert again.text == "answer to hello"

            # Five turns of one session at once: none fails busy, each answered in turn.
            texts = [f"q{k}" for k in range(5)]
            replies = await asyncio.gather(*(session.asend(t) for t in texts))
            assert [r.text for r in replies] == [f"answer to {t}" for t in texts]

            # A message that fails every time: dead-lettered after 2 attempts, audited,
            # and the session's next message is answered.
            with pytest.raises(TurnFailed) as failed:
                await session.asend("poison")
            assert failed.value.dead_lettered
            assert failed.value.type == "RuntimeError"
            assert (await session.asend("then")).text == "answer to then"

            history = await session.ahistory()
            asked = [m.text for m in history if isinstance(m, HumanMessage)]
            assert asked[:2] == ["hello", "tokens please"]
            assert sorted(asked[2:7]) == texts
            assert asked[-2:] == ["poison", "then"]
            answered = [m.text for m in history if isinstance(m, AIMessage)]
            assert answered == [f"answer to {t}" for t in asked if t != "poison"]
            trail = await sessions.aaudit(session.id, "alice")
            dead = [e for e in trail if e.kind == "dead_letter"]
            assert [e.details["attempts"] for e in dead] == [2]
            assert dead_letters(fleet) == 1
    finally:
        workers.stop()


async def test_sigkilled_workers_lose_and_duplicate_nothing(db: str, tmp_path: Path) -> None:
    fleet = broker(attempts=10)
    workers = Workers(
        "tests/scale_team.py:team", db, fleet, tmp_path, lease_ttl=1.5, concurrency=50
    )
    workers.start(3)
    turns, users = 3, 6
    try:
        async with Sessions(team(), db=db, broker=fleet) as sessions:
            opened = [await sessions.aopen("alice") for _ in range(users)]
            acknowledged: list[tuple[str, int]] = []

            async def converse(index: int) -> None:
                session = opened[index]
                for k in range(turns):
                    await session.asend(f"question {k}", message_id=f"{session.id}-m{k}")
                    acknowledged.append((session.id, k))

            async def killer() -> None:
                # Two of the three workers SIGKILLed at random moments mid-conversation.
                rng = random.Random(15)
                for _ in range(2):
                    await asyncio.sleep(rng.uniform(0.3, 1.5))
                    workers.kill(rng.choice(workers.running))

            await asyncio.wait_for(
                asyncio.gather(*(converse(i) for i in range(users)), killer()), 150
            )
            assert len(acknowledged) == users * turns
            recovered = 0
            for session in opened:
                history = await session.ahistory()
                ids = [m.id for m in history if isinstance(m, HumanMessage)]
                assert ids == [f"{session.id}-m{k}" for k in range(turns)]  # once, in order
                # Each turn added the same replies once: no step's output twice.
                segments = _turns(history)
                assert len(set(segments)) == 1, segments
                assert segments[0] > 0
                trail = await sessions.aaudit(session.id, "alice")
                kinds = [e.kind for e in trail]
                recovered += kinds.count("redelivered")
                assert kinds.count("message_in") >= turns
                for k in range(turns):
                    await _each_event_once(fleet, turn_key(session.id, f"{session.id}-m{k}"))
            assert recovered >= 1, "no turn was caught by a kill: the test proved nothing"
    finally:
        workers.stop()
        clean(fleet)


async def test_a_worker_sigkilled_inside_a_step_resumes_from_its_checkpoint_elsewhere(
    db: str, fleet: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The random kills above may land anywhere; this one lands, every run, inside a graph
    step: the last voter's model call, after the two others answered and their writes were
    checkpointed. The other worker takes the redelivered turn and runs only that voter again."""
    gate = tmp_path / "gate"
    gate.mkdir()
    monkeypatch.setenv("ACCORD_TEST_GATE", str(gate))
    workers = Workers("tests/scale_team.py:gated", db, fleet, tmp_path, lease_ttl=1.5)
    workers.start(2)
    try:
        async with Sessions(gated(), db=db, broker=fleet) as sessions:
            session = await sessions.aopen("alice")
            sent = asyncio.create_task(session.asend("question", message_id="m1"))
            entered = gate / "entered"
            await until(lambda: entered.exists() and entered.read_text(), "the gate", 60)

            async def answered_but_the_last() -> bool:
                state = await sessions.graph.aget_state({"configurable": {"thread_id": session.id}})
                done = {task.name: task.result is not None for task in state.tasks}
                return done == {"credit": True, "market": True, "compliance": False}

            await until(answered_but_the_last, "the first two votes checkpointed", 30)
            [victim] = [p for p in workers.running if p.pid == int(entered.read_text())]
            workers.kill(victim)  # inside the compliance voter's step

            reply = await asyncio.wait_for(sent, 60)
            assert reply.text
            assert sorted((gate / "calls").read_text().split()) == [
                "compliance",
                "compliance",  # the killed call, and the redelivered turn's
                "credit",
                "market",
            ]
            await _each_event_once(fleet, turn_key(session.id, "m1"))
            # Not stuck: the session's next message is answered, by the surviving worker.
            assert (await session.asend("next", message_id="m2")).text
            history = await session.ahistory()
            assert [m.id for m in history if isinstance(m, HumanMessage)] == ["m1", "m2"]
            segments = _turns(history)
            assert segments[0] == segments[1] > 0, segments  # no reply of m1 twice
            trail = await sessions.aaudit(session.id, "alice")
            # The trail shows the recovery: the arrival again on the second delivery (each
            # delivery records it with its lease), the run finished from its checkpoint, and
            # one reply per message.
            kinds = [e.kind for e in trail if e.kind != "step"]
            assert kinds == [
                "opened",
                "message_in",
                "redelivered",
                "message_in",
                "recovered",
                "message_out",
                "message_in",
                "message_out",
            ]
            redelivered = next(e for e in trail if e.kind == "redelivered")
            assert redelivered.details == {"message_id": "m1", "attempt": 2}
    finally:
        workers.stop()


async def test_an_unreachable_service_is_named_and_nothing_is_enqueued(
    db: str, fleet: Broker
) -> None:
    no_broker = Broker("amqp://guest:guest@127.0.0.1:1//", redis=fleet.redis, prefix=fleet.prefix)
    async with Sessions(single(), db=db, broker=no_broker) as sessions:
        session = await sessions.aopen("alice")
        with pytest.raises(ServiceUnavailable, match="rabbitmq-server") as down:
            await session.asend("hello", message_id="m1")
        assert down.value.service == "broker"
    no_redis = Broker(fleet.url, redis="redis://127.0.0.1:1/0", prefix=fleet.prefix)
    async with Sessions(single(), db=db, broker=no_redis) as sessions:
        session = await sessions.aopen("alice")
        with pytest.raises(ServiceUnavailable, match="redis-server") as down:
            await session.asend("hello")
        assert down.value.service == "redis"
    # The failed send left no claim behind: with the services up it is queued after all.
    workers_free = Broker(fleet.url, redis=fleet.redis, prefix=fleet.prefix)
    async with Sessions(single(), db=db, broker=workers_free) as sessions:
        remote = sessions.remote
        assert remote is not None
        assert await remote.channel.claim("m1", "any session")


async def _each_event_once(fleet: Broker, turn: str) -> None:
    """What a reader of the turn's stream holds has every event once, however many
    deliveries wrote it (tokens aside: the same text may stream twice)."""
    channel = Channel(fleet.redis, prefix=fleet.prefix)
    try:
        held = [encode(entry) for entry in kept(await channel.streamed(turn))]
    finally:
        await channel.aclose()
    events = [entry for entry in held if '"kind": "token"' not in entry]
    assert len(events) == len(set(events)), events
    assert sum('"kind": "done"' in entry for entry in events) == 1


def _turns(history: Sequence[object]) -> list[int]:
    """How many messages followed each user message."""
    counts: list[int] = []
    for message in history:
        if isinstance(message, HumanMessage):
            counts.append(0)
        elif counts:
            counts[-1] += 1
    return counts


def test_without_the_scale_extra_a_broker_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "celery", None)  # as if not installed
    with pytest.raises(ScaleNotInstalled, match=r"pip install 'accord\[scale\]'"):
        Sessions(single(), db=f"sqlite:///{tmp_path / 's.db'}", broker="amqp://127.0.0.1//")
