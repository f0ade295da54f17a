"""Human in the loop: a graph that calls `interrupt()` pauses its session until a person answers.

The pause is in the checkpoint and on the session record, so it outlives the process; the
audit trail says what was asked, who answered and when; a wrong answer changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt

from accord.agents import Agent, AgentSpecError, ScriptedModel
from accord.graphs import NotPaused, Session, SessionPaused, Sessions, events, handoff


def _refund(state: MessagesState) -> dict[str, Any]:
    """A plain LangGraph node that asks a person before it acts."""
    answer = interrupt({"type": "refund", "amount": 120, "question": "Refund 120 EUR?"})
    text = "Refunded 120 EUR." if answer is True else f"No refund ({answer})."
    return {"messages": [AIMessage(text, name="clerk")]}


def _graph() -> Any:
    return (
        StateGraph(MessagesState)
        .add_node("refund", _refund)
        .add_edge(START, "refund")
        .add_edge("refund", END)
    )


def _two_questions(state: MessagesState) -> dict[str, Any]:
    first = interrupt("Which account?")
    second = interrupt("How much?")
    return {"messages": [AIMessage(f"{first}: {second}", name="clerk")]}


async def test_an_interrupt_pauses_the_session_and_the_answer_resumes_it(db: str) -> None:
    async with Sessions(_graph().compile(), db=db) as sessions:
        session = await sessions.aopen("alice")
        seen = [event async for event in session.astream("I want my money back")]
        asked = [e for e in seen if isinstance(e, events.InterruptEvent)]
        assert len(asked) == 1
        assert asked[0].value["question"] == "Refund 120 EUR?"
        assert seen[-1].kind == "done"
        paused = seen[-1].reply  # type: ignore[attr-defined]
        assert paused.paused
        assert paused.interrupts == tuple(asked)
        assert paused.to_dict()["interrupts"] == [{"id": asked[0].id, "value": asked[0].value}]
        assert (await sessions.aget(session.id, "alice")).status == "paused"
        assert await session.apending() == asked

        # A message while the question waits is refused; nothing is added.
        with pytest.raises(SessionPaused, match="aresume_with"):
            await session.asend("Hello?")
        assert len(await session.ahistory()) == 1

        reply = await session.aresume_with(True)
        assert (reply.text, reply.agent, reply.paused) == ("Refunded 120 EUR.", "clerk", False)
        assert (await sessions.aget(session.id, "alice")).status == "open"
        assert await session.apending() == []

        # Not paused any more: an answer is refused with a typed error, nothing changes.
        before = await sessions.aaudit(session.id, "alice")
        with pytest.raises(NotPaused, match="not paused"):
            await session.aresume_with(False)
        assert await sessions.aaudit(session.id, "alice") == before
        assert (await sessions.aget(session.id, "alice")).status == "open"
        trail = await sessions.aaudit(session.id, "alice")

    kinds = [(e.kind, e.actor) for e in trail if e.kind in ("interrupt", "answered")]
    assert kinds == [("interrupt", "alice"), ("answered", "alice")]
    interrupt_event, answered = (e for e in trail if e.kind in ("interrupt", "answered"))
    assert interrupt_event.details == {"interrupt_id": asked[0].id, "type": "refund"}
    assert answered.details == {"interrupt_ids": [asked[0].id], "approved": True}
    assert interrupt_event.at <= answered.at


async def test_the_pause_survives_a_restart_and_another_user_may_answer(db: str) -> None:
    from accord.graphs import Access, Scope

    bob_may = Access(users=frozenset({"bob"}))
    scope = Scope(send=bob_may, read=bob_may, resume=bob_may)
    async with Sessions(_graph().compile(), db=db) as sessions:
        session = await sessions.aopen("alice", scope=scope)
        first = await session.asend("Refund please")
        assert first.paused
    # A new runtime on the same database (another process, after a restart).
    async with Sessions(_graph().compile(), db=db) as again:
        bob = await again.aresume(session.id, "bob")
        assert [q.value["amount"] for q in await bob.apending()] == [120]
        reply = await bob.aresume_with("manager said no")
        trail = await again.aaudit(session.id, "alice")
    assert reply.text == "No refund (manager said no)."
    answered = next(e for e in trail if e.kind == "answered")
    assert answered.actor == "bob"
    assert "approved" not in answered.details


async def test_several_pending_questions_are_answered_by_id(db: str) -> None:
    graph = StateGraph(MessagesState)
    graph.add_node("ask", _two_questions).add_edge(START, "ask").add_edge("ask", END)
    async with Sessions(graph.compile(), db=db) as sessions:
        session = await sessions.aopen("alice")
        first = await session.asend("Pay")
        assert [q.value for q in first.interrupts] == ["Which account?"]
        second = await session.aresume_with("savings")
        assert [q.value for q in second.interrupts] == ["How much?"]
        done = await session.aresume_with("40 EUR")
    assert done.text == "savings: 40 EUR"


def test_the_sync_twins_pause_and_resume(tmp_path: Any) -> None:
    db = f"sqlite:///{tmp_path / 'sync.sqlite'}"
    with Session.open(_graph().compile(), user="alice", db=db) as session:
        kinds = [event.kind for event in session.stream("Refund")]
        assert kinds[-3:] == ["interrupt", "usage", "done"]
        assert [q.value["amount"] for q in session.pending()] == [120]
        streamed = list(session.stream_resume_with(True))
        assert streamed[-1].reply.text == "Refunded 120 EUR."  # type: ignore[attr-defined]
        with pytest.raises(NotPaused):
            session.resume_with(True)


def _teller(refunds: list[dict[str, Any]], *script: Any) -> Any:
    @tool
    def refund(account: str, amount: int) -> str:
        """Refunds an amount to an account."""
        refunds.append({"account": account, "amount": amount})
        return f"refunded {amount} EUR to {account}"

    @tool
    def balance(account: str) -> str:
        """Looks up an account's balance."""
        return f"{account}: 120 EUR"

    model = ScriptedModel(list(script))
    teller = Agent(
        name="teller",
        description="pays refunds",
        models=(model,),
        tools=(balance, refund),
        approve=("refund",),
    )
    return handoff([teller]), model


