"""Sessions keep a step event per agent step in the audit trail, stamped when it happened."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import scripted

from accord.agents import by_agent, load_steps
from accord.graphs import Sessions, handoff
from accord.graphs.events import AgentEvent
from accord.persistence import AuditTrail, SessionStore, SQLAlchemySaver


def _team() -> Any:
    intake = scripted("intake", {"reply": "Welcome Dana.", "handoff_to": "verification"})
    verification = scripted("verification", {"reply": "Your date of birth?", "handoff_to": "none"})
    return handoff([intake, verification])


async def test_each_agent_step_is_in_the_audit_trail_by_default(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        trail = await sessions.aaudit(session.id, "alice")

    steps = [e for e in trail if e.kind == "step"]
    assert [e.agent for e in steps] == ["intake", "verification"]
    assert all(e.details["ok"] and e.details["end"] >= e.details["start"] for e in steps)
    # What `accord metrics --db` reads: every session the database lists, its steps.
    with SQLAlchemySaver.from_url(db) as saver:
        events = load_steps(AuditTrail(saver), store=SessionStore(saver))
    assert sorted(by_agent(events)) == ["intake", "verification"]


async def test_the_trail_is_in_the_order_things_happened(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        trail = await sessions.aaudit(session.id, "alice")

    assert [(e.kind, e.agent) for e in trail] == [
        ("opened", None),
        ("message_in", None),
        ("step", "intake"),
        ("message_out", "intake"),
        ("handoff", "verification"),
        ("step", "verification"),
        ("message_out", "verification"),
    ]
    moments = [e.at for e in trail]
    assert moments == sorted(moments)
    # Stamped as they happened, not all at the run's end.
    assert trail[3].at < trail[-1].at


async def test_metrics_off_keeps_no_steps(db: str) -> None:
    async with Sessions(_team(), db=db, metrics=False) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        kinds = [e.kind for e in await sessions.aaudit(session.id, "alice")]
    assert "step" not in kinds
    assert "message_out" in kinds


async def test_a_run_writes_its_steps_as_they_end_not_only_at_its_end(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Intake's step is slow (its model takes longer than WRITE_AFTER_S): its events are
    # written once it ends.
    monkeypatch.setattr("accord.graphs.sessions.spend.WRITE_AFTER_S", 0.05)
    reply = {"reply": "Welcome Dana.", "handoff_to": "verification"}
    intake = scripted("intake", reply, latency=0.1)
    stuck = scripted("verification", {"reply": "Never.", "handoff_to": "none"}, latency=60)
    async with Sessions(handoff([intake, stuck]), db=db) as sessions:
        session = await sessions.aopen("alice")
        stream = session.astream("Hi, I'm Dana")
        async for event in stream:
            if event == AgentEvent("verification"):
                break  # the run now waits on verification's model: a kill here loses...
        mid_turn = await sessions.aaudit(session.id, "alice")
        await stream.aclose()
        # Closing the stream stops the run: nothing of it is left running on the loop (a
        # model call or a checkpoint write left to the garbage collector outlived the engine).
        # A write LangGraph had already begun in the background may finish, the model's call
        # (60 s) may not.
        left = asyncio.all_tasks() - {asyncio.current_task()}
        if left:
            await asyncio.wait(left, timeout=5)
        assert all(task.done() for task in left)

    # ... nothing of what intake did: its step, its reply and the handoff are stored.
    kinds = [(e.kind, e.agent) for e in mid_turn]
    assert kinds[-4:] == [
        ("message_in", None),
        ("step", "intake"),
        ("message_out", "intake"),
        ("handoff", "verification"),
    ]
