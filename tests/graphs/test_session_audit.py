"""The audit trail: every reply audited, even one a killed run never recorded; no content.

Issue 14: a run killed after its last checkpoint never wrote `message_out` (144 and 154
missing in the soaks), and handoff events stored the whole reply as their reason.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from support import scripted

from accord.graphs import Sessions, handoff
from accord.persistence import AuditEvent


def _team() -> object:
    intake = scripted(
        "intake",
        {"reply": "Welcome Dana, your secret plan is safe.", "handoff_to": "verification"},
    )
    verification = scripted(
        "verification",
        {"reply": "Your date of birth?", "handoff_to": "none"},
        {"reply": "Thanks, you are verified.", "handoff_to": "none"},
    )
    return handoff([intake, verification])


async def test_a_handoff_is_audited_with_a_short_reason_not_the_reply(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:  # type: ignore[arg-type]
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        trail = await sessions.aaudit(session.id, "alice")
    (handed,) = [e for e in trail if e.kind == "handoff"]
    assert handed.details == {
        "source": "intake",
        "target": "verification",
        "reason": "agent decision",
    }
    assert not any("secret plan" in str(e.details) for e in trail)


async def test_replies_of_a_run_killed_after_its_checkpoint_are_audited(db: str) -> None:
    async with Sessions(_team(), db=db, lease_ttl=5) as sessions:  # type: ignore[arg-type]
        session = await sessions.aopen("alice")
        # A run that died after its last checkpoint and before its end: its lease is left
        # behind (expiring soon), its replies are in the state and not in the trail.
        arrived = AuditEvent(session.id, "message_in", "alice", None, {"message_id": "m1"})
        await sessions.journal.abegin(session.id, "dead:1:run", 0.2, events=[arrived])
        await sessions.graph.ainvoke(
            {"messages": [HumanMessage("Hi, I'm Dana", id="m1")]}, session.config
        )
        await asyncio.sleep(0.3)
        await session.asend("1990-01-01")
        history = await session.ahistory()
        trail = await sessions.aaudit(session.id, "alice")
    replies = [str(m.id) for m in history if isinstance(m, AIMessage)]
    audited = [e.details["message_id"] for e in trail if e.kind == "message_out"]
    assert len(replies) == 3
    assert sorted(audited) == sorted(replies)  # each once
    recovered = [e for e in trail if e.details.get("recovered")]
    assert [e.agent for e in recovered] == ["intake", "verification"]


async def test_lease_holders_name_the_running_process(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the pid at import: a worker forked after the import has its own (issue 14)."""
    monkeypatch.setattr(os, "getpid", lambda: 424242)
    async with Sessions(_team(), db=db) as sessions:  # type: ignore[arg-type]
        session = await sessions.aopen("alice")
        seen: list[str] = []
        async for _ in session.astream("Hi, I'm Dana"):
            lease = await sessions.leases.aholder(session.id)
            if lease is not None:
                seen.append(lease.holder)
    assert seen
    assert all(":424242:" in holder for holder in seen)