def _calls(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        "", tool_calls=[{"name": n, "args": a, "id": f"c{i}"} for i, (n, a) in enumerate(calls)]
    )


async def test_an_approved_tool_runs_once_after_a_person_says_yes(db: str) -> None:
    refunds: list[dict[str, Any]] = []
    graph, model = _teller(
        refunds,
        _calls(("balance", {"account": "A1"}), ("refund", {"account": "A1", "amount": 50})),
        AIMessage("done"),
        {"reply": "I refunded 50 EUR to A1.", "handoff_to": "none"},
    )
    async with Sessions(graph, db=db) as sessions:
        session = await sessions.aopen("alice")
        paused = await session.asend("Refund 50 EUR to A1")
        (question,) = paused.interrupts
        assert question.value == {
            "type": "approval",
            "agent": "teller",
            "tool": "refund",
            "args": {"account": "A1", "amount": 50},
        }
        assert refunds == []  # asked before it ran
        reply = await session.aresume_with(True)
        trail = await sessions.aaudit(session.id, "alice")
    assert reply.text == "I refunded 50 EUR to A1."
    assert reply.usage.model_calls == 3  # the budget meter saw the calls made as tasks
    # The model was not asked again on resume (ScriptedModel fails off its script), and the
    # tool ran once.
    assert refunds == [{"account": "A1", "amount": 50}]
    model.assert_exhausted()
    asked = next(e for e in trail if e.kind == "interrupt")
    assert (asked.agent, asked.details["type"], asked.details["tool"]) == (
        "teller",
        "approval",
        "refund",
    )


async def test_a_refused_tool_does_not_run_and_the_model_is_told() -> None:
    refunds: list[dict[str, Any]] = []
    graph, model = _teller(
        refunds,
        _calls(("refund", {"account": "A1", "amount": 5000})),
        AIMessage("done"),
        {"reply": "I cannot refund that; a manager will call you.", "handoff_to": "none"},
    )
    async with Sessions(graph, db="sqlite://") as sessions:
        session = await sessions.aopen("alice")
        assert (await session.asend("Refund 5000 EUR")).paused
        reply = await session.aresume_with({"approved": False, "reason": "over the limit"})
    assert refunds == []
    assert reply.text.startswith("I cannot refund that")
    told = [m for m in model.calls[-1].messages if isinstance(m, ToolMessage)]
    assert "did not approve 'refund': over the limit" in told[0].text


def test_an_approval_pauses_a_sync_run_too(tmp_path: Any) -> None:
    refunds: list[dict[str, Any]] = []
    graph, _ = _teller(
        refunds,
        _calls(("refund", {"account": "B2", "amount": 10})),
        AIMessage("done"),
        {"reply": "Done.", "handoff_to": "none"},
    )
    db = f"sqlite:///{tmp_path / 'approve.sqlite'}"
    with Session.open(graph, user="alice", db=db) as session:
        assert session.send("Refund 10 EUR to B2").paused
        assert session.resume_with(True).text == "Done."
    assert refunds == [{"account": "B2", "amount": 10}]


def test_approve_names_only_the_agents_tools() -> None:
    with pytest.raises(AgentSpecError, match="approve names \\['wire'\\]"):
        Agent(name="teller", description="pays", approve=("wire",))


async def test_an_answer_whose_run_fails_leaves_the_session_open_and_usable(db: str) -> None:
    failures = ["upstream down"]

    def flaky(state: MessagesState) -> dict[str, Any]:
        answer = interrupt("Refund?")
        if failures:
            raise RuntimeError(failures.pop())
        return {"messages": [AIMessage(f"answer: {answer}", name="clerk")]}

    graph = StateGraph(MessagesState).add_node("n", flaky).add_edge(START, "n").add_edge("n", END)
    async with Sessions(graph.compile(), db=db) as sessions:
        session = await sessions.aopen("alice")
        assert (await session.asend("Refund me")).paused
        with pytest.raises(RuntimeError, match="upstream down"):
            await session.aresume_with(True)
        # The answer was taken (LangGraph keeps it): no question waits, the session is open.
        assert (await sessions.aget(session.id, "alice")).status == "open"
        assert await session.apending() == []
        with pytest.raises(NotPaused):
            await session.aresume_with(False)
        errors = [
            e.details for e in await sessions.aaudit(session.id, "alice") if e.kind == "error"
        ]
        assert errors == [{"error": "RuntimeError", "status": "open"}]
        # Usable again: a message runs the graph, which asks anew, and a new answer counts.
        assert (await session.asend("Refund me, please")).paused
        assert (await session.aresume_with(False)).text == "answer: False"
        assert (await sessions.aget(session.id, "alice")).status == "open"
