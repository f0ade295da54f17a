"""Plots of an evaluation run as PNG bytes (matplotlib, Agg backend: no display needed).

`plots(run)` draws only what the run's cases can fill: the routing plots when cases expect a
route, the decision matrix when they expect a consensus decision, the workers' outcomes when a
coordinator planned work; never an empty chart.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from accord.evals.errors import INSTALL_PLOTS, PlotsNotInstalled
from accord.evals.results import RunResult
from accord.evals.scores import scores

try:
    import matplotlib
except ModuleNotFoundError:
    raise PlotsNotInstalled(
        f"an HTML report's plots need matplotlib, which is not installed. "
        f"Install it with: {INSTALL_PLOTS}"
    ) from None

matplotlib.use("Agg")  # before pyplot: reports are written on servers and in CI

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

NO_ROUTE = "(no route)"
"""The label of a case that expected a route and got none."""
NO_DECISION = "(no quorum)"
"""The label of a vote that reached no decision."""
ERROR = "(case error)"
"""The label of a case that raised before it chose anything."""

OUTCOMES = {"passed": "#55a868", "failed checks": "#dd8452", "error": "#c44e52"}
WORKER_OUTCOMES = {"done": "#55a868", "failed": "#c44e52", "no result": "#8c8c8c"}


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _counts_axis(axes: Any, axis: str = "y") -> None:
    """Case counts are whole numbers: ticks only on integers."""
    getattr(axes, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))


def _stacked(
    title: str,
    names: Sequence[str],
    series: dict[str, tuple[str, list[int]]],
    unit: str,
    across: str,
) -> bytes:
    """Stacked bars of counts: one bar per name, one segment per series (label: colour, counts)."""
    figure, axes = plt.subplots(figsize=(6, 3.5))
    bottom = [0] * len(names)
    for label, (colour, counts) in series.items():
        if any(counts):
            bars = axes.bar(names, counts, width=0.5, bottom=bottom, color=colour, label=label)
            shown = [str(c) if c else "" for c in counts]
            axes.bar_label(bars, labels=shown, label_type="center", color="white")
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    _counts_axis(axes)
    axes.set_xlim(-0.75, len(names) - 0.25)
    axes.set_ylim(0, max(bottom, default=0) * 1.25 + 1)
    axes.set_xlabel(across)
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.tick_params(axis="x", labelrotation=20)
    axes.legend(loc="upper right", fontsize="small")
    return _png(figure)


def outcome_plot(run: RunResult) -> bytes:
    """Cases per pattern that passed, failed a check, or raised."""
    names = sorted({c.pattern for c in run.cases})
    series = {
        "passed": [sum(c.passed for c in run.cases if c.pattern == p) for p in names],
        "failed checks": [
            sum(c.completed and not c.passed for c in run.cases if c.pattern == p) for p in names
        ],
        "error": [sum(not c.completed for c in run.cases if c.pattern == p) for p in names],
    }
    coloured = {k: (OUTCOMES[k], v) for k, v in series.items()}
    return _stacked(f"Case outcomes ({run.label})", names, coloured, "cases", "pattern")


def latency_plot(run: RunResult) -> bytes:
    """A histogram of the completed cases' latency (seconds, as recorded)."""
    figure, axes = plt.subplots(figsize=(6, 3.5))
    latencies = [c.trace.latency for c in run.cases if c.completed]
    axes.hist(latencies, bins=min(20, max(1, len(latencies))), color="#4c72b0")
    _counts_axis(axes)
    axes.set_xlabel("seconds per case (as recorded against the model)")
    axes.set_ylabel("cases")
    axes.set_title(f"Latency ({run.label})")
    return _png(figure)


