"""Routing strategies, side by side: each picks one agent from the same terms.

A strategy names the terms it needs (`needs`), so the router computes nothing else, and returns
the chosen index with the score of every candidate (None when it does not score, as round-robin).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from accord.agents.errors import AgentSpecError

FULL = 1e-6
"""Multiplies the score of an agent with no free capacity (load >= capacity): such an agent is
chosen only when every candidate is full, however well it fits."""


@dataclass(slots=True)
class Terms:
    """The terms of one decision, one value per agent in team order; None when not needed.

    Attributes:
        capacity: `Agent.capacity`: sessions it serves at once.
        fit: Specialization fit of the request, in (0, 1] (`FitScorer`).
        performance: Performance history factor, 1 = neutral (`History`).
        load: In-flight work now (`LoadGauge`).
        expected: Arrivals expected soon (`Forecast`), added to the load by `Predictive`.
    """

    capacity: Sequence[float]
    fit: list[float] | None = None
    performance: list[float] | None = None
    load: list[float] | None = None
    expected: list[float] | None = None


class Strategy(Protocol):
    """Chooses one agent from a decision's terms."""

    name: str
    needs: frozenset[str]
    """The terms it reads, of "fit", "performance", "load" and "expected"."""

    def pick(self, terms: Terms) -> tuple[int, list[float] | None]:
        """The chosen agent's index and every candidate's score (None if it does not score)."""
        ...


def need(values: list[float] | None, term: str) -> list[float]:
    """The values of a term the strategy reads; refused when the router did not compute it."""
    if values is None:
        raise AgentSpecError(f"the {term!r} term was not computed: list it in the strategy's needs")
    return values


def best(scores: list[float]) -> int:
    """The index of the highest score; the first one on a tie."""
    return scores.index(max(scores))


class RoundRobin:
    """Each agent in turn, whatever the request or the load: the baseline."""

    name = "round-robin"
    needs: frozenset[str] = frozenset()

    def __init__(self) -> None:
        """Start with the first agent."""
        self._turn = itertools.count()  # next() on a count is atomic under the GIL

    def pick(self, terms: Terms) -> tuple[int, list[float] | None]:
        """The next agent in turn."""
        return next(self._turn) % len(terms.capacity), None


class LeastBusy:
    """The agent with the most free capacity: `score = 1 - load / capacity`."""

    name = "least-busy"
    needs = frozenset({"load"})

    def pick(self, terms: Terms) -> tuple[int, list[float] | None]:
        """The least utilised agent."""
        load = need(terms.load, "load")
        scores = [1.0 - n / c for n, c in zip(load, terms.capacity, strict=True)]
        return best(scores), scores


class Specialization:
    """The agent whose skills and description best match the request: `score = fit`."""

    name = "specialization"
    needs = frozenset({"fit"})

    def pick(self, terms: Terms) -> tuple[int, list[float] | None]:
        """The best fitting agent."""
        fit = need(terms.fit, "fit")
        return best(fit), fit


class FullScore:
    """`score = capacity x fit x performance / (1 + load)`, times `FULL` when load >= capacity.

    The `1 +` keeps an idle agent finite and makes the first session cost as much as the next.
    """

    name = "score"
    needs = frozenset({"fit", "performance", "load"})

    def pick(self, terms: Terms) -> tuple[int, list[float] | None]:
        """The highest scoring agent."""
        fit, perf = need(terms.fit, "fit"), need(terms.performance, "performance")
        load = need(terms.load, "load")
        scores = [
            c * f * p / (1.0 + n) * (1.0 if n < c else FULL)
            for c, f, p, n in zip(terms.capacity, fit, perf, load, strict=True)
        ]
        return best(scores), scores


class Predictive:
    """`FullScore` with the load projected: `load + weight x expected` arrivals.

    Args:
        weight: How much of the expected arrivals counts as load (1 = all of it).
    """

    name = "predictive"
    needs = frozenset({"fit", "performance", "load", "expected"})

    def __init__(self, weight: float = 1.0) -> None:
        """Set how much the forecast counts."""
        self.weight = weight

    def pick(self, terms: Terms) -> tuple[int, list[float] | None]:
        """The highest scoring agent under the projected load."""
        fit, perf = need(terms.fit, "fit"), need(terms.performance, "performance")
        load, soon = need(terms.load, "load"), need(terms.expected, "expected")
        w = self.weight
        scores = [
            c * f * p / (1.0 + n + w * e) * (1.0 if n + w * e < c else FULL)
            for c, f, p, n, e in zip(terms.capacity, fit, perf, load, soon, strict=True)
        ]
        return best(scores), scores


STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "round-robin": RoundRobin,
    "least-busy": LeastBusy,
    "specialization": Specialization,
    "score": FullScore,
    "predictive": Predictive,
}
"""The built-in strategies by name."""
