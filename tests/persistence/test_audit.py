"""The audit trail: events come back in the order appended, filtered, and cannot be edited."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC

from accord.persistence import AuditEvent, AuditTrail, SQLAlchemySaver


def _sid() -> str:
    return f"audit-{uuid.uuid4().hex}"


async def test_events_come_back_in_order(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        trail = AuditTrail(saver)
        await trail.aappend(sid, "opened", actor="alice", agent="triage")
        await trail.aappend(sid, "message_in", actor="alice", details={"text": "héllo"})
        trail.append(sid, "handoff", agent="billing", details={"from": "triage"})
        await trail.aappend(sid, "message_out", agent="billing")
        await trail.aappend(_sid(), "opened", actor="bob")  # another session
        events = await trail.aevents(sid)
        assert [e.kind for e in events] == ["opened", "message_in", "handoff", "message_out"]
        assert all(isinstance(e, AuditEvent) and e.session_id == sid for e in events)
        assert events[1].details == {"text": "héllo"}
        assert events[0].actor == "alice"
        assert events[0].agent == "triage"
        assert events[0].at.tzinfo is UTC
        assert [e.at for e in events] == sorted(e.at for e in events)
        ids = [e.id or 0 for e in events]
        assert 0 not in ids
        assert ids == sorted(ids)
        assert trail.events(sid) == events


async def test_filter_by_kind_and_time(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        trail = AuditTrail(saver)
        await trail.aappend(sid, "opened")
        await trail.aappend(sid, "denied", actor="mallory")
        await asyncio.sleep(0.01)
        middle = (await trail.aevents(sid))[-1].at
        await trail.aappend(sid, "budget_hit", details={"tokens": 1000})
        await trail.aappend(sid, "denied", actor="mallory")
        denied = await trail.aevents(sid, kinds=["denied"])
        assert [e.kind for e in denied] == ["denied", "denied"]
        recent = await trail.aevents(sid, since=middle)
        assert [e.kind for e in recent] == ["denied", "budget_hit", "denied"]
        both = trail.events(sid, kinds={"budget_hit", "opened"})
        assert [e.kind for e in both] == ["opened", "budget_hit"]
        assert await trail.aevents(_sid()) == []


async def test_concurrent_appends_are_all_kept(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        trail = AuditTrail(saver)
        await asyncio.gather(
            *(trail.aappend(sid, "message_in", details={"n": n}) for n in range(20))
        )
        events = await trail.aevents(sid)
        assert sorted(e.details["n"] for e in events) == list(range(20))


def test_trail_is_append_only() -> None:
    public = {name for name in dir(AuditTrail) if not name.startswith("_")}
    assert public == {
        "append",
        "aappend",
        "extend",
        "aextend",
        "events",
        "aevents",
        "close",
        "aclose",
    }
