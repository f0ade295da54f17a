"""Per-step overhead of accord's handoff graph vs the same graph hand-written in plain LangGraph.

Both graphs run the same turn on the same scripted model (no latency, so only framework cost is
measured): the user writes, `intake` hands off to `support`, `support` answers. Each sample is
one turn on a fresh thread with an in-memory checkpointer. Run: `.venv/bin/python bench/overhead.py`
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command
from pydantic import BaseModel

from accord.agents import Agent, ScriptedModel
from accord.graphs import handoff

TURNS = 400
HANDOFF = {"handoff_to": "support", "reply": "Passing you to support."}
ANSWER = {"reply": "Happy to help."}


def _models() -> tuple[ScriptedModel, ScriptedModel]:
    return ScriptedModel([HANDOFF] * TURNS), ScriptedModel([ANSWER] * TURNS)


def accord_graph() -> Any:
    intake_model, support_model = _models()
    team = [
        Agent(name="intake", description="Greets users.", models=(intake_model,)),
        Agent(name="support", description="Answers questions.", models=(support_model,)),
    ]
    return handoff(team, checkpointer=InMemorySaver(), routes={"support": []})


class PlainState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    active_agent: str


class IntakeDecision(BaseModel):
    handoff_to: Literal["support", "none"]
    reply: str


class SupportReply(BaseModel):
    reply: str


def plain_graph() -> Any:
    """What a careful user writes by hand for the same two-agent handoff."""
    intake_model, support_model = _models()
    intake = intake_model.with_structured_output(IntakeDecision, method="json_schema")
    support = support_model.with_structured_output(SupportReply, method="json_schema")

    async def intake_node(state: PlainState) -> Command[str]:
        prompt = [SystemMessage("You are intake."), *state["messages"]]
        decision: Any = await intake.ainvoke(prompt)
        message = AIMessage(content=decision.reply, name="intake")
        if decision.handoff_to == "support":
            return Command(
                goto="support", update={"messages": [message], "active_agent": "support"}
            )
        return Command(goto=END, update={"messages": [message], "active_agent": "intake"})

    async def support_node(state: PlainState) -> dict[str, Any]:
        prompt = [SystemMessage("You are support."), *state["messages"]]
        prompt.append(HumanMessage("(intake has just handed this conversation to you.)"))
        answer: Any = await support.ainvoke(prompt)
        return {"messages": [AIMessage(content=answer.reply, name="support")]}

    builder = StateGraph(PlainState)
    builder.add_node("intake", intake_node, destinations=("support", END))
    builder.add_node("support", support_node)
    builder.add_conditional_edges(
        START, lambda s: s.get("active_agent", "intake"), ["intake", "support"]
    )
    builder.add_edge("support", END)
    return builder.compile(checkpointer=InMemorySaver())


async def _sample(graph: Any, i: int) -> float:
    config = {"configurable": {"thread_id": f"t{i}"}}
    start = time.perf_counter()
    await graph.ainvoke({"messages": [HumanMessage("Hi, I need help.")]}, config)
    return time.perf_counter() - start


async def measure(build: Callable[[], Any]) -> list[float]:
    graph = build()
    return [await _sample(graph, i) for i in range(TURNS)]


async def main() -> None:
    # Interleave rounds so drift in machine load hits both sides alike.
    runs: dict[str, list[float]] = {"accord": [], "plain": []}
    builders: dict[str, Callable[[], Awaitable[list[float]]]] = {
        "accord": lambda: measure(accord_graph),
        "plain": lambda: measure(plain_graph),
    }
    for _ in range(3):
        for name, run in builders.items():
            runs[name].extend(await run())
    accord = statistics.median(runs["accord"]) * 1e3
    plain = statistics.median(runs["plain"]) * 1e3
    print(f"handoff turn (2 agent steps), median of {len(runs['accord'])} turns")
    print(f"{'graph':<8}{'ms/turn':>10}{'ms/step':>10}")
    print(f"{'accord':<8}{accord:>10.3f}{accord / 2:>10.3f}")
    print(f"{'plain':<8}{plain:>10.3f}{plain / 2:>10.3f}")
    print(f"overhead ratio accord/plain: {accord / plain:.3f} (target <= 1.2)")


if __name__ == "__main__":
    asyncio.run(main())
