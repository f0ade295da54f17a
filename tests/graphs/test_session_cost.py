"""Money budgets: a price table per model, reserved before each call, on the record and in
`usage` events; bad prices refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accord.agents import Agent, ScriptedModel
from accord.graphs import BudgetExceeded, Limits, Prices, Sessions, consensus, events, handoff
from accord.graphs.errors import InvalidPrice, UnpricedModel

# 2 per 1K prompt tokens, 4 per 1K completion tokens, in EUR.
PRICES = Prices({"gpt-test": {"prompt": 2, "completion": 4, "per": 1000}}, currency="EUR")


def _priced(name: str, *script: Any) -> Agent:
    """An agent whose scripted model calls itself `gpt-test` (the name the price table knows)."""
    model = ScriptedModel(list(script), model_name="gpt-test")
    return Agent(name=name, description=f"the {name} desk", models=(model,))


def _desk(*replies: str) -> Any:
    return handoff([_priced("desk", *({"reply": t, "handoff_to": "none"} for t in replies))])


def _vote(choice: str) -> dict[str, Any]:
    return {"choice": choice, "confidence": 0.9, "rationale": f"I say {choice}."}


async def test_the_cost_of_each_call_is_on_the_record_and_in_usage_events(db: str) -> None:
    async with Sessions(_desk("Hello there.", "Bye."), db=db, prices=PRICES) as sessions:
        session = await sessions.aopen("alice")
        seen = [e async for e in session.astream("Hi")]
        second = await session.asend("Bye")
        record = await sessions.aget(session.id, "alice")
    usage = next(e for e in seen if isinstance(e, events.UsageEvent)).usage
    assert usage.tokens > 0
    assert usage.cost == pytest.approx((usage.tokens_in * 2 + usage.tokens_out * 4) / 1000)
    assert second.usage.cost > usage.cost
    assert record.usage["cost"] == pytest.approx(second.usage.cost)
    assert next(e for e in seen if e.kind == "usage").to_dict()["usage"]["cost"] == usage.cost


async def test_a_cost_limit_refuses_the_call_that_could_overrun_it_before_it_is_sent(
    db: str,
) -> None:
    desk = _priced("desk", *({"reply": t, "handoff_to": "none"} for t in ("Hello.", "Never.")))
    async with Sessions(handoff([desk]), db=db, prices=PRICES) as sessions:
        # The first call costs 0.30 EUR; the second's prompt alone (~0.34) would pass 0.60, so
        # it is refused before it is sent. (A lone call may try with what is left, as with
        # tokens: its completion is reserved at 512 tokens, 2.05 EUR, more than the limit.)
        session = await sessions.aopen("alice", limits=Limits(cost=0.6))
        first = await session.asend("Hi")
        with pytest.raises(BudgetExceeded) as caught:
            await session.asend("Again")
        trail = await sessions.aaudit(session.id, "alice")
    assert caught.value.limit == "cost"
    assert "cost limit" in str(caught.value)
    assert caught.value.used.cost == pytest.approx(first.usage.cost)
    assert len(desk.models[0].calls) == 1  # type: ignore[union-attr]  # the second never went
    assert [e.details["limit"] for e in trail if e.kind == "budget_hit"] == ["cost"]


async def test_parallel_calls_reserve_their_cost_before_they_start(db: str) -> None:
    panel = [_priced(name, _vote("yes")) for name in ("a", "b", "c", "d")]
    async with Sessions(consensus(panel, options=["yes", "no"]), db=db, prices=PRICES) as s:
        session = await s.aopen("alice", limits=Limits(cost=3.0))
        with pytest.raises(BudgetExceeded) as caught:
            await session.asend("Ship it?")
    calls = sum(len(agent.models[0].calls) for agent in panel)  # type: ignore[union-attr,misc]
    assert 1 <= calls < 4
    assert caught.value.used.cost <= 3.0


async def test_the_embedded_model_costs_nothing_and_unpriced_models_are_refused_with_a_limit(
    db: str,
) -> None:
    assert (
        Prices({}).of({"ls_provider": "local", "ls_model_name": "qwen"})[1]
        == Prices({}).of({"ls_provider": "local"})[1]
    )
    assert Prices({}).of({"ls_provider": "local"})[1].of(1000, 1000) == 0.0  # type: ignore[union-attr]
    async with Sessions(_desk("Hello."), db=db) as sessions:  # no price for gpt-test
        free = await sessions.aopen("alice")
        assert (await free.asend("Hi")).usage.cost == 0.0  # no limit: counted as unknown (0)
    async with Sessions(_desk("Hello."), db=db) as sessions:
        capped = await sessions.aopen("alice", limits=Limits(cost=1.0))
        with pytest.raises(UnpricedModel, match="no price for model 'scriptedmodel:gpt-test'"):
            await capped.asend("Hi")


@pytest.mark.parametrize(
    "table",
    [
        {"m": {"prompt": -1, "completion": 1}},
        {"m": {"prompt": 1, "completion": float("nan")}},
        {"m": {"prompt": 1, "completion": 1, "per": 0}},
        {"m": {"prompt": 1}},
        {"m": {"prompt": 1, "completion": 1, "currency": "EUR"}},
        {"m": {"prompt": True, "completion": 1}},
    ],
)
def test_a_bad_price_is_refused_with_a_typed_error(table: dict[str, Any]) -> None:
    with pytest.raises(InvalidPrice):
        Prices(table)


def test_prices_come_from_a_json_file_named_by_accord_prices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.json"
    table = {
        "currency": "EUR",
        "models": {"openai:gpt-4o-mini": {"prompt": 0.15, "completion": 0.6, "per": 1_000_000}},
    }
    path.write_text(json.dumps(table))
    monkeypatch.setenv("ACCORD_PRICES", str(path))
    prices = Prices.default()
    model, price = prices.of({"ls_provider": "openai", "ls_model_name": "gpt-4o-mini"})
    assert (prices.currency, model) == ("EUR", "openai:gpt-4o-mini")
    assert price is not None
    assert price.of(1_000_000, 1_000_000) == pytest.approx(0.75)
    path.write_text(json.dumps({"models": {"x": {"prompt": -0.1, "completion": 0}}}))
    with pytest.raises(InvalidPrice, match="'x'"):
        Prices.default()
    with pytest.raises(ValueError, match="cost must be positive"):
        Limits(cost=-1)
