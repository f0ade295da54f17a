"""`Session.arun`: the graph's own input (or a `Command`) as a turn, with LangGraph's stream."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.types import Command
from support import scripted

from accord.graphs import DoneEvent, NotAuthorized, Sessions, handoff
from accord.graphs.events import GraphChunk


def _desk() -> Any:
    noted = {"reply": "Noted.", "handoff_to": "none"}
    return handoff([scripted("desk", noted, noted)])


async def test_the_graphs_own_input_is_an_audited_metered_turn(db: str) -> None:
    async with Sessions(_desk(), db=db) as sessions:
        session = await sessions.aopen("alice")
        said = HumanMessage("hello", id="m-1")
        got = [e async for e in session.arun({"messages": [said]}, modes=["values", "updates"])]
        chunks = [e for e in got if isinstance(e, GraphChunk)]
        assert {c.mode for c in chunks} == {"values", "updates"}
        assert chunks[-1].data["messages"][-1].text == "Noted."
        assert isinstance(got[-1], DoneEvent)
        assert got[-1].reply.text == "Noted."
        trail = await sessions.aaudit(session.id, "alice")
        arrived = [e for e in trail if e.kind == "message_in"]
        assert [e.details["message_id"] for e in arrived] == ["m-1"]
        assert [e.agent for e in trail if e.kind == "message_out"] == ["desk"]
        assert session.usage.model_calls == 1
        # A `Command` goes to the graph as it is (here: a state update, then a node).
        again = HumanMessage("again", id="m-2")
        command = Command(update={"messages": [again]}, goto="desk")
        done = [e async for e in session.arun(command)]
        assert isinstance(done[-1], DoneEvent)
        assert [m.text for m in await session.ahistory()][-2:] == ["again", "Noted."]


async def test_arun_checks_the_scope_like_every_turn(db: str) -> None:
    async with Sessions(_desk(), db=db) as sessions:
        opened = await sessions.aopen("alice")
        stranger = await sessions.aresume(opened.id, "alice")
        stranger.user = type(stranger.user)("mallory")
        with pytest.raises(NotAuthorized):
            async for _ in stranger.arun({"messages": [HumanMessage("hi")]}):
                pass
