"""Per-invocation overhead of accord's pattern graphs vs the same graphs hand-written in LangGraph.

Each pair runs the same turn on scripted models with no latency, so only framework cost is
measured; each sample is one turn on a fresh thread with an in-memory checkpointer. The plain
graphs are what a careful user writes by hand: structured output, `Send` fan-out, a join node,
a try/except around each parallel step. Run: `.venv/bin/python bench/patterns.py`
"""

from __future__ import annotations

import asyncio
import operator
import statistics
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal, Protocol, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Send
from pydantic import BaseModel

from accord.agents import Agent, ScriptedModel
from accord.graphs import consensus, consultation, delegation, routed

TURNS = 300
REPLY = {"reply": "Here you are."}
VOTE = {"choice": "yes", "confidence": 0.8, "rationale": "It is ready."}
PLAN = {"subtasks": [{"worker": "w1", "task": "part one"}, {"worker": "w2", "task": "part two"}]}
RESULT = {"result": "done"}
CONSULT = {"consult": ["s1", "s2"], "question": "What do you think?"}
OPINION = {"answer": "Fine.", "confidence": 0.7, "rationale": "Seen it before."}
ROUTE = {"agent": "s1", "reason": "it fits"}


def _model(*turn: dict[str, Any]) -> ScriptedModel:
    return ScriptedModel(list(turn) * TURNS)


def _agent(name: str, *turn: dict[str, Any]) -> Agent:
    return Agent(name=name, description=f"The {name} desk.", models=(_model(*turn),))


# accord ------------------------------------------------------------------------------------


def accord_consensus() -> Any:
    panel = [_agent(n, VOTE) for n in ("v1", "v2", "v3")]
    return consensus(panel, options=["yes", "no"], checkpointer=InMemorySaver())


def accord_delegation() -> Any:
    workers = [_agent("w1", RESULT), _agent("w2", RESULT)]
    return delegation(_agent("boss", PLAN, REPLY), workers, checkpointer=InMemorySaver())


def accord_consultation() -> Any:
    specialists = [_agent("s1", OPINION), _agent("s2", OPINION)]
    return consultation(_agent("gp", CONSULT, REPLY), specialists, checkpointer=InMemorySaver())


def accord_routed() -> Any:
    team = [_agent("s1", REPLY), _agent("s2", REPLY)]
    return routed(team, router=_agent("triage", ROUTE), checkpointer=InMemorySaver())


# hand-written ------------------------------------------------------------------------------


