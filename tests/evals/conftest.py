"""Fixtures of the evaluation tests: a run of hand-made results with known metrics."""

from __future__ import annotations

import pytest

from accord.evals import CaseResult, Check, RunResult
from accord.evals.trace import Trace


def _result(
    case: str,
    *,
    pattern: str = "routed",
    expected: str | None = None,
    route: str | None = None,
    passed: bool = True,
    error: str | None = None,
    latency: float = 1.0,
    tokens: int = 100,
) -> CaseResult:
    trace = (
        Trace() if error else Trace(route=route, latency=latency, tokens=tokens, steps=2, calls=1)
    )
    return CaseResult(
        case=case,
        example="finance",
        pattern=pattern,
        expected_route=expected,
        trace=trace,
        checks=(Check("route", passed, ""),),
        error=error,
    )


@pytest.fixture
def run() -> RunResult:
    """Four cases: two routed right, one routed wrong (latency 2, 300 tokens), one raised."""
    return RunResult(
        dataset="d",
        label="a",
        mode="replay",
        cases=(
            _result("1", expected="fraud", route="fraud", latency=1.0, tokens=100),
            _result(
                "2", expected="fraud", route="liquidity", passed=False, latency=2.0, tokens=300
            ),
            _result("3", expected="liquidity", route="liquidity", latency=3.0, tokens=200),
            _result("4", pattern="consensus", error="MissingRecording: x"),
        ),
    )
