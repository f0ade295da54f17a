"""The delegation pattern on scripted models: plans, parallel workers, isolated failures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import RetryPolicy
from support import Runner, scripted, thread, topology

from accord.agents import Agent, AgentSpecError, ScriptedModel
from accord.graphs import delegation
from accord.persistence import SQLAlchemySaver

FAST = RetryPolicy(max_attempts=3, initial_interval=0, jitter=False)


def _plan(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"subtasks": [{"worker": w, "task": t} for w, t in pairs]}


def _model(agent: Agent) -> ScriptedModel:
    model = agent.models[0]
    assert isinstance(model, ScriptedModel)
    return model


async def test_workers_results_reach_the_synthesis(run: Runner) -> None:
    boss = scripted(
        "boss", _plan(("flights", "find a flight"), ("hotels", "find a hotel")), {"reply": "Done."}
    )
    flights, hotels = (
        scripted("flights", {"result": "AF12"}),
        scripted("hotels", {"result": "Ritz"}),
    )
    graph = delegation(boss, [flights, hotels], checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("Plan my trip to Paris")]}, thread())

    assert state["plan"] == [
        {"worker": "flights", "task": "find a flight"},
        {"worker": "hotels", "task": "find a hotel"},
    ]
    assert sorted(r["result"] for r in state["results"]) == ["AF12", "Ritz"]
    assert state["failures"] == []
    assert state["messages"][-1] == AIMessage("Done.", name="boss", id=state["messages"][-1].id)
    # Workers got their subtask, not the whole conversation; the synthesis got every result.
    assert _model(flights).calls[0].messages[-1].text == "find a flight"
    synthesis = _model(boss).calls[1].messages[0].text
    assert "flights did 'find a flight': AF12" in synthesis
    assert "hotels did 'find a hotel': Ritz" in synthesis
    for agent in (boss, flights, hotels):
        _model(agent).assert_exhausted()


async def test_a_failing_worker_never_discards_its_siblings(run: Runner) -> None:
    plan = _plan(("a", "part one"), ("b", "part two"), ("c", "part three"))
    boss = scripted("boss", plan, {"reply": "Two of three done."})
    down = ConnectionError("endpoint down")
    a, b, c = (
        scripted("a", {"result": "one"}),
        scripted("b", down, down, down),
        scripted("c", {"result": "three"}),
    )
    graph = delegation(boss, [a, b, c], retry=FAST, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("Do the three parts")]}, thread())

    assert sorted(r["result"] for r in state["results"]) == ["one", "three"]
    assert state["failures"] == [
        {
            "agent": "b",
            "task": "part two",
            "error": "ConnectionError",
            "message": "endpoint down",
            "attempts": 3,
        }
    ]
    assert len(_model(b).calls) == 3  # retried per the policy
    synthesis = _model(boss).calls[1].messages[0].text
    assert "b FAILED 'part two' after 3 attempt(s): ConnectionError: endpoint down" in synthesis
    assert "a did 'part one': one" in synthesis
    assert "c did 'part three': three" in synthesis
    assert state["messages"][-1].text == "Two of three done."
    for agent in (boss, a, b, c):
        _model(agent).assert_exhausted()


async def test_a_retry_that_succeeds_leaves_no_failure() -> None:
    boss = scripted("boss", _plan(("a", "x")), {"reply": "ok"})
    a = scripted("a", ConnectionError("blip"), {"result": "x done"})
    graph = delegation(boss, [a], retry=FAST, checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [HumanMessage("go")]}, thread())

    assert [r["result"] for r in state["results"]] == ["x done"]
    assert state["failures"] == []
    assert len(_model(a).calls) == 2


@pytest.mark.parametrize(
    ("script", "error", "attempts"),
    [
        ([ValueError("bad input")], "ValueError", 1),  # not a transient error: no retry
        ([AIMessage("no JSON here")] * 3, "MalformedOutput", 1),  # re-asked inside the step
    ],
)
async def test_errors_that_are_not_retried_are_recorded(
    script: list[Any], error: str, attempts: int
) -> None:
    boss = scripted("boss", _plan(("a", "x"), ("b", "y")), {"reply": "ok"})
    a, b = scripted("a", *script), scripted("b", {"result": "y done"})
    graph = delegation(boss, [a, b], retry=FAST, checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [HumanMessage("go")]}, thread())

    (failure,) = state["failures"]
    assert (failure["agent"], failure["error"], failure["attempts"]) == ("a", error, attempts)
    assert [r["result"] for r in state["results"]] == ["y done"]
    _model(a).assert_exhausted()


async def test_an_empty_plan_goes_straight_to_the_synthesis(run: Runner) -> None:
    boss = scripted("boss", _plan(), {"reply": "Nothing to delegate."})
    idle = scripted("idle")
    graph = delegation(boss, [idle], checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("hello")]}, thread())

    assert state["plan"] == []
    assert state["messages"][-1].text == "Nothing to delegate."
    assert _model(idle).calls == []


async def test_each_message_gets_a_fresh_plan_and_results() -> None:
    boss = scripted("boss", _plan(("a", "x")), {"reply": "1"}, _plan(("a", "y")), {"reply": "2"})
    a = scripted("a", {"result": "x done"}, ConnectionError("down"))
    graph = delegation(boss, [a], retry=None, checkpointer=InMemorySaver())

    await graph.ainvoke({"messages": [HumanMessage("first")]}, thread())
    state = await graph.ainvoke({"messages": [HumanMessage("second")]}, thread())

    assert state["results"] == []
    assert [f["task"] for f in state["failures"]] == ["y"]


async def test_max_concurrency_bounds_the_workers_of_a_run() -> None:
    boss = scripted("boss", _plan(*[("w", f"part {i}") for i in range(4)]), {"reply": "ok"})
    worker = scripted("w", *[{"result": "done"}] * 4, latency=0.05)
    graph = delegation(boss, [worker], max_concurrency=2, checkpointer=InMemorySaver())

    start = time.perf_counter()
    state = await graph.ainvoke({"messages": [HumanMessage("go")]}, thread())

    assert len(state["results"]) == 4
    assert time.perf_counter() - start >= 0.1  # four 50 ms steps, two at a time


async def test_results_and_failures_survive_a_restart_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.sqlite'}"
    boss = scripted("boss", _plan(("a", "x"), ("b", "y")), {"reply": "ok"})
    a, b = (
        scripted("a", {"result": "x done"}, latency=0.01),
        scripted("b", ValueError("bad")),
    )

    async with SQLAlchemySaver.from_url(url) as saver:
        graph = delegation(boss, [a, b], checkpointer=saver)
        before = await graph.ainvoke(
            {"messages": [HumanMessage("go")]}, thread(), durability="sync"
        )
    async with SQLAlchemySaver.from_url(url) as saver:
        graph = delegation(scripted("boss"), [scripted("a"), scripted("b")], checkpointer=saver)
        restored = (await graph.aget_state(thread())).values

    assert (
        restored["results"]
        == before["results"]
        == [{"worker": "a", "task": "x", "result": "x done"}]
    )
    assert restored["failures"] == before["failures"]
    assert restored["failures"][0]["error"] == "ValueError"


def test_topology() -> None:
    graph = delegation(scripted("boss"), [scripted("a"), scripted("b")])
    assert topology(graph) == MERMAID


@pytest.mark.parametrize(
    ("workers", "options", "message"),
    [
        ([], {}, "at least one worker"),
        (["boss"], {}, "two agents are named 'boss'"),
        (["synthesis"], {}, "an agent is named 'synthesis', which this pattern uses"),
        (["a"], {"max_concurrency": 0}, "must be at least 1"),
        (["a"], {"max_subtasks": 0}, "must be at least 1"),
    ],
)
def test_bad_teams_get_a_clear_error(workers: list[str], options: Any, message: str) -> None:
    with pytest.raises(AgentSpecError, match=message):
        delegation(scripted("boss"), [scripted(n) for n in workers], **options)


def test_unknown_backup_is_refused() -> None:
    worker = Agent(name="a", description="a", models=(ScriptedModel([]),), backup="ghost")
    with pytest.raises(AgentSpecError, match="backup 'ghost', which is not in the team"):
        delegation(scripted("boss"), [worker])


MERMAID = """\
__start__([<p>__start__</p>]):::first
boss(boss)
a(a)
b(b)
synthesis(synthesis)
__end__([<p>__end__</p>]):::last
__start__ --> boss;
a --> synthesis;
b --> synthesis;
boss -.-> a;
boss -.-> b;
boss -.-> synthesis;
synthesis --> __end__;"""
