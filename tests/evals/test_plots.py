"""Plots fit the pattern: decisions for consensus, workers for delegation, routing if routed."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from accord.evals import CaseResult, Check, RunResult, print_report
from accord.evals.plots import decisions, plots, workers
from accord.evals.report import comparison_warnings, html_report, sides
from accord.evals.trace import Trace, trace_of
from accord.graphs import Usage


def _case(case: str, pattern: str, trace: Trace, **fields: Any) -> CaseResult:
    return CaseResult(case, "x", pattern, None, trace, (Check("c", True, ""),), **fields)


def _votes() -> RunResult:
    return RunResult(
        "credit",
        "m",
        "replay",
        (
            _case("1", "consensus", Trace(decision="approve"), expected_decision="approve"),
            _case("2", "consensus", Trace(decision="reject"), expected_decision="refer"),
            _case("3", "consensus", Trace(decision=None), expected_decision="reject"),
            _case("4", "consensus", Trace(), expected_decision="reject", error="E: x"),
        ),
    )


def test_a_consensus_run_gets_a_decision_matrix_and_no_routing_plot() -> None:
    run = _votes()
    assert list(plots(run)) == [
        "Case outcomes per pattern",
        "Latency distribution",
        "Decision confusion matrix",
    ]
    labels, counts = decisions(run)
    assert labels == ["(case error)", "(no quorum)", "approve", "refer", "reject"]
    assert counts[labels.index("reject")] == [1, 1, 0, 0, 0]
    assert counts[labels.index("refer")][labels.index("reject")] == 1
    assert counts[labels.index("approve")][labels.index("approve")] == 1
    # Nothing about routing where nothing was routed: no column, no row, no comparison line.
    page = html_report(run, against=run)
    assert "routed right" not in page
    assert "<th>route</th>" not in page
    assert "<th>decision</th>" in page


def test_a_delegation_run_gets_the_workers_outcomes() -> None:
    state: dict[str, Any] = {
        "plan": [{"worker": "a", "task": "t"}, {"worker": "b", "task": "u"}, {"worker": "c"}],
        "results": [{"worker": "a", "task": "t", "result": "r"}],
        "failures": [{"agent": "b", "task": "u", "error": "E", "message": "m", "attempts": 2}],
    }
    state["plan"][2]["task"] = "v"
    trace = trace_of(state, Usage(), 1.0)
    assert trace.workers == {"a": "done", "b": "failed", "c": "no result"}
    assert Trace.from_dict(trace.to_dict()) == trace
    run = RunResult("project", "m", "replay", (_case("1", "delegation", trace),) * 2)
    assert list(plots(run)) == [
        "Case outcomes per pattern",
        "Latency distribution",
        "Worker outcomes",
    ]
    assert workers(run) == {
        "a": {"done": 2, "failed": 0, "no result": 0},
        "b": {"done": 0, "failed": 2, "no result": 0},
        "c": {"done": 0, "failed": 0, "no result": 2},
    }


def test_counts_are_drawn_on_whole_number_axes(monkeypatch: pytest.MonkeyPatch) -> None:
    import accord.evals.plots as module

    ticks: dict[str, list[float]] = {}
    original = module._png

    def capture(figure: Any) -> bytes:
        axes = figure.axes[0]
        figure.canvas.draw()
        ticks[axes.get_title()] = [t for t in axes.get_yticks() if 0 <= t <= axes.get_ylim()[1]]
        return original(figure)

    monkeypatch.setattr(module, "_png", capture)
    latencies = (1.0, 1.5, 2.0, 7.0)  # one or two cases per bin: matplotlib's ticks were 0.25
    run = RunResult(
        "d",
        "m",
        "replay",
        tuple(_case(str(i), "routed", Trace(latency=s)) for i, s in enumerate(latencies)),
    )
    plots(run)
    assert {"Latency (m)", "Case outcomes (m)"} <= set(ticks)
    for values in (ticks["Latency (m)"], ticks["Case outcomes (m)"]):
        assert values
        assert all(value == int(value) for value in values)


def test_comparing_other_datasets_warns_and_names_both() -> None:
    credit = _votes()
    other = RunResult("finance", "m", "replay", credit.cases)
    warnings = comparison_warnings(credit, other)
    assert warnings == [
        "the runs are of different datasets ('credit' and 'finance'): "
        "their figures do not measure the same cases"
    ]
    assert sides(credit, other) == ("credit: m", "finance: m")
    assert sides(credit, RunResult("credit", "m", "record", ())) == ("m (replayed)", "m (recorded)")
    assert comparison_warnings(credit, credit) == []
    console = Console(record=True, width=200)
    print_report(console, other, against=credit)
    text = console.export_text()
    assert "warning: the runs are of different datasets" in text
    assert "credit: m vs finance: m" in text
