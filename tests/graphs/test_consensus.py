"""The consensus pattern on scripted models: votes, weights, quorum, ties, dissent, failures."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from support import Runner, assert_exhausted, scripted, thread, topology

from accord.agents import AgentSpecError
from accord.graphs import consensus
from accord.graphs.patterns.consensus import Vote, decide


def _vote(choice: str, confidence: float) -> dict[str, Any]:
    return {"choice": choice, "confidence": confidence, "rationale": f"I say {choice}."}


async def test_weighted_majority_decides_and_dissent_is_kept(run: Runner) -> None:
    a, b, c = (
        scripted("a", _vote("yes", 0.9)),
        scripted("b", _vote("no", 0.6)),
        scripted("c", _vote("no", 0.8)),
    )
    graph = consensus(
        [a, b, c], options=["yes", "no"], weights={"a": 3}, checkpointer=InMemorySaver()
    )

    state = await run(graph, {"messages": [HumanMessage("Ship the release?")]}, thread())

    outcome = state["outcome"]
    assert outcome["decision"] == "yes"
    assert outcome["tally"] == {"yes": 3.0, "no": 2.0}
    assert outcome["confidence"] == pytest.approx(3 * 0.9 / 5)
    assert [v["agent"] for v in outcome["dissent"]] == ["b", "c"]
    assert outcome["voters"] == 3
    assert state["failures"] == []
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    assert last.name == "tally"
    assert last.text.startswith("Decision: yes")
    # Every voter saw the question and was told the options.
    (call,) = b.models[0].calls  # type: ignore[union-attr]
    assert "Choose exactly one of: yes, no." in call.messages[0].text
    assert call.messages[-1].text == "Ship the release?"
    assert_exhausted(a, b, c)


async def test_malformed_vote_is_recorded_and_no_quorum_is_an_outcome(run: Runner) -> None:
    garbled = [AIMessage("I am not sure.")] * 3  # the first answer and two re-asks
    a, b, c = (
        scripted("a", _vote("yes", 0.9)),
        scripted("b", *garbled),
        scripted("c", _vote("no", 1)),
    )
    graph = consensus([a, b, c], options=["yes", "no"], quorum=3, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("Ship it?")]}, thread())

    outcome = state["outcome"]
    assert outcome["decision"] is None
    assert outcome["reason"] == "no quorum: 2 of 3 agents voted, 3 needed"
    assert outcome["confidence"] == 0.0
    (failure,) = state["failures"]
    assert failure["agent"] == "b"
    assert failure["error"] == "MalformedOutput"
    assert failure["task"] == "vote on: Ship it?"
    assert failure["attempts"] == 1
    assert state["messages"][-1].text.startswith("No decision: no quorum")
    assert_exhausted(a, b, c)


async def test_free_votes_for_the_same_text_are_tallied_together() -> None:
    a, b = scripted("a", _vote("Paris ", 0.8)), scripted("b", _vote("Paris", 0.6))
    c = scripted("c", _vote("Lyon", 0.9))
    graph = consensus([a, b, c], checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [HumanMessage("Where do we meet?")]}, thread())

    assert state["outcome"]["tally"] == {"Paris": 2.0, "Lyon": 1.0}
    assert state["outcome"]["decision"] == "Paris"


async def test_each_message_is_a_new_round() -> None:
    a = scripted("a", _vote("yes", 0.9), _vote("no", 0.7))
    graph = consensus([a], options=["yes", "no"], checkpointer=InMemorySaver())

    await graph.ainvoke({"messages": [HumanMessage("first?")]}, thread())
    state = await graph.ainvoke({"messages": [HumanMessage("second?")]}, thread())

    assert [v["choice"] for v in state["votes"]] == ["no"]
    assert state["outcome"]["decision"] == "no"


def _votes(*cast: tuple[str, str, float]) -> list[Vote]:
    return [
        {"agent": a, "choice": c, "confidence": conf, "rationale": "", "weight": 1.0}
        for a, c, conf in cast
    ]


@pytest.mark.parametrize(
    ("tie_break", "decision"),
    [("confidence", "no"), ("first", "yes"), ("none", None), ("b", "no"), ("a", "yes")],
)
def test_tie_breaks(tie_break: str, decision: str | None) -> None:
    votes = _votes(("a", "yes", 0.5), ("b", "no", 0.9))
    outcome = decide(votes, ["a", "b"], ("yes", "no"), 1, tie_break)
    assert outcome["decision"] == decision
    assert "tie between 'yes', 'no'" in outcome["reason"]


def test_tie_in_confidence_too_is_no_decision() -> None:
    outcome = decide(_votes(("a", "yes", 0.5), ("b", "no", 0.5)), ["a", "b"], None, 2, "confidence")
    assert outcome["decision"] is None
    assert len(outcome["dissent"]) == 2


def test_topology() -> None:
    graph = consensus([scripted("a"), scripted("b")])
    assert topology(graph) == MERMAID


@pytest.mark.parametrize(
    ("names", "options", "message"),
    [
        (["a", "b"], {"quorum": 3}, r"quorum must be between 1 and the panel size \(2\), got 3"),
        (["a"], {"quorum": 0}, "quorum must be between 1"),
        (["a", "b"], {"weights": {"ghost": 2}}, "weights names 'ghost', which is not in the panel"),
        (["a"], {"weights": {"a": -1}}, "weight of 'a' must be positive"),
        (["a"], {"tie_break": "coin"}, "tie_break must be"),
        (["a"], {"options": ["x", "x"]}, "options must be distinct"),
        (["a", "tally"], {}, "named 'tally', which this pattern uses"),
        (["a", "a"], {}, "two agents are named 'a'"),
        ([], {}, "at least one Agent"),
    ],
)
def test_bad_panels_get_a_clear_error(names: list[str], options: Any, message: str) -> None:
    with pytest.raises(AgentSpecError, match=message):
        consensus([scripted(n) for n in names], **options)


MERMAID = """\
__start__([<p>__start__</p>]):::first
ballot(ballot)
a(a)
b(b)
tally(tally)
__end__([<p>__end__</p>]):::last
__start__ --> ballot;
a --> tally;
b --> tally;
ballot -.-> a;
ballot -.-> b;
tally --> __end__;"""