def accuracy_plot(run: RunResult) -> bytes:
    """Routing accuracy and pass rate per expected agent, as bars (cases with a route)."""
    per_agent = scores(run).per_agent
    figure, axes = plt.subplots(figsize=(6, 3.5))
    names = list(per_agent)
    passed = [per_agent[n].pass_rate for n in names]
    routed = [per_agent[n].routing_accuracy or 0.0 for n in names]
    positions = range(len(names))
    for offset, values, label in (
        (-0.2, routed, "routed right"),
        (0.2, passed, "all checks passed"),
    ):
        bars = axes.bar([p + offset for p in positions], values, width=0.4, label=label)
        axes.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize="small")
    labels = [f"{n} ({per_agent[n].cases})" for n in names]
    axes.set_xticks(list(positions), labels, rotation=20, ha="right")
    axes.set_ylim(0, 1.25)
    axes.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes.set_xlabel("expected agent (cases)")
    axes.set_title(f"Accuracy per expected agent ({run.label})")
    axes.legend(loc="upper right", fontsize="small", ncols=2)
    return _png(figure)


def _matrix(pairs: list[tuple[str, str]]) -> tuple[list[str], list[list[int]]]:
    labels = sorted({label for pair in pairs for label in pair})
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for expected, seen in pairs:
        counts[index[expected]][index[seen]] += 1
    return labels, counts


def confusion(run: RunResult) -> tuple[list[str], list[list[int]]]:
    """The routing confusion matrix: labels and counts[expected][chosen], cases with a route."""
    return _matrix(
        [
            (c.expected_route, c.trace.route or NO_ROUTE if c.completed else ERROR)
            for c in run.cases
            if c.expected_route is not None
        ]
    )


def decisions(run: RunResult) -> tuple[list[str], list[list[int]]]:
    """The decision confusion matrix: labels and counts[expected][decided] (consensus cases)."""
    return _matrix(
        [
            (c.expected_decision, c.trace.decision or NO_DECISION if c.completed else ERROR)
            for c in run.cases
            if c.expected_decision is not None
        ]
    )


def workers(run: RunResult) -> dict[str, dict[str, int]]:
    """Per planned worker, how many of its subtasks were done, failed or left no result."""
    found: dict[str, dict[str, int]] = {}
    for case in run.cases:
        for worker, outcome in case.trace.workers.items():
            counts = found.setdefault(worker, dict.fromkeys(WORKER_OUTCOMES, 0))
            counts[outcome] = counts.get(outcome, 0) + 1
    return dict(sorted(found.items()))


def _heat_map(title: str, matrix: tuple[list[str], list[list[int]]], seen: str) -> bytes:
    labels, counts = matrix
    figure, axes = plt.subplots(figsize=(5, 4.5))
    axes.imshow(counts, cmap="Blues", vmin=0)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel(seen)
    axes.set_ylabel("expected")
    darkest = max(max(values) for values in counts)
    for row, values in enumerate(counts):
        for column, count in enumerate(values):
            colour = "white" if count > darkest / 2 else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=colour)
    axes.set_title(title)
    return _png(figure)


def confusion_plot(run: RunResult) -> bytes:
    """The routing confusion matrix as a heat map (rows: expected, columns: chosen)."""
    return _heat_map(f"Routing choices ({run.label})", confusion(run), "chosen")


def decision_plot(run: RunResult) -> bytes:
    """The consensus decisions as a heat map (rows: expected, columns: decided)."""
    return _heat_map(f"Decisions ({run.label})", decisions(run), "decided")


def worker_plot(run: RunResult) -> bytes:
    """Each planned worker's subtasks: done, failed, or no result."""
    found = workers(run)
    names = list(found)
    series = {k: (colour, [found[n][k] for n in names]) for k, colour in WORKER_OUTCOMES.items()}
    return _stacked(f"Worker outcomes ({run.label})", names, series, "subtasks", "worker")


def plots(run: RunResult) -> dict[str, bytes]:
    """The plots that the run's cases fill, by title (an empty run gets none)."""
    drawn: dict[str, bytes] = {}
    if not run.cases:
        return drawn
    drawn["Case outcomes per pattern"] = outcome_plot(run)
    if any(c.completed for c in run.cases):
        drawn["Latency distribution"] = latency_plot(run)
    if any(c.expected_route is not None for c in run.cases):
        drawn["Accuracy per expected agent"] = accuracy_plot(run)
        drawn["Routing confusion matrix"] = confusion_plot(run)
    if any(c.expected_decision is not None for c in run.cases):
        drawn["Decision confusion matrix"] = decision_plot(run)
    if any(c.trace.workers for c in run.cases):
        drawn["Worker outcomes"] = worker_plot(run)
    return drawn
