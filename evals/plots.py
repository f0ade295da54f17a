"""Plots of an evaluation run as PNG bytes (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io
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

NONE = "(none)"
"""The label of a missing routing choice in the confusion matrix."""


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def latency_plot(run: RunResult) -> bytes:
    """A histogram of the completed cases' latency (seconds, as recorded)."""
    figure, axes = plt.subplots(figsize=(6, 3.5))
    latencies = [c.trace.latency for c in run.cases if c.completed]
    axes.hist(latencies or [0.0], bins=min(20, max(1, len(latencies))), color="#4c72b0")
    axes.set_xlabel("seconds per case")
    axes.set_ylabel("cases")
    axes.set_title(f"Latency ({run.label})")
    return _png(figure)


def accuracy_plot(run: RunResult) -> bytes:
    """Pass rate and routing accuracy per expected agent, as bars."""
    per_agent = scores(run).per_agent
    figure, axes = plt.subplots(figsize=(6, 3.5))
    names = list(per_agent) or [NONE]
    passed = [per_agent[n].pass_rate if n in per_agent else 0.0 for n in names]
    routed = [per_agent[n].routing_accuracy or 0.0 if n in per_agent else 0.0 for n in names]
    positions = range(len(names))
    axes.bar([p - 0.2 for p in positions], routed, width=0.4, label="routing accuracy")
    axes.bar([p + 0.2 for p in positions], passed, width=0.4, label="all checks passed")
    axes.set_xticks(list(positions), names, rotation=30, ha="right")
    axes.set_ylim(0, 1.05)
    axes.set_title(f"Accuracy per agent ({run.label})")
    axes.legend(loc="lower right", fontsize="small")
    return _png(figure)


def confusion(run: RunResult) -> tuple[list[str], list[list[int]]]:
    """The routing confusion matrix: labels and counts[expected][chosen], cases with a route."""
    pairs = [
        (c.expected_route, c.trace.route or NONE) for c in run.cases if c.expected_route is not None
    ]
    labels = sorted({label for pair in pairs for label in pair})
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for expected, chosen in pairs:
        counts[index[expected]][index[chosen]] += 1
    return labels, counts


def confusion_plot(run: RunResult) -> bytes:
    """The routing confusion matrix as a heat map (rows: expected, columns: chosen)."""
    labels, counts = confusion(run)
    figure, axes = plt.subplots(figsize=(5, 4.5))
    if not labels:
        labels, counts = [NONE], [[0]]
    axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("chosen")
    axes.set_ylabel("expected")
    darkest = max(max(values) for values in counts)
    for row, values in enumerate(counts):
        for column, count in enumerate(values):
            colour = "white" if count > darkest / 2 else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=colour)
    axes.set_title(f"Routing choices ({run.label})")
    return _png(figure)


def plots(run: RunResult) -> dict[str, bytes]:
    """Every plot of a run, by title: latency, accuracy per agent, routing confusion."""
    return {
        "Latency distribution": latency_plot(run),
        "Accuracy per agent": accuracy_plot(run),
        "Routing confusion matrix": confusion_plot(run),
    }
