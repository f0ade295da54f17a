"""Helpers the test modules share (on the path through pytest's `pythonpath`; not a fixture)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt

from accord.agents import Agent, Router, ScriptedModel
from accord.agents.routing import CallableFit

Runner = Callable[[Any, dict[str, Any], Any], Awaitable[Any]]
"""Runs a graph on a payload and config, returning the final state values (see `run`)."""


def scripted(name: str, *script: Any, latency: float = 0.0, **fields: Any) -> Agent:
    """An agent called `name` whose only model plays `script` in order."""
    model = ScriptedModel(list(script), latency=latency)
    return Agent(name=name, description=f"the {name} desk", models=(model,), **fields)


def thread(thread_id: str = "t1") -> RunnableConfig:
    """The config of one conversation thread."""
    return {"configurable": {"thread_id": thread_id}}


def assert_exhausted(*agents: Agent) -> None:
    """Fails unless every scripted model of `agents` used its whole script."""
    for agent in agents:
        model = agent.models[0]
        assert isinstance(model, ScriptedModel)
        model.assert_exhausted()


def topology(graph: Any) -> str:
    """The nodes and edges of a graph's Mermaid drawing, without LangGraph's fixed styling."""
    lines = graph.get_graph().draw_mermaid().splitlines()
    return "\n".join(
        line.strip()
        for line in lines
        if line.startswith("\t") and not line.strip().startswith("classDef")
    )


Replay = Callable[[str], Awaitable[Any]]
"""Runs an example on its recorded traffic and returns the final state (`replay_example`)."""


# The first message of the recorded onboarding conversation (tests/app/cassettes/
# serve_onboarding.yaml): the server's replay test and the CLI's both send it.
ONBOARDING_GREETING = (
    "Hello! I'm Ana Silva, I'd like a savings account; I was born on 2 March 1990 and my "
    "passport number is P1234567."
)


def _refund(state: MessagesState) -> dict[str, Any]:
    answer = interrupt({"type": "approval", "agent": "clerk", "tool": "refund", "args": {"eur": 9}})
    return {
        "messages": [AIMessage("Refunded." if answer is True else "Not refunded.", name="clerk")]
    }


def refund_graph() -> Any:
    """A plain LangGraph graph that asks before it refunds."""
    graph = StateGraph(MessagesState).add_node("refund", _refund)
    return graph.add_edge(START, "refund").add_edge("refund", END).compile()


def ranked_desks(
    scores: Mapping[str, float],
    *triage_script: object,
    answers: Mapping[str, Sequence[object]] | None = None,
    examples: int = 4,
) -> tuple[Agent, list[Agent], Router]:
    """A triage agent (on `triage_script`) and one desk per name of `scores`, which a
    scripted fit ranks by those scores; each desk has `examples` example requests and its
    scripted `answers`, if any."""
    triage = scripted("triage", *triage_script)
    desks = [
        scripted(
            name,
            *(answers or {}).get(name, ()),
            skills=(name,),
            examples=[f"{name} example {k}" for k in range(examples)],
        )
        for name in scores
    ]

    def fit(team: Sequence[Agent]) -> CallableFit:
        return CallableFit(team, lambda request, agents: [scores[a.name] for a in agents])

    return triage, desks, Router(desks, strategy="specialization", fit=fit)
