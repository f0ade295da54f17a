"""Metrics of a run, per pattern and agent, and two runs compared."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accord.agents import percentile
from accord.evals import Check, RunResult, compare, scores
from accord.evals.scores import changed_cases, score


def test_percentile_interpolates() -> None:
    assert score([]).latency_p50 == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 95) == pytest.approx(1.95)


def test_overall_scores(run: RunResult) -> None:
    overall = score(run.cases)
    assert overall.cases == 4
    assert overall.completion_rate == 0.75
    assert overall.error_rate == 0.25
    assert overall.pass_rate == 0.5
    assert overall.routing_accuracy == pytest.approx(2 / 3)
    assert overall.latency_p50 == 2.0
    assert overall.latency_p95 == pytest.approx(2.9)
    assert overall.tokens == 200.0
    assert overall.steps == 2.0
    assert overall.calls == 1.0


def test_scores_per_pattern_and_expected_agent(run: RunResult) -> None:
    result_ = scores(run)
    assert list(result_.per_pattern) == ["consensus", "routed"]
    assert result_.per_pattern["consensus"].error_rate == 1.0
    assert result_.per_pattern["consensus"].routing_accuracy is None
    assert result_.per_agent["fraud"].routing_accuracy == 0.5
    assert result_.per_agent["liquidity"].routing_accuracy == 1.0
    assert set(result_.to_dict()) == {"overall", "per_pattern", "per_agent"}


def test_compare_lists_each_metric_with_its_change(run: RunResult) -> None:
    wrong = run.cases[1]
    fixed = replace(
        wrong, trace=replace(wrong.trace, route="fraud"), checks=(Check("route", True, ""),)
    )
    better = replace(run, label="b", cases=(run.cases[0], fixed, *run.cases[2:]))
    deltas = {d.metric: d for d in compare(run, better)}
    assert deltas["routing_accuracy"].change == pytest.approx(1 / 3)
    assert deltas["pass_rate"].before == 0.5
    assert deltas["pass_rate"].after == 0.75
    assert deltas["tokens"].change == 0.0
    assert changed_cases(run, better) == [("2", False, True)]
    empty = RunResult("d", "c", "replay", ())
    assert {d.metric: d.change for d in compare(empty, run)}["routing_accuracy"] is None
