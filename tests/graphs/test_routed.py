"""The routed pattern on scripted models: a model router, a callable router, the decision kept."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from support import Runner, scripted, thread, topology

from accord.agents import Agent, AgentSpecError, ScriptedModel
from accord.graphs import RoutedState, routed


def _model(agent: Agent) -> ScriptedModel:
    model = agent.models[0]
    assert isinstance(model, ScriptedModel)
    return model


async def test_the_model_router_picks_by_description_and_skills(run: Runner) -> None:
    triage = scripted("triage", {"agent": "billing", "reason": "an invoice question"})
    billing = scripted("billing", {"reply": "Your invoice is paid."}, skills=("invoices",))
    tech = scripted("tech", skills=("outages",))
    graph = routed([billing, tech], router=triage, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("Is my invoice paid?")]}, thread())

    assert state["route"] == {"agent": "billing", "reason": "an invoice question", "by": "model"}
    assert state["active_agent"] == "billing"
    assert state["messages"][-1].text == "Your invoice is paid."
    assert state["messages"][-1].name == "billing"
    prompt = _model(triage).calls[0].messages[0].text
    assert "- billing: the billing desk (skills: invoices)" in prompt
    assert "- tech: the tech desk (skills: outages)" in prompt
    for agent in (triage, billing, tech):
        _model(agent).assert_exhausted()


async def test_the_default_router_uses_the_first_agents_models() -> None:
    first = ScriptedModel([{"agent": "tech", "reason": "an outage"}])
    billing = Agent(name="billing", description="Bills.", models=(first,))
    tech = scripted("tech", {"reply": "Rebooting."})
    graph = routed([billing, tech], checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [HumanMessage("The site is down")]}, thread())

    assert state["route"]["agent"] == "tech"
    assert state["messages"][-1].text == "Rebooting."
    assert "Choose who should answer" in first.calls[0].messages[0].text
    first.assert_exhausted()
    _model(tech).assert_exhausted()


async def test_a_callable_router_asks_no_model(run: Runner) -> None:
    billing, tech = scripted("billing"), scripted("tech", {"reply": "Looking into it."})

    def by_keyword(state: RoutedState) -> str:
        return "tech" if "down" in state["messages"][-1].text else "billing"

    graph = routed([billing, tech], router=by_keyword, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("The site is down")]}, thread())

    assert state["route"] == {
        "agent": "tech",
        "reason": "chosen by the router callable",
        "by": "callable",
    }
    assert state["messages"][-1].text == "Looking into it."
    _model(tech).assert_exhausted()


async def test_a_callable_router_naming_a_stranger_is_refused() -> None:
    graph = routed([scripted("billing")], router=lambda _: "ghost", checkpointer=InMemorySaver())
    with pytest.raises(AgentSpecError, match="the router chose 'ghost'"):
        await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread())


def test_topology() -> None:
    graph = routed([scripted("billing"), scripted("tech")])
    assert topology(graph) == MERMAID


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(AgentSpecError, match="two agents are named 'a'"):
        routed([scripted("a"), scripted("a")])


MERMAID = """\
__start__([<p>__start__</p>]):::first
router(router)
billing(billing)
tech(tech)
__end__([<p>__end__</p>]):::last
__start__ --> router;
billing -.-> __end__;
router -.-> billing;
router -.-> tech;
tech -.-> __end__;"""
