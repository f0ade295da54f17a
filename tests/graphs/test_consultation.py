"""The consultation pattern on scripted models: whom to ask, confidences, synthesis, failures."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from support import Runner, scripted, thread, topology

from accord.agents import Agent, AgentSpecError, ScriptedModel
from accord.graphs import Sessions, TokenEvent, consultation


def _opinion(answer: str, confidence: float) -> dict[str, Any]:
    return {"answer": answer, "confidence": confidence, "rationale": "because"}


def _model(agent: Agent) -> ScriptedModel:
    model = agent.models[0]
    assert isinstance(model, ScriptedModel)
    return model


async def test_specialists_answer_in_parallel_and_are_weighted(run: Runner) -> None:
    gp = scripted(
        "gp",
        {"consult": ["cardio", "derm"], "question": "Is this rash cardiac?"},
        {"reply": "Most likely a skin matter."},
    )
    cardio, derm = (
        scripted("cardio", _opinion("Unlikely", 0.3)),
        scripted("derm", _opinion("Eczema", 0.9)),
    )
    graph = consultation(gp, [cardio, derm], checkpointer=InMemorySaver())

    state = await run(
        graph, {"messages": [HumanMessage("I have a rash and palpitations")]}, thread()
    )

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
    gp = scripted("gp", {"consult": ["derm"], "question": "What is it?"}, {"reply": "Unsure."})
    derm = scripted("derm", _opinion("Maybe eczema", 0.2))
    graph = consultation(gp, [derm], low_confidence=0.5, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("rash")]}, thread())

    assert state["confidence"] == pytest.approx(0.2)
    assert state["low_confidence"] is True


async def test_a_failing_specialist_is_recorded_and_the_others_count() -> None:
    gp = scripted("gp", {"consult": ["a", "b"], "question": "q?"}, {"reply": "From a only."})
    a, b = scripted("a", _opinion("yes", 0.8)), scripted("b", *[AIMessage("??")] * 3)
    graph = consultation(gp, [a, b], checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [HumanMessage("help")]}, thread())

    assert [c["specialist"] for c in state["consultations"]] == ["a"]
    (failure,) = state["failures"]
    assert (failure["agent"], failure["error"], failure["task"]) == ("b", "MalformedOutput", "q?")
    assert "b could not answer (MalformedOutput)" in _model(gp).calls[1].messages[0].text
    assert state["confidence"] == pytest.approx(0.8)


async def test_answering_alone_skips_the_specialists() -> None:
    gp = scripted("gp", {"consult": [], "question": ""}, {"reply": "Easy one."})
    derm = scripted("derm")
    graph = consultation(gp, [derm], checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread())

    assert state["consultations"] == []
    assert state["confidence"] == 0.0
    assert state["low_confidence"] is True
    assert _model(derm).calls == []


def test_topology() -> None:
    graph = consultation(scripted("gp"), [scripted("a"), scripted("b")])
    assert topology(graph) == MERMAID


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
        consultation(scripted("gp"), [scripted(n) for n in specialists], **options)


MERMAID = """\
__start__([<p>__start__</p>]):::first
gp(gp)
a(a)
b(b)
synthesis(synthesis)
__end__([<p>__end__</p>]):::last
__start__ --> gp;
a --> synthesis;
b --> synthesis;
gp -.-> a;
gp -.-> b;
gp -.-> synthesis;
synthesis --> __end__;"""


async def test_the_synthesis_streams_under_the_primary_agents_name(db: str) -> None:
    # Issue 12: `accord run tech_support` piped showed the speaker as "synthesis:".
    gp = scripted("gp", {"consult": ["derm"], "question": "What is it?"}, {"reply": "Eczema."})
    derm = scripted("derm", _opinion("Eczema", 0.9))
    async with Sessions(consultation(gp, [derm]), db=db) as sessions:
        session = await sessions.aopen("alice")
        streamed = [event async for event in session.astream("I have a rash")]

    speakers = {event.agent for event in streamed if isinstance(event, TokenEvent)}
    assert speakers == {"gp"}
