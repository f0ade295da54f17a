"""The handoff pattern on scripted models: who speaks, who holds the conversation, what is kept."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.checkpoint.memory import InMemorySaver
from support import Runner, scripted, thread, topology

from accord.agents import AgentSpecError
from accord.graphs import handoff
from accord.graphs.prompts import RULES, TEAM_RULE, system_prompt


async def _ainvoke(graph: Any, payload: dict[str, Any], config: Any) -> Any:
    return await graph.ainvoke(payload, config)


async def test_handoff_passes_history_and_records_speakers(run: Runner) -> None:
    intake = scripted("intake", {"reply": "Welcome Dana.", "handoff_to": "verification"})
    verification = scripted("verification", {"reply": "Your date of birth?", "handoff_to": "none"})
    graph = handoff([intake, verification], checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("Hi, I'm Dana")]}, thread())

    messages = state["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, AIMessage]
    assert [m.name for m in messages[1:]] == ["intake", "verification"]
    assert state["active_agent"] == "verification"
    # The handoff's message keeps what the agent said and names who speaks next.
    said = "Welcome Dana. Verification will take it from here."
    assert messages[1].content == said
    assert state["handoffs"] == [{"source": "intake", "target": "verification", "reason": said}]
    # The receiver answers the user's message, told who handed over; the prompt ends on the
    # user's turn (teammates' replies of this turn are stated, not replayed).
    (call,) = verification.models[0].calls  # type: ignore[union-attr]
    # The note sits just before the user's message: the system prompt stays the same turn
    # after turn, so the server's prompt cache reuses it.
    assert "handed" not in call.messages[0].text
    assert isinstance(call.messages[-2], SystemMessage)
    assert "intake has just handed this conversation to you" in call.messages[-2].text
    assert isinstance(call.messages[-1], HumanMessage)
    assert call.messages[-1].text == "Hi, I'm Dana"


async def test_next_message_goes_to_the_agent_holding_the_conversation(run: Runner) -> None:
    intake = scripted("intake", {"reply": "Passing you on.", "handoff_to": "support"})
    support = scripted("support", {"reply": "Sure."})
    graph = handoff([intake, support], checkpointer=InMemorySaver(), routes={"support": []})

    first = await run(graph, {"messages": [HumanMessage("hi")]}, thread())
    state = await run(graph, {"messages": [HumanMessage("a question")]}, thread())

    # Support hands on to no one: with nothing to ask, it waits for the user's next message
    # instead of answering a message intake already answered (issue 12's demo: "Let me know
    # when it arrives").
    assert [m.content for m in first["messages"][1:]] == [
        "Passing you on. Support will take it from here."
    ]
    assert [m.name for m in state["messages"] if isinstance(m, AIMessage)] == [
        "intake",
        "support",
    ]
    intake.models[0].assert_exhausted()  # type: ignore[union-attr]
    support.models[0].assert_exhausted()  # type: ignore[union-attr]


async def test_max_hops_stops_agents_passing_the_user_around() -> None:
    ping = scripted(
        "ping",
        {"reply": "to pong", "handoff_to": "pong"},
        {"reply": "to pong again"},
    )
    pong = scripted("pong", {"reply": "to ping", "handoff_to": "ping"})
    graph = handoff([ping, pong], checkpointer=InMemorySaver(), max_hops=3)

    state = await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread())

    assert [m.name for m in state["messages"][1:]] == ["ping", "pong", "ping"]
    # The agent at the last hop only replies: a handoff there would leave the user waiting on
    # an agent that speaks only at the next message. Its schema offers no handoff.
    assert state["active_agent"] == "ping"
    assert [h["target"] for h in state["handoffs"]] == ["pong", "ping"]
    last = ping.models[0].calls[-1]  # type: ignore[union-attr]
    assert "handoff_to" not in last.messages[-2].text


async def test_with_one_hop_a_handoff_takes_effect_at_the_next_message() -> None:
    intake = scripted("intake", {"reply": "", "handoff_to": "support"})
    support = scripted("support", {"reply": "Sure.", "handoff_to": "none"})
    graph = handoff([intake, support], checkpointer=InMemorySaver(), max_hops=1)

    first = await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread())
    state = await graph.ainvoke({"messages": [HumanMessage("a question")]}, thread())

    assert first["messages"][-1].content == "Support will take it from here."
    assert [m.name for m in state["messages"] if isinstance(m, AIMessage)] == [
        "intake",
        "support",
    ]


async def test_an_agent_sees_the_same_system_prompt_at_every_hop() -> None:
    # Issue 12: the last hop dropped the teammates from the prompt, so llama.cpp's prompt cache
    # matched 5 tokens of the agent's previous 600-token prompt.
    intake = scripted("intake", {"reply": "Over to support.", "handoff_to": "support"})
    support = scripted(
        "support",
        {"reply": "Hello.", "handoff_to": "none"},
        {"reply": "Sure.", "handoff_to": "none"},
    )
    graph = handoff([intake, support], checkpointer=InMemorySaver(), max_hops=2)

    await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread())
    await graph.ainvoke({"messages": [HumanMessage("a question")]}, thread())

    second_hop, first_hop = support.models[0].calls  # type: ignore[union-attr]
    assert second_hop.messages[0] == first_hop.messages[0]


async def test_sessions_on_separate_threads_do_not_share_state() -> None:
    solo = scripted("solo", {"reply": "one"}, {"reply": "two"})
    graph = handoff([solo], checkpointer=InMemorySaver())

    a = await graph.ainvoke({"messages": [HumanMessage("secret-a")]}, thread("a"))
    b = await graph.ainvoke({"messages": [HumanMessage("secret-b")]}, thread("b"))

    assert "secret-a" not in str(b["messages"])
    assert "secret-b" not in str(a["messages"])


def test_topology_is_drawn_from_the_routes() -> None:
    team = [scripted(n) for n in ("intake", "verification", "setup")]
    graph = handoff(team, routes={"intake": ["verification"], "verification": ["setup"]})
    assert topology(graph) == MERMAID


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
        handoff([scripted(n) for n in team], routes=routes)


def test_unknown_backup_is_refused() -> None:
    with pytest.raises(AgentSpecError, match="backup 'ghost', which is not in the team"):
        handoff([scripted("a", backup="ghost")])


MERMAID = """\
__start__([<p>__start__</p>]):::first
intake(intake)
verification(verification)
setup(setup)
__end__([<p>__end__</p>]):::last
__start__ -.-> intake;
__start__ -.-> setup;
__start__ -.-> verification;
intake -.-> __end__;
intake -.-> verification;
setup -.-> __end__;
setup -.-> intake;
setup -.-> verification;
verification -.-> __end__;
verification -.-> setup;"""


def test_a_routed_specialist_gets_the_reply_rules_of_a_team() -> None:
    # Issue 12: routed specialists kept an older wording (no "straight to the point").
    lone = system_prompt(scripted("solo"), ())
    team = system_prompt(scripted("intake"), (), contract=True)
    assert RULES in lone
    assert RULES in team
    assert TEAM_RULE in team
    assert TEAM_RULE not in lone
