"""Metrics of an evaluation run, overall and per pattern and agent, and two runs compared.

Named `scores` so it is not mistaken for the server's Prometheus metrics
(`accord.app.server.prometheus`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from accord.agents import percentile
from accord.evals.results import CaseResult, RunResult


@dataclass(frozen=True)
class Scores:
    """What a group of case results adds up to.

    Attributes:
        cases: How many cases.
        completion_rate: Share that ran to the end without an error.
        pass_rate: Share whose every check held.
        routing_accuracy: Share of cases that expected a route and got it (None: none expected).
        error_rate: Share that raised (unrecorded request, model failure...).
        latency_p50, latency_p95: Seconds per case (as recorded against the model).
        tokens: Mean tokens per completed case.
        steps: Mean graph steps per completed case.
        calls: Mean model calls per completed case.
    """

    cases: int
    completion_rate: float
    pass_rate: float
    routing_accuracy: float | None
    error_rate: float
    latency_p50: float
    latency_p95: float
    tokens: float
    steps: float
    calls: float

    def to_dict(self) -> dict[str, Any]:
        """The scores as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class RunScores:
    """A run's scores overall, per pattern and per agent.

    `per_agent` groups cases by the agent they expected to be routed to (their `route`);
    cases with no expected route are left out of it.
    """

    overall: Scores
    per_pattern: dict[str, Scores]
    per_agent: dict[str, Scores]

    def to_dict(self) -> dict[str, Any]:
        """The scores as JSON-ready data."""
        return {
            "overall": self.overall.to_dict(),
            "per_pattern": {k: v.to_dict() for k, v in self.per_pattern.items()},
            "per_agent": {k: v.to_dict() for k, v in self.per_agent.items()},
        }


def score(results: Iterable[CaseResult]) -> Scores:
    """The scores of a group of case results."""
    cases = list(results)
    done = [c for c in cases if c.completed]
    routed = [c for c in cases if c.expected_route is not None]
    latencies = [c.trace.latency for c in done]

    def share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    def mean(pick: Callable[[CaseResult], float]) -> float:
        return sum(pick(c) for c in done) / len(done) if done else 0.0

    return Scores(
        cases=len(cases),
        completion_rate=share(len(done), len(cases)),
        pass_rate=share(sum(c.passed for c in cases), len(cases)),
        routing_accuracy=(
            share(sum(c.trace.route == c.expected_route for c in routed), len(routed))
            if routed
            else None
        ),
        error_rate=share(len(cases) - len(done), len(cases)),
        latency_p50=percentile(latencies, 50) or 0.0,
        latency_p95=percentile(latencies, 95) or 0.0,
        tokens=mean(lambda c: c.trace.tokens),
        steps=mean(lambda c: c.trace.steps),
        calls=mean(lambda c: c.trace.calls),
    )


def scores(run: RunResult) -> RunScores:
    """A run's scores, overall, per pattern and per expected agent."""
    patterns: dict[str, list[CaseResult]] = {}
    agents: dict[str, list[CaseResult]] = {}
    for case in run.cases:
        patterns.setdefault(case.pattern, []).append(case)
        if case.expected_route is not None:
            agents.setdefault(case.expected_route, []).append(case)
    return RunScores(
        overall=score(run.cases),
        per_pattern={k: score(v) for k, v in sorted(patterns.items())},
        per_agent={k: score(v) for k, v in sorted(agents.items())},
    )


@dataclass(frozen=True)
class Delta:
    """One metric of two runs side by side.

    Attributes:
        metric: The `Scores` field.
        before: Its value in the first run (None when undefined there).
        after: Its value in the second run.
        change: `after - before`, or None when either is undefined.
    """

    metric: str
    before: float | None
    after: float | None
    change: float | None


METRICS = (
    "completion_rate",
    "pass_rate",
    "routing_accuracy",
    "error_rate",
    "latency_p50",
    "latency_p95",
    "tokens",
    "steps",
    "calls",
)
"""The metrics a comparison lists, in order."""


def compare(before: RunResult, after: RunResult) -> list[Delta]:
    """The overall metrics of two runs (e.g. two models or routing strategies) with deltas."""
    first, second = scores(before).overall, scores(after).overall
    deltas = []
    for metric in METRICS:
        a, b = getattr(first, metric), getattr(second, metric)
        deltas.append(Delta(metric, a, b, None if a is None or b is None else b - a))
    return deltas


def changed_cases(before: RunResult, after: RunResult) -> list[tuple[str, bool, bool]]:
    """Cases of both runs whose verdict differs: `(case id, passed before, passed after)`."""
    earlier = {c.case: c.passed for c in before.cases}
    return [
        (c.case, earlier[c.case], c.passed)
        for c in after.cases
        if c.case in earlier and earlier[c.case] != c.passed
    ]
