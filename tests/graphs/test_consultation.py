"""The consultation pattern on scripted models: whom to ask, confidences, synthesis, failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from accord.agents import Agent, AgentSpecError, ScriptedModel
from accord.graphs import consultation

# The `run` fixture (tests/graphs/conftest.py) runs a graph by invoke, ainvoke or stream.
Runner = Callable[[Any, dict[str, Any], Any], Awaitable[Any]]


def _agent(name: str, *script: Any) -> Agent:
    return Agent(name=name, description=f"the {name} desk", models=(ScriptedModel(list(script)),))


def _opinion(answer: str, confidence: float) -> dict[str, Any]:
    return {"answer": answer, "confidence": confidence, "rationale": "because"}


def _model(agent: Agent) -> ScriptedModel:
    model = agent.models[0]
    assert isinstance(model, ScriptedModel)
    return model


def _config(thread: str = "t1") -> Any:
    return {"configurable": {"thread_id": thread}}


async def test_specialists_answer_in_parallel_and_are_weighted(run: Runner) -> None:
    gp = _agent(
        "gp",
        {"consult": ["cardio", "derm"], "question": "Is this rash cardiac?"},
        {"reply": "Most likely a skin matter."},
    )
    cardio, derm = (
        _agent("cardio", _opinion("Unlikely", 0.3)),
        _agent("derm", _opinion("Eczema", 0.9)),
    )
    graph = consultation(gp, [cardio, derm], checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [("user", "I have a rash and palpitations")]}, _config())

    assert sorted(c["specialist"] for c in state["consultations"]) == ["cardio", "derm"]
    assert {c["question"] for c in state["consultations"]} == {"Is this rash cardiac?"}
    assert state["confidence"] == pytest.approx((0.3**2 + 0.9**2) / 1.2)
    assert state["low_confidence"] is False
    assert state["messages"][-1] == AIMessage(
        "Most likely a skin matter.", name="gp", id=state["messages"][-1].id
    )
    assert state["active_agent"] == "gp"
    # The specialists were asked the primary's question; the synthesis lists the surest first.
    assert _model(derm).calls[0].messages[-1].text == "Is this rash cardiac?"
    synthesis = _model(gp).calls[1].messages[0].text
    assert synthesis.index("derm (confidence 0.90)") < synthesis.index("cardio (confidence 0.30)")
    for agent in (gp, cardio, derm):
        _model(agent).assert_exhausted()


async def test_low_confidence_is_flagged(run: Runner) -> None:
    gp = _agent("gp", {"consult": ["derm"], "question": "What is it?"}, {"reply": "Unsure."})
    derm = _agent("derm", _opinion("Maybe eczema", 0.2))
    graph = consultation(gp, [derm], low_confidence=0.5, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [("user", "rash")]}, _config())

    assert state["confidence"] == pytest.approx(0.2)
    assert state["low_confidence"] is True


async def test_a_failing_specialist_is_recorded_and_the_others_count() -> None:
    gp = _agent("gp", {"consult": ["a", "b"], "question": "q?"}, {"reply": "From a only."})
    a, b = _agent("a", _opinion("yes", 0.8)), _agent("b", *[AIMessage("??")] * 3)
    graph = consultation(gp, [a, b], checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [("user", "help")]}, _config())

    assert [c["specialist"] for c in state["consultations"]] == ["a"]
    (failure,) = state["failures"]
    assert (failure["agent"], failure["error"], failure["task"]) == ("b", "MalformedOutput", "q?")
    assert "b could not answer (MalformedOutput)" in _model(gp).calls[1].messages[0].text
    assert state["confidence"] == pytest.approx(0.8)


async def test_answering_alone_skips_the_specialists() -> None:
    gp = _agent("gp", {"consult": [], "question": ""}, {"reply": "Easy one."})
    derm = _agent("derm")
    graph = consultation(gp, [derm], checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [("user", "hi")]}, _config())

    assert state["consultations"] == []
    assert state["confidence"] == 0.0
    assert state["low_confidence"] is True
    assert _model(derm).calls == []


def test_topology() -> None:
    graph = consultation(_agent("gp"), [_agent("a"), _agent("b")])
    assert graph.get_graph().draw_mermaid() == MERMAID


@pytest.mark.parametrize(
    ("specialists", "options", "message"),
    [
        ([], {}, "at least one specialist"),
        (["gp"], {}, "two agents are named 'gp'"),
        (["a"], {"low_confidence": 1.5}, "low_confidence must be between 0 and 1"),
    ],
)
def test_bad_teams_get_a_clear_error(specialists: list[str], options: Any, message: str) -> None:
    with pytest.raises(AgentSpecError, match=message):
        consultation(_agent("gp"), [_agent(n) for n in specialists], **options)


MERMAID = """\
---
config:
  flowchart:
    curve: linear
---
graph TD;
\t__start__([<p>__start__</p>]):::first
\tgp(gp)
\ta(a)
\tb(b)
\tsynthesis(synthesis)
\t__end__([<p>__end__</p>]):::last
\t__start__ --> gp;
\ta --> synthesis;
\tb --> synthesis;
\tgp -.-> a;
\tgp -.-> b;
\tgp -.-> synthesis;
\tsynthesis --> __end__;
\tclassDef default fill:#f2f0ff,line-height:1.2
\tclassDef first fill-opacity:0
\tclassDef last fill:#bfb6fc
"""