class Plain(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    items: Annotated[list[dict[str, Any]], operator.add]
    failures: Annotated[list[dict[str, Any]], operator.add]
    outcome: dict[str, Any]
    route: str


class Ballot(BaseModel):
    choice: Literal["yes", "no"]
    confidence: float
    rationale: str


class Subtask(BaseModel):
    worker: Literal["w1", "w2"]
    task: str


class Plan(BaseModel):
    subtasks: list[Subtask]


class Work(BaseModel):
    result: str


class Consult(BaseModel):
    consult: list[Literal["s1", "s2"]]
    question: str


class Opinion(BaseModel):
    answer: str
    confidence: float
    rationale: str


class Route(BaseModel):
    agent: Literal["s1", "s2"]
    reason: str


class Answer(BaseModel):
    reply: str


class Node(Protocol):
    """A node function as LangGraph types it: called with the state, by keyword too."""

    def __call__(self, state: Plain) -> Any: ...


def _llm(schema: type[BaseModel], *turn: dict[str, Any]) -> Any:
    return _model(*turn).with_structured_output(schema, method="json_schema")


def _asker(name: str, llm: Any, key: str) -> Node:
    async def node(state: Plain) -> dict[str, Any]:
        try:
            answer = await llm.ainvoke([SystemMessage(f"You are {name}."), *state["messages"]])
        except Exception as exc:  # a failing branch must not abort its siblings
            return {"failures": [{"agent": name, "error": repr(exc)}]}
        return {"items": [{"agent": name, key: answer.model_dump()}]}

    return node


def _fan(builder: StateGraph[Any], names: list[str], join: str, llms: Any) -> None:
    for name, llm in zip(names, llms, strict=True):
        builder.add_node(name, _asker(name, llm, "answer"))
        builder.add_edge(name, join)


def plain_consensus() -> Any:
    names = ["v1", "v2", "v3"]

    def tally(state: Plain) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for item in state["items"]:
            counts[item["answer"]["choice"]] = counts.get(item["answer"]["choice"], 0) + 1
        winner = max(counts, key=counts.__getitem__)
        return {"outcome": {"decision": winner}, "messages": [AIMessage(f"Decision: {winner}")]}

    builder = StateGraph(Plain)
    _fan(builder, names, "tally", [_llm(Ballot, VOTE) for _ in names])
    builder.add_node("tally", tally)
    builder.add_conditional_edges(START, lambda s: [Send(n, s) for n in names], names)
    builder.add_edge("tally", END)
    return builder.compile(checkpointer=InMemorySaver())


def _synthesis(llm: Any) -> Node:
    async def node(state: Plain) -> dict[str, Any]:
        notes = "\n".join(str(i) for i in [*state.get("items", []), *state.get("failures", [])])
        answer = await llm.ainvoke([SystemMessage(notes), *state["messages"]])
        return {"messages": [AIMessage(answer.reply, name="boss")]}

    return node


def _planner(llm: Any, key: str) -> Node:
    async def node(state: Plain) -> Command[Any]:
        answer = await llm.ainvoke([SystemMessage("Plan."), *state["messages"]])
        if key == "subtasks":
            sends = [Send(s.worker, {"messages": [HumanMessage(s.task)]}) for s in answer.subtasks]
        else:
            sends = [Send(s, {"messages": [HumanMessage(answer.question)]}) for s in answer.consult]
        return Command(goto=sends or "synthesis")

    return node


def _two_step(
    schema: type[BaseModel], turn: dict[str, Any], key: str, item: Any, first: Any
) -> Any:
    names = ["w1", "w2"] if key == "subtasks" else ["s1", "s2"]
    builder = StateGraph(Plain)
    builder.add_node("boss", _planner(_llm(schema, first), key), destinations=(*names, "synthesis"))
    _fan(builder, names, "synthesis", [_llm(item, turn) for _ in names])
    builder.add_node("synthesis", _synthesis(_llm(Answer, REPLY)))
    builder.add_edge(START, "boss")
    builder.add_edge("synthesis", END)
    return builder.compile(checkpointer=InMemorySaver())


def plain_delegation() -> Any:
    return _two_step(Plan, RESULT, "subtasks", Work, PLAN)


def plain_consultation() -> Any:
    return _two_step(Consult, OPINION, "consult", Opinion, CONSULT)


def plain_routed() -> Any:
    router = _llm(Route, ROUTE)

    async def route(state: Plain) -> Command[str]:
        choice = await router.ainvoke([SystemMessage("Route."), *state["messages"]])
        return Command(goto=choice.agent, update={"route": choice.agent})

    def answerer(name: str) -> Node:
        llm = _llm(Answer, REPLY)

        async def node(state: Plain) -> dict[str, Any]:
            answer = await llm.ainvoke([SystemMessage(f"You are {name}."), *state["messages"]])
            return {"messages": [AIMessage(answer.reply, name=name)]}

        return node

    builder = StateGraph(Plain)
    builder.add_node("router", route, destinations=("s1", "s2"))
    for name in ("s1", "s2"):
        builder.add_node(name, answerer(name))
        builder.add_edge(name, END)
    builder.add_edge(START, "router")
    return builder.compile(checkpointer=InMemorySaver())


# measurement -------------------------------------------------------------------------------

PAIRS: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
    "consensus": (accord_consensus, plain_consensus),
    "delegation": (accord_delegation, plain_delegation),
    "consultation": (accord_consultation, plain_consultation),
    "routed": (accord_routed, plain_routed),
}


async def measure(build: Callable[[], Any]) -> list[float]:
    graph, samples = build(), []
    for i in range(TURNS):
        config = {"configurable": {"thread_id": f"t{i}"}}
        start = time.perf_counter()
        await graph.ainvoke({"messages": [HumanMessage("Hi, I need help.")]}, config)
        samples.append(time.perf_counter() - start)
    return samples


async def main() -> None:
    print(f"pattern turn on scripted models, median of {3 * TURNS} turns")
    print(f"{'pattern':<14}{'accord ms':>11}{'plain ms':>10}{'ratio':>8}")
    for name, (accord, plain) in PAIRS.items():
        runs: dict[str, list[float]] = {"accord": [], "plain": []}
        for _ in range(3):  # interleaved, so drift in machine load hits both sides alike
            runs["accord"].extend(await measure(accord))
            runs["plain"].extend(await measure(plain))
        ours, theirs = (statistics.median(runs[k]) * 1e3 for k in ("accord", "plain"))
        print(f"{name:<14}{ours:>11.3f}{theirs:>10.3f}{ours / theirs:>8.3f}")
    print("target: ratio <= 1.2")


if __name__ == "__main__":
    asyncio.run(main())
