"""One writer per session: concurrent sends never interleave; dead holders are taken over."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from support import scripted

from accord.graphs import Sessions, handoff
from accord.persistence import LeaseStore, SessionBusy


def _slow(turns: int = 4) -> Any:
    replies = [{"reply": f"answer {i}", "handoff_to": "none"} for i in range(turns)]
    return handoff([scripted("desk", *replies, latency=0.2)])


async def test_a_second_send_fails_fast_while_a_run_holds_the_session(db: str) -> None:
    async with Sessions(_slow(), db=db) as sessions:
        session = await sessions.aopen("alice")
        first = asyncio.create_task(session.asend("first"))
        await asyncio.sleep(0.05)
        with pytest.raises(SessionBusy, match="retry after it is released"):
            await session.asend("second")
        await first
        history = await session.ahistory()
        assert [m.text for m in history] == ["first", "answer 0"]  # the refused one left nothing
        # Once the run is over, the session takes messages again.
        assert (await session.asend("third")).text == "answer 1"


async def test_waiting_sends_run_one_after_another_without_interleaving(db: str) -> None:
    async with Sessions(_slow(), db=db, wait=10) as sessions:
        session = await sessions.aopen("alice")
        replies = await asyncio.gather(*(session.asend(f"message {i}") for i in range(3)))
        history = await session.ahistory()
    assert sorted(r.text for r in replies) == ["answer 0", "answer 1", "answer 2"]
    # Strict alternation: each message is followed by its own answer before the next arrives.
    kinds = [type(m) for m in history]
    assert kinds == [HumanMessage, AIMessage] * 3
    for reply in replies:
        asked = reply.messages[0].text
        index = next(i for i, m in enumerate(history) if m.text == asked)
        assert history[index + 1].text == reply.text


async def test_two_managers_share_the_lease_through_the_database(db: str) -> None:
    async with Sessions(_slow(), db=db) as one, Sessions(_slow(), db=db) as two:
        session = await one.aopen("alice")
        other = await two.aresume(session.id, "alice")
        running = asyncio.create_task(session.asend("first"))
        await asyncio.sleep(0.05)
        with pytest.raises(SessionBusy):
            await other.asend("second")
        await running


async def test_a_lease_left_by_a_dead_process_expires_and_is_taken_over(db: str) -> None:
    async with Sessions(_slow(), db=db, wait=5) as sessions:
        session = await sessions.aopen("alice")
        # A process that took the lease and died: nobody renews or releases it.
        await LeaseStore(sessions.saver).aacquire(session.id, "dead-host:1:x", ttl=0.5)  # type: ignore[arg-type]
        reply = await session.asend("anyone there?")
        assert reply.text == "answer 0"


async def test_a_long_run_keeps_its_lease_by_renewing_it(db: str) -> None:
    graph = handoff([scripted("desk", {"reply": "slow", "handoff_to": "none"}, latency=1.0)])
    async with Sessions(graph, db=db, lease_ttl=0.3) as sessions:
        session = await sessions.aopen("alice")
        running = asyncio.create_task(session.asend("take your time"))
        await asyncio.sleep(0.7)  # twice the ttl: without renewal the lease would be free
        other = await sessions.aresume(session.id, "alice")
        with pytest.raises(SessionBusy):
            await other.asend("me too")
        assert (await running).text == "slow"
