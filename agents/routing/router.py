"""The scoring router: picks an agent for a request with no model call, and says why.

`score = capacity x specialization_fit x performance_history / current_load`, each term from a
replaceable object: a `FitScorer` (lexical by default), a `History` (EWMA latency and success),
a `LoadGauge` (in-flight work in this process, or across processes with `SharedLoad`) and, for
the predictive strategy, a `Forecast` of arrivals. The strategy decides how the terms combine.

Example:
    ```python
    router = Router(team, strategy="predictive")
    decision = router.decide("Why was my invoice charged twice?")
    decision.agent, decision.reason, decision.candidates(top=3)
    ```
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypedDict

from accord.agents.agent import Agent, check_team
from accord.agents.errors import AgentSpecError
from accord.agents.routing.fit import FitFactory, FitScorer, LexicalFit
from accord.agents.routing.forecast import ArrivalForecast, Forecast
from accord.agents.routing.load import LoadGauge, process_load
from accord.agents.routing.performance import History, PerformanceHistory
from accord.agents.routing.strategies import STRATEGIES, Strategy, Terms
from accord.persistence import Flow, adrive, drive


class Candidate(TypedDict):
    """One candidate of a decision: its score and the terms behind it (None: not used)."""

    agent: str
    score: float | None
    capacity: float
    fit: float | None
    performance: float | None
    load: float | None
    expected: float | None


@dataclass(frozen=True, slots=True)
class Decision:
    """Which agent a router chose, by which strategy, from which terms.

    The explanation is built only when asked for (`reason`, `candidates`), so a decision over a
    thousand agents costs no thousand dictionaries.
    """

    agent: str
    index: int
    strategy: str
    names: tuple[str, ...]
    terms: Terms
    scores: list[float] | None

    def candidate(self, index: int) -> Candidate:
        """The score and terms of the agent at `index` in team order."""
        t = self.terms
        return {
            "agent": self.names[index],
            "score": None if self.scores is None else self.scores[index],
            "capacity": t.capacity[index],
            "fit": None if t.fit is None else t.fit[index],
            "performance": None if t.performance is None else t.performance[index],
            "load": None if t.load is None else t.load[index],
            "expected": None if t.expected is None else t.expected[index],
        }

    def candidates(self, top: int | None = None) -> list[Candidate]:
        """The chosen agent first, then the others by score (team order if unscored).

        Args:
            top: At most this many (None: every candidate).
        """
        count = len(self.names) if top is None else max(1, min(top, len(self.names)))
        others = (i for i in range(len(self.names)) if i != self.index)
        if self.scores is not None:
            scores = self.scores
            order = heapq.nlargest(count - 1, others, key=scores.__getitem__)
        else:
            order = [i for _, i in zip(range(count - 1), others, strict=False)]
        return [self.candidate(i) for i in (self.index, *order)]

    @property
    def reason(self) -> str:
        """One line: the strategy, the chosen agent, its score and the terms behind it."""
        c = self.candidate(self.index)
        head = f"{self.strategy}: {self.agent}"
        if self.scores is None:
            return f"{head}, next in turn"
        return f"{head} scored {c['score']:.4g} ({_formula(self.strategy, c)})"


def _formula(strategy: str, c: Candidate) -> str:
    """How the built-in strategies computed a candidate's score, with its numbers."""
    if strategy == "least-busy":
        return f"1 - load {c['load']:g} / capacity {c['capacity']:g}"
    if strategy == "specialization":
        return f"fit {c['fit']:.3g}"
    parts = [f"capacity {c['capacity']:g}"]
    if c["fit"] is not None:
        parts.append(f"fit {c['fit']:.3g}")
    if c["performance"] is not None:
        parts.append(f"performance {c['performance']:.3g}")
    load = [f"load {c['load']:g}"] if c["load"] is not None else []
    load += [f"expected {c['expected']:.3g}"] if c["expected"] is not None else []
    return " x ".join(parts) + (f" / (1 + {' + '.join(load)})" if load else "")


