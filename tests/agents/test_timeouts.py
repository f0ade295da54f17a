"""Time limits of model calls over real HTTP: a hung endpoint costs one timeout, then nothing.

Regressions of issue 14: `"openai:<model>"` had no timeout, so a server that accepts and never
answers held the turn forever; with a timeout, the chain retried it three times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents import ChainPolicy, FaultServer, canned, model_chain, resolve_model
from accord.agents.errors import ModelSpecError, ModelTimeout
from accord.agents.models import Backoff, Breakers, BreakerSettings, Timeouts
from accord.agents.models.breaker import BreakerState
from accord.agents.models.chain import unhealthy
from accord.agents.models.clients import single_attempt
from accord.agents.models.local import chat as local_chat
from accord.agents.models.timeouts import LOCAL, OLLAMA, REMOTE, limit_hit, timeouts_of

FAST = Backoff(attempts=3, initial=0.001, max_interval=0.01)
HANG = 10.0
"""How long the hung server holds a request: the old code waited this long (a test failure),
not forever (a stuck suite)."""


@pytest.fixture(autouse=True)
def _online(online: None) -> None:
    """The models are built from ids, which offline mode refuses; they reach 127.0.0.1 only."""


@pytest.fixture
def hung() -> Iterator[FaultServer]:
    with FaultServer(canned("from hung"), rate_hang=1.0) as server:
        server.faults.hang_for = HANG
        yield server


@pytest.fixture
def healthy() -> Iterator[FaultServer]:
    with FaultServer(canned("from healthy")) as server:
        yield server


def _policy(**settings: Any) -> ChainPolicy:
    return ChainPolicy(backoff=FAST, breakers=Breakers(BreakerSettings(**settings)))


async def _call(chain: Any, mode: str) -> tuple[Any, float]:
    started = time.perf_counter()
    if mode == "ainvoke":
        result = await chain.ainvoke("hi")
    else:
        result = await asyncio.to_thread(chain.invoke, "hi")
    return result, time.perf_counter() - started


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_a_hung_endpoint_costs_one_timeout_then_nothing(
    hung: FaultServer, healthy: FaultServer, mode: str
) -> None:
    policy = _policy()
    models = [
        resolve_model(f"openai:m@{hung.url}?first_byte=0.5&total=2"),
        resolve_model(f"openai:m@{healthy.url}"),
    ]
    chain = model_chain(models, policy=policy)

    first, took = await _call(chain, mode)
    assert first.text == "from healthy"
    assert took < HANG / 2  # the first byte's limit, not the hang
    assert hung.counts == {"hang": 1}  # one request: a timeout is not retried
    assert policy.breakers.states()[f"openai:m@{hung.url}"] is BreakerState.OPEN

    for _ in range(5):
        again, _ = await _call(chain, mode)
        assert again.text == "from healthy"
    assert hung.requests == 1  # then nothing while its breaker is open
    assert healthy.counts == {"ok": 6}


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_the_total_limit_ends_a_call_the_client_would_still_wait_for(
    hung: FaultServer, mode: str
) -> None:
    chain = model_chain(
        [resolve_model(f"openai:m@{hung.url}?first_byte=30&total=0.5")], policy=_policy()
    )
    started = time.perf_counter()
    with pytest.raises(ModelTimeout) as caught:
        await _call(chain, mode)
    assert time.perf_counter() - started < HANG / 2
    assert (caught.value.limit, caught.value.seconds) == ("total", 0.5)
    assert "total=60" in str(caught.value)  # says how to raise it
    assert isinstance(caught.value, TimeoutError)
    assert unhealthy(caught.value)
    assert hung.requests == 1


async def test_a_silent_server_fails_on_the_first_byte_limit(hung: FaultServer) -> None:
    chain = model_chain([resolve_model(f"openai:m@{hung.url}?first_byte=0.3")], policy=_policy())
    with pytest.raises(ModelTimeout) as caught:
        await chain.ainvoke("hi")
    assert caught.value.limit == "first_byte"
    assert isinstance(caught.value.__cause__, openai.APITimeoutError)


async def test_half_open_probes_time_out_too(hung: FaultServer, healthy: FaultServer) -> None:
    policy = _policy(cooldown=0)  # every call may probe
    hung_model = resolve_model(f"openai:m@{hung.url}?first_byte=0.3&total=1")
    chain = model_chain([hung_model, resolve_model(f"openai:m@{healthy.url}")], policy=policy)
    started = time.perf_counter()
    for _ in range(3):
        assert (await chain.ainvoke("hi")).text == "from healthy"
    assert time.perf_counter() - started < HANG / 2  # no probe hung on
    assert hung.counts == {"hang": 3}  # the first call, then one timed probe per cooldown


def test_chained_clients_get_the_default_limits_when_built_without_any() -> None:
    bare = ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key=SecretStr("x"))
    assert bare.request_timeout is None  # what `"openai:<model>"` used to build
    chained = single_attempt(bare, timeouts_of(bare))
    assert isinstance(chained, ChatOpenAI)
    assert chained.request_timeout == REMOTE.openai()
    assert chained.root_client.timeout == REMOTE.openai()
    assert chained.root_async_client.timeout == REMOTE.openai()
    assert chained.max_retries == 0

    own = ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key=SecretStr("x"), timeout=7)
    assert timeouts_of(own) == Timeouts(connect=5, first_byte=7, total=30)
    kept = single_attempt(own, timeouts_of(own))
    assert isinstance(kept, ChatOpenAI)
    assert kept.request_timeout == 7  # its own


def test_every_model_id_gets_limits_by_default() -> None:
    remote = resolve_model("openai:m@http://127.0.0.1:9/v1")
    assert isinstance(remote, ChatOpenAI)
    assert remote.request_timeout == REMOTE.openai()
    assert timeouts_of(remote) == REMOTE == Timeouts(connect=5, first_byte=20, total=30)

    tuned = resolve_model("openai:m@http://127.0.0.1:9/v1?connect=2&first_byte=40&total=90")
    assert timeouts_of(tuned) == Timeouts(connect=2, first_byte=40, total=90)
    assert tuned.request_timeout == openai.Timeout(40, connect=2, pool=90)  # type: ignore[attr-defined]

    local = resolve_model("local")
    assert timeouts_of(local) == LOCAL
    assert local.request_timeout == LOCAL.openai()  # type: ignore[attr-defined]
    assert local_chat._SYNC_HTTP.timeout == local_chat._ASYNC_HTTP.timeout == LOCAL.http()
    assert timeouts_of(resolve_model("local?total=900")).total == 900

    ollama = resolve_model("ollama:llama3.2@http://127.0.0.1:11434?total=50")
    assert timeouts_of(ollama) == Timeouts(connect=5, first_byte=120, total=50)
    assert ollama.client_kwargs == {"timeout": httpx.Timeout(50, connect=5, pool=50)}  # type: ignore[attr-defined]
    assert timeouts_of(resolve_model("ollama:llama3.2")) == OLLAMA


def test_resolve_model_takes_limits_for_any_id() -> None:
    model = resolve_model("openai:m@http://127.0.0.1:9/v1?total=45", timeouts=Timeouts(1, 2, 3))
    assert timeouts_of(model) == Timeouts(connect=1, first_byte=2, total=45)


@pytest.mark.parametrize("limits", [{"total": 0}, {"connect": -1}, {"first_byte": float("inf")}])
def test_limits_must_be_positive_and_finite(limits: dict[str, float]) -> None:
    with pytest.raises(ModelSpecError, match="positive number of seconds"):
        Timeouts(**limits)


@pytest.mark.parametrize(
    ("error", "limit"),
    [
        (httpx.ConnectTimeout("slow"), "connect"),
        (httpx.ReadTimeout("silent"), "first_byte"),
        (TimeoutError(), "total"),
        (ValueError("bad"), None),
        (ConnectionRefusedError(), None),
    ],
)
def test_which_limit_ran_out(error: BaseException, limit: str | None) -> None:
    assert limit_hit(error) == limit
