"""One run's bookkeeping: the record read once under the lease, the final state, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from support import scripted

from accord.graphs import NotAuthorized, Session, SessionClosed, Sessions, User, handoff


def _desk() -> Any:
    noted = {"reply": "Noted.", "handoff_to": "none"}
    return handoff([scripted("desk", noted, noted)])


async def test_the_record_a_run_leaves_is_the_stored_record(db: str) -> None:
    async with Sessions(_desk(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("hello")
        await session.asend("again")
        stored = await sessions.records.aget(session.id)
        left = session.record
        assert (left.usage, left.agent, left.version, left.status) == (
            stored.usage,
            stored.agent,
            stored.version,
            stored.status,
        )
        assert left.usage["model_calls"] == 2


async def test_a_reply_carries_the_final_state(db: str) -> None:
    async with Sessions(_desk(), db=db) as sessions:
        session = await sessions.aopen("alice")
        reply = await session.asend("hello")
        assert reply.values == await session.astate()
        assert reply.values["active_agent"] == "desk"


async def test_a_send_without_access_is_refused_even_while_another_run_holds_the_session(
    db: str,
) -> None:
    async with Sessions(_desk(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await sessions.leases.aacquire(session.id, "another run", 30)
        intruder = Session(sessions, session.record, User("mallory"))
        with pytest.raises(NotAuthorized, match="may not send"):
            await intruder.asend("let me in")
        trail = await sessions.aaudit(session.id, "alice")
        assert [(e.kind, e.actor) for e in trail] == [("opened", "alice"), ("denied", "mallory")]
        assert trail[-1].details == {"action": "send"}


async def test_a_refused_run_writes_nothing_and_gives_the_lease_back(db: str) -> None:
    async with Sessions(_desk(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.aend()
        with pytest.raises(SessionClosed):
            await session.asend("hello?")
        assert await sessions.leases.aholder(session.id) is None
        kinds = [e.kind for e in await sessions.aaudit(session.id, "alice")]
        assert kinds == ["opened", "closed"]