class Router:
    """Chooses an agent of a team for each request, from replaceable terms, with no model call.

    Every router of a process shares `process_load()` unless given a gauge, so sessions of every
    graph count towards each agent's load.

    Args:
        agents: The team.
        strategy: A `Strategy`, or the name of a built-in one: "round-robin", "least-busy",
            "specialization", "score" (default) or "predictive".
        fit: Builds the specialization scorer for the team (default `LexicalFit`).
        history: Performance history (default: a new `PerformanceHistory`).
        load: In-flight work (default `process_load()`; `SharedLoad` for several processes).
        forecast: Arrival forecast (default: a new `ArrivalForecast` when the strategy needs
            one). Every decision is recorded in it as an arrival.
        clock: Seconds, for the forecast's buckets (simulations pass their own).
        explain: How many candidates a graph's trace carries (the chosen one first).

    Raises:
        AgentSpecError: The team is invalid or the strategy name unknown.
    """

    def __init__(
        self,
        agents: Sequence[Agent],
        *,
        strategy: Strategy | str = "score",
        fit: FitFactory = LexicalFit,
        history: History | None = None,
        load: LoadGauge | None = None,
        forecast: Forecast | None = None,
        clock: Callable[[], float] = time.time,
        explain: int = 5,
    ) -> None:
        """Index the team and set up the terms the strategy needs."""
        check_team(agents)
        self.agents = tuple(agents)
        self.names = tuple(a.name for a in agents)
        self.capacity = tuple(float(a.capacity) for a in agents)
        self.strategy = _strategy(strategy)
        self._fit_factory = fit
        self._fit: FitScorer | None = None
        self.history: History = history if history is not None else PerformanceHistory()
        self.load: LoadGauge = load if load is not None else process_load()
        if forecast is None and "expected" in self.strategy.needs:
            forecast = ArrivalForecast()
        self.forecast = forecast
        self.clock = clock
        self.explain = explain

    @property
    def fit(self) -> FitScorer:
        """The specialization scorer, built on first use (a team index costs time)."""
        if self._fit is None:
            self._fit = self._fit_factory(self.agents)
        return self._fit

    def with_strategy(self, strategy: Strategy | str) -> Router:
        """The same team and terms (history, load, forecast) under another strategy."""
        other = Router(
            self.agents,
            strategy=strategy,
            fit=self._fit_factory,
            history=self.history,
            load=self.load,
            forecast=self.forecast,
            clock=self.clock,
            explain=self.explain,
        )
        other._fit = self._fit
        return other

    def decide(self, request: str, *, now: float | None = None) -> Decision:
        """Chooses the agent for `request`; records the arrival in the forecast.

        Args:
            request: The user's message.
            now: The time of the request (default: `clock()`).
        """
        needs = self.strategy.needs
        names = self.names
        at = self.clock() if now is None else now
        terms = Terms(self.capacity)
        if "fit" in needs:
            terms.fit = self.fit.fit(request)
        if "performance" in needs:
            terms.performance = self.history.factors(names)
        if "load" in needs:
            terms.load = self.load.loads(names)
        if "expected" in needs:
            if self.forecast is None:
                raise AgentSpecError(
                    f"strategy {self.strategy.name!r} needs a forecast; pass forecast="
                )
            terms.expected = self.forecast.expected(names, at)
        index, scores = self.strategy.pick(terms)
        if self.forecast is not None:
            self.forecast.observe(names[index], at)
        return Decision(names[index], index, self.strategy.name, names, terms, scores)

    def observe(self, agent: str, latency_s: float, ok: bool) -> None:
        """Feeds one finished step of `agent` to the performance history."""
        self.history.observe(agent, latency_s, ok)

    def running(self, agent: str) -> AbstractContextManager[None]:
        """Counts `agent`'s work as in flight while the block runs."""
        return self.load.running(agent)

    def refreshing(self) -> Flow[None]:
        """The effects of `refresh`, for a flow that decides next (the routed graph's router)."""
        return self.load.refreshing()

    def refresh(self) -> None:
        """Brings cached outside readings (shared load) up to date; may block on I/O."""
        drive(self.load.refreshing())

    async def arefresh(self) -> None:
        """Async `refresh`."""
        await adrive(self.load.refreshing())


def _strategy(strategy: Strategy | str) -> Strategy:
    if not isinstance(strategy, str):
        return strategy
    make = STRATEGIES.get(strategy)
    if make is None:
        raise AgentSpecError(
            f"unknown routing strategy {strategy!r}; use one of {', '.join(STRATEGIES)} "
            "or pass a Strategy"
        )
    return make()
