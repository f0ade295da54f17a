"""The handoff pattern on scripted models: who speaks, who holds the conversation, what is kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from accord.agents import Agent, AgentSpecError, ScriptedModel
from accord.graphs import handoff

Runner = Callable[[CompiledStateGraph[Any, Any, Any, Any], dict[str, Any], Any], Awaitable[Any]]


async def _invoke(graph: Any, payload: dict[str, Any], config: Any) -> Any:
    return graph.invoke(payload, config)


async def _ainvoke(graph: Any, payload: dict[str, Any], config: Any) -> Any:
    return await graph.ainvoke(payload, config)


async def _stream(graph: Any, payload: dict[str, Any], config: Any) -> Any:
    async for _ in graph.astream(payload, config, stream_mode="updates"):
        pass
    return graph.get_state(config).values


@pytest.fixture(params=[_invoke, _ainvoke, _stream], ids=["invoke", "ainvoke", "stream"])
def run(request: pytest.FixtureRequest) -> Runner:
    runner: Runner = request.param
    return runner


def _agent(name: str, *script: Any, **extra: Any) -> Agent:
    return Agent(
        name=name, description=f"the {name} desk", models=(ScriptedModel(list(script)),), **extra
    )


def _config(thread: str = "t1") -> Any:
    return {"configurable": {"thread_id": thread}}


async def test_handoff_passes_history_and_records_speakers(run: Runner) -> None:
    intake = _agent("intake", {"reply": "Welcome Dana.", "handoff_to": "verification"})
    verification = _agent("verification", {"reply": "Your date of birth?", "handoff_to": "none"})
    graph = handoff([intake, verification], checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [("user", "Hi, I'm Dana")]}, _config())

    messages = state["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, AIMessage]
    assert [m.name for m in messages[1:]] == ["intake", "verification"]
    assert state["active_agent"] == "verification"
    assert state["handoffs"] == [
        {"source": "intake", "target": "verification", "reason": "Welcome Dana."}
    ]
    # The receiver answers the user's message, told who handed over; the prompt ends on the
    # user's turn (teammates' replies of this turn are stated, not replayed).
    (call,) = verification.models[0].calls  # type: ignore[union-attr]
    assert "intake has just handed this conversation to you" in call.messages[0].text
    assert isinstance(call.messages[-1], HumanMessage)
    assert call.messages[-1].text == "Hi, I'm Dana"


async def test_next_message_goes_to_the_agent_holding_the_conversation(run: Runner) -> None:
    intake = _agent("intake", {"reply": "Passing you on.", "handoff_to": "support"})
    support = _agent("support", {"reply": "Hello.", "handoff_to": "none"}, {"reply": "Sure."})
    graph = handoff([intake, support], checkpointer=InMemorySaver(), routes={"support": []})

    await run(graph, {"messages": [("user", "hi")]}, _config())
    state = await run(graph, {"messages": [("user", "a question")]}, _config())

    assert [m.name for m in state["messages"] if isinstance(m, AIMessage)] == [
        "intake",
        "support",
        "support",
    ]
    intake.models[0].assert_exhausted()  # type: ignore[union-attr]
    support.models[0].assert_exhausted()  # type: ignore[union-attr]


async def test_max_hops_stops_agents_passing_the_user_around() -> None:
    ping = _agent("ping", {"reply": "to pong", "handoff_to": "pong"}, {"reply": "done"})
    pong = _agent("pong", {"reply": "to ping", "handoff_to": "ping"})
    graph = handoff([ping, pong], checkpointer=InMemorySaver(), max_hops=3)

    state = await graph.ainvoke({"messages": [("user", "hi")]}, _config())

    assert [m.name for m in state["messages"][1:]] == ["ping", "pong", "ping"]
    assert state["active_agent"] == "ping"


async def test_sessions_on_separate_threads_do_not_share_state() -> None:
    solo = _agent("solo", {"reply": "one"}, {"reply": "two"})
    graph = handoff([solo], checkpointer=InMemorySaver())

    a = await graph.ainvoke({"messages": [("user", "secret-a")]}, _config("a"))
    b = await graph.ainvoke({"messages": [("user", "secret-b")]}, _config("b"))

    assert "secret-a" not in str(b["messages"])
    assert "secret-b" not in str(a["messages"])


def test_topology_is_drawn_from_the_routes() -> None:
    team = [_agent(n) for n in ("intake", "verification", "setup")]
    graph = handoff(team, routes={"intake": ["verification"], "verification": ["setup"]})
    assert graph.get_graph().draw_mermaid() == MERMAID


@pytest.mark.parametrize(
    ("team", "routes", "message"),
    [
        ([], None, "at least one Agent"),
        (["a", "a"], None, "two agents are named 'a'"),
        (["a"], {"a": ["ghost"]}, "'ghost', which is not in the team"),
    ],
)
def test_bad_teams_get_a_clear_error(team: list[str], routes: Any, message: str) -> None:
    with pytest.raises(AgentSpecError, match=message):
        handoff([_agent(n) for n in team], routes=routes)


def test_unknown_backup_is_refused() -> None:
    with pytest.raises(AgentSpecError, match="backup 'ghost', which is not in the team"):
        handoff([_agent("a", backup="ghost")])


MERMAID = """\
---
config:
  flowchart:
    curve: linear
---
graph TD;
\t__start__([<p>__start__</p>]):::first
\tintake(intake)
\tverification(verification)
\tsetup(setup)
\t__end__([<p>__end__</p>]):::last
\t__start__ -.-> intake;
\t__start__ -.-> setup;
\t__start__ -.-> verification;
\tintake -.-> __end__;
\tintake -.-> verification;
\tsetup -.-> __end__;
\tsetup -.-> intake;
\tsetup -.-> verification;
\tverification -.-> __end__;
\tverification -.-> setup;
\tclassDef default fill:#f2f0ff,line-height:1.2
\tclassDef first fill-opacity:0
\tclassDef last fill:#bfb6fc
"""
