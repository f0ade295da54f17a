"""The session runtime: sending, streaming, records, usage, the audit trail, sync twins."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from rated import dana_team as _team

from accord.agents import Agent, MetricsRecorder, ScriptedModel
from accord.graphs import (
    DoneEvent,
    MessageEvent,
    NotAuthorized,
    Session,
    SessionClosed,
    Sessions,
    TokenEvent,
    handoff,
)
from accord.graphs.events import AgentEvent, HandoffEvent, UsageEvent
from accord.persistence import SessionNotFound


async def test_send_returns_the_reply_and_keeps_the_conversation(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        first = await session.asend("Hi, I'm Dana")
        second = await session.asend("1990-01-01")

        assert (first.text, first.agent) == ("Your date of birth?", "verification")
        assert [m.text for m in first.messages] == [
            "Hi, I'm Dana",
            "Welcome Dana. Verification will take it from here.",
            "Your date of birth?",
        ]
        assert second.text == "Thanks, you are verified."
        history = await session.ahistory()
        assert [type(m) for m in history] == [HumanMessage, AIMessage, AIMessage] * 1 + [
            HumanMessage,
            AIMessage,
        ]
        record = await sessions.aget(session.id, "alice")
        assert record.agent == "verification"
        assert record.usage["model_calls"] == 3
        assert record.usage["tokens"] == second.usage.tokens > first.usage.tokens > 0


async def test_stream_yields_typed_events_and_reply_tokens(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        events = [event async for event in session.astream("Hi, I'm Dana")]

    kinds = [event.kind for event in events]
    assert kinds[-2:] == ["usage", "done"]
    tokens = "".join(e.text for e in events if isinstance(e, TokenEvent))
    # A reply that hands the conversation on is shown once decided (it may give way to the
    # receiver's), so only the receiver's streams.
    assert tokens == "Your date of birth?"
    assert (
        HandoffEvent("intake", "verification", "Welcome Dana. Verification will take it from here.")
        in events
    )
    assert AgentEvent("verification") in events
    assert [e.text for e in events if isinstance(e, MessageEvent)] == [
        "Welcome Dana. Verification will take it from here.",
        "Your date of birth?",
    ]
    # The handoff is announced before the receiving agent speaks.
    assert kinds.index("agent") < max(
        i for i, e in enumerate(events) if isinstance(e, TokenEvent) and e.agent == "verification"
    )
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.reply.text == "Your date of birth?"
    assert isinstance(events[-2], UsageEvent)
    assert events[-2].usage == done.reply.usage
    assert done.to_dict()["reply"]["text"] == "Your date of birth?"


async def test_audit_trail_records_the_run(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        trail = [e for e in await sessions.aaudit(session.id, "alice") if e.kind != "step"]

    # In the order things happened: intake's reply goes out before the handoff it carries.
    assert [(e.kind, e.agent) for e in trail] == [
        ("opened", None),
        ("message_in", None),
        ("message_out", "intake"),
        ("handoff", "verification"),
        ("message_out", "verification"),
    ]
    assert all(e.actor == "alice" for e in trail)
    assert trail[1].details["chars"] == len("Hi, I'm Dana")


def test_sync_twins_run_the_same_runtime(db: str) -> None:
    with Session.open(_team(), user="alice", db=db) as session:
        events = list(session.stream("Hi, I'm Dana"))
        reply = session.send("1990-01-01")
        assert isinstance(events[-1], DoneEvent)
        assert reply.text == "Thanks, you are verified."
        assert len(session.history()) == 5
        session_id = session.id

    with Session.resume(_team(), session_id, user="alice", db=db) as again:
        assert [m.text for m in again.history()][-1] == "Thanks, you are verified."


async def test_sync_call_inside_the_running_loop_is_refused(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        await sessions.aopen("alice")
        with pytest.raises(RuntimeError, match="use the async method"):
            sessions.open("alice")


async def test_resume_in_another_manager_continues_the_session(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
    async with Sessions(_team(), db=db) as other:
        again = await other.aresume(session.id, "alice")
        assert again.record.agent == "verification"
        history = await again.ahistory()
        assert history[-1].text == "Your date of birth?"


async def test_unknown_session_is_a_typed_error(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        with pytest.raises(SessionNotFound, match="no session 'nope'"):
            await sessions.aresume("nope", "alice")


async def test_ended_session_takes_no_more_messages(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.aend()
        with pytest.raises(SessionClosed, match="open a new one"):
            await session.asend("hello?")
        assert (await sessions.aget(session.id, "alice")).status == "closed"
        assert (await sessions.alist("alice", status="open")) == []


async def test_empty_message_is_refused_without_touching_the_session(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        with pytest.raises(ValueError, match="non-empty"):
            await session.asend("   ")
        assert await session.ahistory() == []
        # The lease was given back: the next message runs.
        assert (await session.asend("Hi, I'm Dana")).agent == "verification"


def _echo_graph() -> Any:
    def echo(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(f"echo: {state['messages'][-1].text}", name="echo")]}

    builder = StateGraph(MessagesState)
    builder.add_node("echo", echo)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder.compile()


async def test_plain_langgraph_graph_runs_as_a_session(db: str) -> None:
    async with Sessions(_echo_graph(), db=db) as sessions:
        session = await sessions.aopen("alice")
        reply = await session.asend("ping")
    assert (reply.text, reply.agent) == ("echo: ping", "echo")


async def test_message_id_makes_a_resend_idempotent(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        first = await session.asend("Hi, I'm Dana", message_id="m-1")
        again = await session.asend("Hi, I'm Dana", message_id="m-1")
        assert again.text == first.text
        history = await session.ahistory()
        assert [m.id for m in history].count("m-1") == 1
        assert len(history) == 3  # no second run: the scripted models would have failed


async def test_a_resend_gets_that_messages_reply_not_the_latest(db: str) -> None:
    async with Sessions(_echo_graph(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("one", message_id="m-1")
        await session.asend("two", message_id="m-2")
        again = await session.asend("one", message_id="m-1")
    assert again.text == "echo: one"
    assert [m.text for m in again.messages] == ["one", "echo: one"]


async def test_manager_serves_calls_from_another_loop(db: str) -> None:
    sessions = Sessions(_team(), db=db)
    session = await sessions.aopen("alice")

    def elsewhere() -> str:
        return asyncio.run(session.asend("Hi, I'm Dana")).text

    assert await asyncio.to_thread(elsewhere) == "Your date of birth?"
    await sessions.aclose()


async def test_restore_brings_back_an_earlier_state_as_the_new_head(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        before = await session.astate()
        checkpoint = (await sessions.graph.aget_state(session.config)).config
        await session.asend("1990-01-01")
        assert len(await session.ahistory()) == 5

        head = await sessions.arestore(
            session.id, "alice", checkpoint_id=checkpoint["configurable"]["checkpoint_id"]
        )

        assert await session.astate() == before
        assert head["configurable"]["checkpoint_id"] != checkpoint["configurable"]["checkpoint_id"]
        history = [s async for s in sessions.graph.aget_state_history(session.config)]
        assert len(history) > 5  # nothing was deleted
        trail = await sessions.aaudit(session.id, "alice")
        assert trail[-1].kind == "restored"
        assert trail[-1].details["checkpoint_id"] == checkpoint["configurable"]["checkpoint_id"]
        with pytest.raises(NotAuthorized, match="may not restore"):
            await sessions.arestore(session.id, "mallory", checkpoint_id="x")


async def test_callbacks_see_every_run_for_the_reliability_metrics(db: str) -> None:
    recorder = MetricsRecorder()
    async with Sessions(_team(), db=db, callbacks=[recorder]) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
    steps = recorder.log.snapshot()
    assert [(s.agent, s.session, s.ok) for s in steps] == [
        ("intake", session.id, True),
        ("verification", session.id, True),
    ]


def test_a_refused_resume_closes_the_manager_it_made(db: str) -> None:
    with Session.open(_team(), user="alice", db=db) as session:
        session_id = session.id
    # Warnings are errors: a manager left open would leak its connections and fail the test.
    with pytest.raises(NotAuthorized):
        Session.resume(_team(), session_id, user="mallory", db=db)


def test_ctrl_c_in_a_sync_send_ends_the_run_at_once(db: str) -> None:
    """The turn stops with the caller (it went on in the portal's thread, holding the lease,
    so the next message was refused as busy)."""
    slow = ScriptedModel([{"reply": "Noted.", "handoff_to": "none"}], cycle=True, latency=1.0)
    graph = handoff([Agent(name="desk", description="Answers.", models=(slow,))])
    with Session.open(graph, user="alice", db=db) as session:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            session.send("Hi")
        assert session.send("Still there?").text == "Noted."
        said = [m.text for m in session.history() if m.type == "human"]
    assert said[-1] == "Still there?"
