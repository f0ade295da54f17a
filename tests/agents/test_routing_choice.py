"""Issue 13's routing rules: eligibility within a band of the best fit, ties broken by load then
turn (never team order), a calibrated confidence with "no agent fits", and a forecast that
neither learns from its own decisions nor overrides a clear fit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from accord.agents import STRATEGIES, Agent, AgentSpecError, Router
from accord.agents.errors import EmptyRequest
from accord.agents.routing import ArrivalForecast, LoadCounter, PerformanceHistory


def desk(name: str, description: str, *skills: str, capacity: int = 8) -> Agent:
    return Agent(name=name, description=description, skills=skills, capacity=capacity)


TEAM = [
    desk("billing", "Handles invoices, refunds and payments.", "invoices", "refunds"),
    desk("tech", "Fixes outages, login problems and bugs.", "outages", "login", "errors"),
    desk("sales", "Quotes prices and upgrades plans.", "pricing", "upgrades"),
]


def test_load_never_overrides_a_clear_fit() -> None:
    """Issue 13: with `1 + load`, one busy slot sent 45% of requests elsewhere."""
    load = LoadCounter()
    r = Router(TEAM, load=load)
    with load.running("billing"), load.running("billing"), load.running("billing"):
        decision = r.decide("refund my invoice")
    assert decision.agent == "billing"
    assert decision.eligible == 1


def test_a_full_specialist_gives_way_when_every_candidate_is_full() -> None:
    team = [desk("a", "Invoices.", "invoices", capacity=1), desk("b", "Other things.")]
    load = LoadCounter()
    r = Router(team, load=load)
    with load.running("a"):
        decision = r.decide("invoice")
    assert decision.agent == "b"
    assert decision.eligible == 2


def test_the_band_sets_who_is_a_candidate() -> None:
    team = [*TEAM, desk("refunds", "Refunds.", "refunds")]
    load = LoadCounter()
    with load.running("billing"):
        narrow = Router(team, load=load, band=1.0).decide("refund my invoice")
        wide = Router(team, load=load, band=0.01).decide("refund my invoice")
    assert (narrow.agent, narrow.eligible) == ("billing", 1)
    assert wide.eligible == 4
    with pytest.raises(AgentSpecError, match="band must be in"):
        Router(TEAM, band=0.0)


def test_a_tie_goes_round_robin_never_to_the_first_agent() -> None:
    """Issue 13: a request matching no word went to the first agent every time."""
    r = Router(TEAM, strategy="specialization", load=LoadCounter())
    chosen = [r.decide("hello there") for _ in range(6)]
    assert [d.agent for d in chosen] == ["billing", "tech", "sales"] * 2
    assert chosen[0].tied == ("billing", "tech", "sales")
    assert "tie between billing, tech, sales" in chosen[0].reason


def test_a_tie_goes_to_the_least_loaded_first() -> None:
    load = LoadCounter()
    r = Router(TEAM, strategy="specialization", load=load)
    with load.running("billing"), load.running("sales"):
        assert {r.decide("hello there").agent for _ in range(4)} == {"tech"}


def test_a_clear_decision_is_no_tie() -> None:
    decision = Router(TEAM, load=LoadCounter()).decide("refund my invoice")
    assert decision.tied == ()
    assert "tie" not in decision.reason


def test_the_confidence_says_when_no_agent_fits() -> None:
    r = Router(TEAM, load=LoadCounter(), threshold=0.5)
    sure = r.decide("refund my invoice")
    lost = r.decide("what a lovely day it is")
    assert sure.confidence is not None
    assert sure.confidence > 0.9
    assert sure.fits
    assert lost.confidence is not None
    assert lost.confidence < 0.5
    assert not lost.fits
    assert "below 0.5: no agent fits" in lost.reason
    assert Router(TEAM, load=LoadCounter(), threshold=0.0).decide("what a day").fits
    with pytest.raises(AgentSpecError, match="threshold in"):
        Router(TEAM, threshold=1.5)


def test_a_strategy_without_fit_has_no_confidence() -> None:
    decision = Router(TEAM, strategy="least-busy", load=LoadCounter()).decide("anything")
    assert decision.confidence is None
    assert decision.fits


@pytest.mark.parametrize("request_", ["", "   ", "\n\t"])
def test_an_empty_request_gets_a_typed_error(request_: str) -> None:
    with pytest.raises(EmptyRequest, match="request to route is empty"):
        Router(TEAM, load=LoadCounter()).decide(request_)


class Surge:
    """A forecast that expects a crowd for one agent, and records what it is told."""

    def __init__(self, crowded: str) -> None:
        self.crowded = crowded
        self.seen: list[str] = []

    def observe(self, agent: str, at: float) -> None:
        self.seen.append(agent)

    def expected(self, names: Sequence[str], now: float) -> list[float]:
        return [6.0 if n == self.crowded else 0.0 for n in names]


def test_the_forecast_never_overrides_a_clear_fit() -> None:
    """Issue 13: the forecast's expected load overrode fit entirely (0.20 at 30 per minute)."""
    r = Router(TEAM, strategy="predictive", load=LoadCounter(), forecast=Surge("billing"))
    assert r.decide("refund my invoice").agent == "billing"


def test_the_forecast_learns_demand_not_its_own_decisions() -> None:
    """Issue 13: `predictive` recorded the agent it chose, so it learned from itself."""
    load = LoadCounter()
    surge = Surge("nobody")
    r = Router(TEAM, strategy="predictive", load=load, forecast=surge)
    twin = desk("payments", "Handles invoices, refunds and payments.", "invoices", "refunds")
    r2 = Router([*TEAM, twin], strategy="predictive", load=load, forecast=surge)
    with load.running("billing"):
        chosen = r2.decide("my login fails").agent
    assert chosen == "tech"
    r.decide("hello there")  # fits nobody in particular: no one's demand
    assert surge.seen == ["tech"]


def test_the_performance_history_chooses_among_candidates_only() -> None:
    history = PerformanceHistory()
    for _ in range(50):
        history.observe("billing", 1.0, ok=False)
    r = Router(TEAM, load=LoadCounter(), history=history)
    assert r.decide("refund my invoice").agent == "billing"


def test_with_strategy_keeps_band_and_threshold() -> None:
    r = Router(TEAM, load=LoadCounter(), band=0.5, threshold=0.7).with_strategy("predictive")
    assert (r.band, r.threshold) == (0.5, 0.7)
    assert isinstance(r.forecast, ArrivalForecast)


def test_the_readme_names_the_strategies_as_the_code_registers_them() -> None:
    """Issue 13: the README said `round_robin`/`least_busy`; the code registers dashes."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    line = readme[readme.index("Strategies `") :].split(" are interchangeable")[0]
    named = set(re.findall(r"`([a-z_-]+)`", line))
    assert named == set(STRATEGIES)
