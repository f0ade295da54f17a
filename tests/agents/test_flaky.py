"""Flaky endpoints do not become an outage: chains over two real HTTP servers at 30% faults.

Regression of issue 14: at 30% faults on 2 endpoints, 69% of turns completed, because the
breaker counted a call's own retries and other calls' failures as one streak, opened both
breakers, and doubled their cooldowns to 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents import ChainPolicy, FaultServer, canned, model_chain
from accord.agents.errors import AllModelsFailed, CircuitOpen
from accord.agents.models import Backoff, Breakers
from accord.agents.models.breaker import BreakerState

FAST = Backoff(attempts=3, initial=0.001, max_interval=0.01)
CALLS = 300


@pytest.fixture
def flaky() -> Iterator[tuple[FaultServer, FaultServer]]:
    with (
        FaultServer(canned("first"), rate_500=0.2, rate_reset=0.1, seed=1) as first,
        FaultServer(canned("second"), rate_500=0.2, rate_reset=0.1, seed=2) as second,
    ):
        yield first, second


def _model(server: FaultServer) -> ChatOpenAI:
    return ChatOpenAI(model="m", base_url=server.url, api_key=SecretStr("x"))


def _chain(*servers: FaultServer, **policy: Any) -> Any:
    options = {"backoff": FAST, "breakers": Breakers(), **policy}
    return model_chain([_model(s) for s in servers], policy=ChainPolicy(**options))


def test_serial_calls_complete_at_30_percent_faults(
    flaky: tuple[FaultServer, FaultServer],
) -> None:
    chain = _chain(*flaky)
    done = 0
    for _ in range(CALLS):
        with contextlib.suppress(AllModelsFailed):
            done += bool(chain.invoke("hi").text)
    assert done >= 0.99 * CALLS
    assert flaky[0].counts["500"] + flaky[0].counts["reset"] > 0.2 * CALLS  # faults were real


async def test_concurrent_calls_complete_at_30_percent_faults(
    flaky: tuple[FaultServer, FaultServer],
) -> None:
    chain = _chain(*flaky)

    async def call() -> bool:
        try:
            return bool((await chain.ainvoke("hi")).text)
        except AllModelsFailed:
            return False

    done = 0
    for _ in range(CALLS // 10):
        done += sum(await asyncio.gather(*(call() for _ in range(10))))
    assert done >= 0.99 * CALLS


def test_an_endpoint_opened_on_one_calls_evidence_is_asked_when_nothing_else_answers() -> None:
    with (
        FaultServer(canned("first"), rate_500=1.0) as first,
        FaultServer(canned("second"), rate_500=1.0) as second,
    ):
        chain = _chain(first, second)
        with pytest.raises(AllModelsFailed):
            chain.invoke("hi")
        assert set(chain.policy.breakers.states().values()) == {BreakerState.OPEN}
        first.faults.rate_500 = 0.0  # it was a blip

        assert chain.invoke("hi").text == "first"  # both skipped, then the first asked after all
        assert chain.policy.breakers.get(f"openai:m@{first.url}").state is BreakerState.CLOSED
        assert (first.counts, second.counts) == ({"500": 3, "ok": 1}, {"500": 3})


def test_without_the_last_resort_open_endpoints_fail_at_once() -> None:
    with (
        FaultServer(canned("first"), rate_500=1.0) as first,
        FaultServer(canned("second"), rate_500=1.0) as second,
    ):
        chain = _chain(first, second, last_resort=False)
        with pytest.raises(AllModelsFailed):
            chain.invoke("hi")
        first.faults.rate_500 = 0.0
        with pytest.raises(AllModelsFailed) as skipped:
            chain.invoke("hi")
        assert all(isinstance(e, CircuitOpen) for _, e in skipped.value.errors)
        assert first.requests == 3
