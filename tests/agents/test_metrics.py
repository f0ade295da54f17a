"""Reliability metrics: known answers on synthetic events, a real graph run, OTel, Prometheus."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, RetryPolicy, interrupt
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from support import scripted, thread

from accord.agents import (
    MetricsRecorder,
    Reliabilities,
    StepEvent,
    by_agent,
    by_session,
    instrument,
    percentile,
    read_events,
)
from accord.agents.errors import BadEventsFile
from accord.agents.metrics.recorder import EventLog
from accord.agents.metrics.reliability import summarise, write_events
from accord.agents.metrics.step_audit import from_audit
from accord.agents.metrics.telemetry import prometheus_text
from accord.graphs import delegation, routed
from accord.persistence import AuditEvent


def step(start: float, end: float, ok: bool = True, agent: str = "a", session: str = "s1") -> Any:
    return StepEvent(agent, session, start, end, ok, None if ok else "ValueError")


# Up, two failures in a row (one incident) repaired at 30, a failure at 60 repaired at 65.
OUTAGES = [
    step(0, 1),
    step(8, 10, ok=False),
    step(11, 12, ok=False),
    step(25, 30),
    step(59, 60, ok=False),
    step(64, 65),
    step(99, 100),
]


def test_known_answers_over_a_window() -> None:
    figures = summarise(OUTAGES, capacity=4)
    assert (figures.steps, figures.ok, figures.errors) == (7, 4, 3)
    assert figures.window == 100
    assert figures.completion_rate == pytest.approx(4 / 7)
    assert figures.error_rate == pytest.approx(3 / 7)
    assert figures.failures == 2
    assert figures.uptime == pytest.approx(0.75)  # down 10-30 and 60-65
    assert figures.mtbf == pytest.approx(37.5)  # 75 up seconds / 2 failures
    assert figures.mttr == pytest.approx(12.5)  # (20 + 5) / 2
    # Durations 1, 1, 1, 1, 1, 2, 5.
    assert figures.p50 == pytest.approx(1)
    assert figures.p95 == pytest.approx(4.1)
    assert figures.p99 == pytest.approx(4.82)
    assert figures.throughput == pytest.approx(0.07)
    assert figures.load == pytest.approx(0.12)  # 12 busy seconds over 100
    assert figures.utilisation == pytest.approx(0.03)


def test_an_open_incident_is_downtime_not_a_repair() -> None:
    figures = summarise([step(0, 10), step(85, 90, ok=False)], start=0, end=100)
    assert figures.failures == 1
    assert figures.uptime == pytest.approx(0.9)
    assert figures.mtbf == pytest.approx(90)
    assert figures.mttr is None


def test_no_failure_leaves_mtbf_and_mttr_undefined() -> None:
    figures = summarise([step(0, 2), step(2, 4)])
    assert (figures.failures, figures.uptime, figures.mtbf, figures.mttr) == (0, 1.0, None, None)
    assert figures.completion_rate == 1.0


def test_no_events() -> None:
    figures = summarise([])
    assert figures.steps == 0
    assert figures.p50 is None
    assert figures.completion_rate is None


def test_steps_ending_outside_the_window_are_left_out() -> None:
    figures = summarise(OUTAGES, start=50, end=100)
    assert figures.steps == 3
    assert figures.failures == 1
    assert figures.uptime == pytest.approx(0.9)


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4], 0) == 1
    assert percentile([1, 2, 3, 4], 100) == 4
    assert percentile([7], 99) == 7
    assert percentile([], 50) is None


def test_agents_share_a_window_and_sessions_keep_their_own() -> None:
    events = [
        step(0, 5, agent="a", session="s1"),
        step(5, 10, agent="b", session="s1"),
        step(90, 100, agent="a", session="s2", ok=False),
    ]
    agents = by_agent(events, capacities={"a": 2})
    assert list(agents) == ["a", "b"]
    assert agents["a"].window == agents["b"].window == 100
    assert agents["a"].utilisation == pytest.approx(15 / 100 / 2)
    assert agents["b"].throughput == pytest.approx(0.01)
    sessions = by_session([*events, StepEvent("a", None, 0, 1, True)])
    assert list(sessions) == ["s1", "s2"]
    assert (sessions["s1"].window, sessions["s1"].steps) == (10, 2)
    assert (sessions["s2"].window, sessions["s2"].error_rate) == (10, 1.0)


def test_events_round_trip_through_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_events(path, OUTAGES[:3])
    log = EventLog()
    for event in OUTAGES[3:]:
        log.add(event)
    log.dump(path)
    assert read_events(path) == OUTAGES


def test_a_bad_events_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(OUTAGES[0].to_json() + "\n" + '{"agent": "a"}\n')
    with pytest.raises(BadEventsFile, match=r"events.jsonl:2 is not a step event"):
        read_events(path)
    with pytest.raises(BadEventsFile, match="cannot read events"):
        read_events(tmp_path / "missing.jsonl")


def test_the_log_keeps_only_the_newest_events() -> None:
    log = EventLog(size=2)
    for event in OUTAGES[:3]:
        log.add(event)
    assert log.snapshot() == OUTAGES[1:3]


FAST = RetryPolicy(max_attempts=2, initial_interval=0, jitter=False)


def _project() -> Any:
    plan = {"subtasks": [{"worker": "a", "task": "one"}, {"worker": "b", "task": "two"}]}
    down = ConnectionError("endpoint down")
    boss = scripted("boss", plan, {"reply": "Half done."})
    workers = [scripted("a", {"result": "ok"}), scripted("b", down, down)]
    return delegation(boss, workers, retry=FAST, checkpointer=InMemorySaver())


@pytest.mark.parametrize("sync", [True, False], ids=["invoke", "ainvoke"])
async def test_a_real_graph_run_gives_per_agent_counts(sync: bool) -> None:
    recorder = MetricsRecorder()
    for session in ("s1", "s2"):
        config = {**thread(session), "callbacks": [recorder]}
        payload = {"messages": [HumanMessage("Do both parts")]}
        if sync:  # parallel workers run on a thread pool: callbacks come from its threads
            _project().invoke(payload, config)
        else:
            await _project().ainvoke(payload, config)

    events = recorder.log.snapshot()
    assert {e.session for e in events} == {"s1", "s2"}
    agents = by_agent(events)
    counts = {name: (f.ok, f.errors) for name, f in agents.items()}
    assert counts == {"a": (2, 0), "b": (0, 2), "boss": (2, 0), "synthesis": (2, 0)}
    assert agents["b"].completion_rate == 0.0
    assert agents["b"].uptime < 1.0
    assert {e.error for e in events if not e.ok} == {"ConnectionError"}
    sessions = by_session(events)
    assert {name: (f.steps, f.errors) for name, f in sessions.items()} == {
        "s1": (4, 1),
        "s2": (4, 1),
    }


async def test_a_step_that_raises_is_an_error_and_only_named_agents_count() -> None:
    broken = scripted("broken", ValueError("bad model"))
    fine = scripted("fine")
    graph = routed([fine, broken], router=lambda state: "broken")
    recorder = MetricsRecorder(agents={"broken"})
    with pytest.raises(ValueError, match="bad model"):
        graph.invoke({"messages": [HumanMessage("hi")]}, {**thread("s9"), "callbacks": [recorder]})
    (event,) = recorder.log.snapshot()
    assert (event.agent, event.session, event.ok, event.error) == (
        "broken",
        "s9",
        False,
        "ValueError",
    )
    assert event.end >= event.start


def _source() -> Reliabilities:
    log = EventLog()
    for event in [*OUTAGES, step(40, 50, agent="b", session="s2")]:
        log.add(event)
    return Reliabilities(log, capacities={"a": 4}, clock=lambda: 100.0)


def test_opentelemetry_instruments_report_the_same_figures() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrument(_source(), provider.get_meter("test"))
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, tuple(sorted((point.attributes or {}).items())))
                    points[key] = point.value  # type: ignore[union-attr]
    provider.shutdown()
    assert points["accord.agent.mtbf", (("agent", "a"),)] == pytest.approx(37.5)
    assert points["accord.agent.mttr", (("agent", "a"),)] == pytest.approx(12.5)
    assert points["accord.agent.uptime", (("agent", "a"),)] == pytest.approx(0.75)
    assert points["accord.agent.utilisation", (("agent", "a"),)] == pytest.approx(0.03)
    assert points["accord.agent.response_time", (("agent", "a"), ("quantile", "0.95"))] == (
        pytest.approx(4.1)
    )
    assert points["accord.agent.steps", (("agent", "a"), ("outcome", "error"))] == 3
    assert points["accord.agent.steps", (("agent", "b"), ("outcome", "ok"))] == 1
    assert points["accord.session.error_rate", (("session", "s2"),)] == 0.0
    # Undefined figures are left out rather than reported as zero.
    assert ("accord.agent.mtbf", (("agent", "b"),)) not in points


def test_prometheus_exposition_text() -> None:
    text = prometheus_text(_source())
    lines = set(text.splitlines())
    assert 'accord_agent_steps_total{agent="a",outcome="error"} 3.0' in lines
    assert 'accord_agent_mtbf_seconds{agent="a"} 37.5' in lines
    assert 'accord_agent_mttr_seconds{agent="a"} 12.5' in lines
    assert 'accord_agent_uptime{agent="a"} 0.75' in lines
    assert 'accord_agent_response_time_seconds{agent="a",quantile="0.5"} 1.0' in lines
    assert 'accord_session_steps_total{outcome="ok",session="s2"} 1.0' in lines
    assert "# TYPE accord_agent_uptime gauge" in lines
    assert not any(line.startswith('accord_agent_mtbf_seconds{agent="b"}') for line in lines)


class Asked(TypedDict):
    answer: str


async def test_an_interrupted_step_is_not_an_error() -> None:
    def ask(state: Asked) -> dict[str, Any]:
        return {"answer": interrupt("which account?")}

    builder: StateGraph[Any] = StateGraph(Asked)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=InMemorySaver())
    recorder = MetricsRecorder()
    config: RunnableConfig = {**thread("s1"), "callbacks": [recorder]}

    await graph.ainvoke({"answer": ""}, config)
    assert recorder.log.snapshot() == []
    assert await graph.ainvoke(Command(resume="savings"), config) == {"answer": "savings"}
    (event,) = recorder.log.snapshot()
    assert (event.agent, event.ok) == ("ask", True)


def test_steps_round_trip_through_audit_events() -> None:
    events = [OUTAGES[1], StepEvent("router", None, 1.5, 2.25, True)]
    audited = [event.to_audit() for event in events]
    assert [(a.session_id, a.kind, a.agent) for a in audited] == [
        ("s1", "step", "a"),
        ("", "step", "router"),
    ]
    assert from_audit([*audited, AuditEvent("s1", "opened")]) == events


async def test_a_cancelled_step_is_not_an_error() -> None:
    slow = scripted("slow", {"reply": "late", "handoff_to": "none"}, latency=30)
    graph = routed([slow], router=lambda state: "slow")
    recorder = MetricsRecorder()
    config: RunnableConfig = {**thread("s1"), "callbacks": [recorder]}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(graph.ainvoke({"messages": [HumanMessage("hi")]}, config), 0.2)
    assert [e.agent for e in recorder.log.snapshot()] == ["router"]
