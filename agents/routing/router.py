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
import itertools
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from typing_extensions import TypedDict  # pydantic builds JSON schemas from it on 3.11

from accord.agents.agent import Agent, check_team
from accord.agents.errors import AgentSpecError, EmptyRequest
from accord.agents.routing.fit import FitFactory, FitScorer, Match
from accord.agents.routing.forecast import ArrivalForecast, Forecast
from accord.agents.routing.lexical import LexicalFit
from accord.agents.routing.load import LoadGauge, process_load
from accord.agents.routing.performance import History, PerformanceHistory
from accord.agents.routing.strategies import STRATEGIES, Strategy, Terms
from accord.persistence import Flow, adrive, drive

BAND = 0.9
"""Default eligibility band: an agent is a candidate when its fit is at least 0.9 of the best's
(chosen on HWU64's training fold: with the right agent busy, accuracy stays within a point of
idle, yet load still spreads requests between agents that fit about equally)."""
THRESHOLD = 0.5
"""Default confidence threshold: even odds that the best agent is the right one. It only flags
a decision (`Decision.fits`); the routed pattern acts on it when given a `fallback`."""
TIE = 1e-9
"""Scores this close (relative) are a tie."""


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
    """Which agent a router chose, by which strategy, from which terms, and how sure it is.

    The explanation is built only when asked for (`reason`, `candidates`), so a decision over a
    thousand agents costs no thousand dictionaries.

    Attributes:
        agent: The chosen agent. index: Its place in the team.
        strategy: The strategy's name. names: The team's names, in order.
        terms: The terms the strategy read. scores: Every agent's score (None: unscored).
        confidence: Calibrated confidence in [0, 1] that the chosen agent fits the request
            (None when the strategy reads no fit).
        fits: False when the confidence is below the router's threshold: no agent fits.
        tied: The agents that tied on the best score before load and turn broke the tie
            (empty when there was no tie).
        eligible: How many agents were within the band of the best fit (the candidates).
    """

    agent: str
    index: int
    strategy: str
    names: tuple[str, ...]
    terms: Terms
    scores: list[float] | None
    confidence: float | None = None
    fits: bool = True
    tied: tuple[str, ...] = ()
    eligible: int = 0
    threshold: float | None = None
    match: Match | None = None

    @property
    def matched(self) -> str:
        """What of the chosen agent matched the request (words, its closest skill...)."""
        return self.match.why(self.index) if self.match is not None else ""

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

    def shortlist(self, top: int) -> list[str]:
        """The `top` agents that fit the request best, best first (by fit, then similarity;
        by score, or team order, when the strategy reads no fit): what a model router is
        shown to choose from."""
        count = max(1, min(top, len(self.names)))
        fit, match = self.terms.fit, self.match
        if fit is not None:
            similarity = match.similarity if match is not None else fit
            order = heapq.nlargest(count, range(len(fit)), key=lambda i: (fit[i], similarity[i]))
        elif self.scores is not None:
            order = heapq.nlargest(count, range(len(self.scores)), key=self.scores.__getitem__)
        else:
            order = list(range(count))
        return [self.names[i] for i in order]

    @property
    def reason(self) -> str:
        """One line: the choice, its score and terms, what matched, ties and the confidence."""
        c = self.candidate(self.index)
        head = f"{self.strategy}: {self.agent}"
        if self.scores is None:
            return f"{head}, next in turn"
        parts = [f"{head} scored {c['score']:.4g} ({_formula(self.strategy, c)})"]
        fit = self.terms.fit
        if fit is not None and len(fit) > 1:
            runner = max((i for i in range(len(fit)) if i != self.index), key=fit.__getitem__)
            parts.append(f"next best fit {self.names[runner]} {fit[runner]:.3g}")
        if self.match is not None:
            parts.append(self.matched)
        if len(self.tied) > 1:
            parts.append(f"tie between {', '.join(self.tied)}: broken by load, then turn")
        if self.confidence is not None:
            verdict = "" if self.fits else f", below {self.threshold:g}: no agent fits"
            parts.append(f"confidence {self.confidence:.2f}{verdict}")
        return "; ".join(parts)


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

    Eligibility: when the strategy reads the fit, only the agents whose fit is at least `band`
    (the best agent's fit is 1) are candidates; capacity, performance, load and the forecast
    choose among them, so load never overrides a clear fit. When every candidate is full, all
    agents are. A tie on the best score goes to the least loaded, then round-robin (never team
    order), and the `Decision` names the tied agents. The chosen agent's similarity is
    calibrated into `Decision.confidence`; below `threshold`, `Decision.fits` is False (the
    routed pattern then sends the request to its `fallback`).

    Every router of a process shares `process_load()` unless given a gauge, so sessions of every
    graph count towards each agent's load.

    Args:
        agents: The team.
        strategy: A `Strategy`, or the name of a built-in one: "round-robin", "least-busy",
            "specialization", "score" (default) or "predictive".
        fit: Builds the specialization scorer for the team (default `LexicalFit`;
            `embedding_fit` for the embedded sentence model).
        band: Fit (relative to the best, 1) an agent needs to be a candidate, in (0, 1].
        threshold: Confidence below which no agent fits, in [0, 1] (0: always fits).
        history: Performance history (default: a new `PerformanceHistory`).
        load: In-flight work (default `process_load()`; `SharedLoad` for several processes).
        forecast: Arrival forecast (default: a new `ArrivalForecast` when the strategy needs
            one). Each request is recorded in it as an arrival for the agent that fits it best
            (not the one chosen, so the forecast does not learn from its own decisions).
        clock: Seconds, for the forecast's buckets (simulations pass their own).
        explain: How many candidates a graph's trace carries (the chosen one first).

    Raises:
        AgentSpecError: The team is invalid, the strategy name unknown, or band or threshold
            out of range.
    """

    def __init__(
        self,
        agents: Sequence[Agent],
        *,
        strategy: Strategy | str = "score",
        fit: FitFactory = LexicalFit,
        band: float = BAND,
        threshold: float = THRESHOLD,
        history: History | None = None,
        load: LoadGauge | None = None,
        forecast: Forecast | None = None,
        clock: Callable[[], float] = time.time,
        explain: int = 5,
    ) -> None:
        """Index the team and set up the terms the strategy needs."""
        check_team(agents)
        if not callable(fit):
            raise AgentSpecError(
                f"fit= takes what builds a fit for a team, not a built {type(fit).__name__}: pass"
                " fit=embedding_fit, or fit=lambda team: EmbeddingFit(team, encoder)"
            )
        if not 0 < band <= 1 or not 0 <= threshold <= 1:
            raise AgentSpecError(
                f"band must be in (0, 1] and threshold in [0, 1]; got {band} and {threshold}"
            )
        self.agents = tuple(agents)
        self.names = tuple(a.name for a in agents)
        self.capacity = tuple(float(a.capacity) for a in agents)
        self.strategy = _strategy(strategy)
        self.band = band
        self.threshold = threshold
        self._fit_factory = fit
        self._fit: FitScorer | None = None
        self.history: History = history if history is not None else PerformanceHistory()
        self.load: LoadGauge = load if load is not None else process_load()
        if forecast is None and "expected" in self.strategy.needs:
            forecast = ArrivalForecast()
        self.forecast = forecast
        self.clock = clock
        self.explain = explain
        self._turn = itertools.count()  # next() on a count is atomic under the GIL

    @property
    def fit(self) -> FitScorer:
        """The specialization scorer, built on first use (a team index costs time)."""
        if self._fit is None:
            self._fit = self._fit_factory(self.agents)
        return self._fit

    @property
    def slow(self) -> bool:
        """True when a decision runs a model (an embedding): async callers run it in a thread."""
        return "fit" in self.strategy.needs and self.fit.slow

    def with_strategy(self, strategy: Strategy | str) -> Router:
        """The same team and terms (fit, history, load, forecast) under another strategy."""
        other = Router(
            self.agents,
            strategy=strategy,
            fit=self._fit_factory,
            band=self.band,
            threshold=self.threshold,
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

        Raises:
            EmptyRequest: The request is empty or only whitespace.
        """
        if not request.strip():
            raise EmptyRequest(
                "the request to route is empty; send the user's message as the request"
            )
        needs = self.strategy.needs
        names = self.names
        at = self.clock() if now is None else now
        terms = Terms(self.capacity)
        match: Match | None = None
        if "fit" in needs:
            match = self.fit.match(request)
            terms.fit = match.fit
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
        eligible, tied = len(names), list[int]()
        if scores is not None:
            candidates = self._candidates(terms)
            eligible = len(candidates)
            index, tied = self._best(candidates, scores, terms)
        if self.forecast is not None and terms.fit is not None:
            top = max(terms.fit)
            best = [i for i, f in enumerate(terms.fit) if f == top]
            if len(best) == 1:  # a request that fits nobody in particular is no one's demand
                self.forecast.observe(names[best[0]], at)
        confidence = None if match is None else match.confidence(index)
        return Decision(
            names[index],
            index,
            self.strategy.name,
            names,
            terms,
            scores,
            confidence=confidence,
            fits=confidence is None or confidence >= self.threshold,
            tied=tuple(names[i] for i in tied),
            eligible=eligible,
            threshold=self.threshold,
            match=match,
        )

    def _candidates(self, terms: Terms) -> list[int]:
        """The agents within the band of the best fit; all of them if those are all full."""
        fit = terms.fit
        if fit is None:
            return list(range(len(self.names)))
        floor = self.band * max(fit)
        chosen = [i for i, f in enumerate(fit) if f >= floor]
        load = terms.load
        if load is not None and all(load[i] >= self.capacity[i] for i in chosen):
            return list(range(len(self.names)))
        return chosen

    def _best(
        self, candidates: list[int], scores: list[float], terms: Terms
    ) -> tuple[int, list[int]]:
        """The best scoring candidate; a tie goes to the least loaded, then round-robin."""
        top = max(scores[i] for i in candidates)
        tied = [i for i in candidates if scores[i] >= top - TIE * abs(top)]
        if len(tied) == 1:
            return tied[0], []
        load = terms.load if terms.load is not None else self.load.loads(self.names)
        least = min(load[i] for i in tied)
        idle = [i for i in tied if load[i] == least]
        return idle[next(self._turn) % len(idle)], tied

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
