"""Model chains over real HTTP: retries on transient errors only, breakers, fallbacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableConfig
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from accord.agents import (
    CallRefused,
    ChainPolicy,
    FaultServer,
    MalformedOutput,
    ModelError,
    ScriptedModel,
    canned,
    model_chain,
    structured,
)
from accord.agents.errors import AllModelsFailed, CircuitOpen
from accord.agents.models import Backoff, Breakers, BreakerSettings
from accord.agents.models.breaker import BreakerState
from accord.agents.models.chain import retryable, unhealthy
from accord.agents.models.clients import health_check, single_attempt
from accord.agents.testing.upstreams import Answer, Upstream

FAST = Backoff(attempts=3, initial=0.001, max_interval=0.01)


class Reply(BaseModel):
    reply: str


@pytest.fixture
def breakers() -> Breakers:
    return Breakers(BreakerSettings(cooldown=60))


@pytest.fixture
def policy(breakers: Breakers) -> ChainPolicy:
    return ChainPolicy(backoff=FAST, breakers=breakers)


@pytest.fixture
def primary() -> Iterator[FaultServer]:
    with FaultServer(canned(data={"reply": "from primary"})) as server:
        yield server


@pytest.fixture
def fallback() -> Iterator[FaultServer]:
    with FaultServer(canned(data={"reply": "from fallback"})) as server:
        yield server


def _model(server: FaultServer, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(model="m", base_url=server.url, api_key=SecretStr("x"), **options)


def _chain(policy: ChainPolicy, *servers: FaultServer) -> Any:
    return model_chain([_model(s) for s in servers], lambda m: structured(m, Reply), policy=policy)


def _key(server: FaultServer) -> str:
    return f"openai:m@{server.url}"


async def test_an_outage_costs_one_fast_failure_then_nothing(
    primary: FaultServer, fallback: FaultServer, policy: ChainPolicy, breakers: Breakers
) -> None:
    chain = _chain(policy, primary, fallback)
    primary.faults.rate_500 = 1.0

    first = await chain.ainvoke("hi")
    assert first == Reply(reply="from fallback")
    assert primary.counts == {"500": 3}  # retried with backoff, then the breaker opened
    assert breakers.states()[_key(primary)] is BreakerState.OPEN

    for _ in range(5):
        assert chain.invoke("hi") == Reply(reply="from fallback")
        assert await chain.ainvoke("hi") == Reply(reply="from fallback")
    assert primary.requests == 3  # an open breaker costs no network attempt
    assert fallback.counts == {"ok": 11}


@pytest.mark.parametrize("fault", ["rate_429", "rate_500", "rate_reset", "rate_malformed"])
def test_transient_faults_are_retried_until_they_pass(
    fault: str, fallback: FaultServer, policy: ChainPolicy, breakers: Breakers
) -> None:
    with FaultServer(_failing_first(2, fault)) as flaky:
        chain = _chain(policy, flaky, fallback)
        assert chain.invoke("hi") == Reply(reply="from flaky")
        assert flaky.requests == 3
    assert fallback.requests == 0
    assert breakers.states()[_key(flaky)] is BreakerState.CLOSED


def test_a_client_error_is_not_retried_and_leaves_the_breaker_closed(
    fallback: FaultServer, policy: ChainPolicy, breakers: Breakers
) -> None:
    def bad_request(method: str, path: str, body: bytes) -> Answer:
        return Answer(400, "application/json", b'{"error": {"message": "context too long"}}')

    with FaultServer(bad_request) as strict:
        chain = _chain(policy, strict, fallback)
        for _ in range(4):
            assert chain.invoke("hi") == Reply(reply="from fallback")
        assert strict.requests == 4  # one request per call: no retries, never skipped
    assert breakers.states()[_key(strict)] is BreakerState.CLOSED


def test_malformed_output_goes_to_the_fallback_without_transport_retries(
    fallback: FaultServer, policy: ChainPolicy, breakers: Breakers
) -> None:
    with FaultServer(canned(data={"wrong": "shape"})) as sloppy:
        chain = _chain(policy, sloppy, fallback)
        assert chain.invoke("hi") == Reply(reply="from fallback")
        assert sloppy.requests == 3  # structured() asked and re-asked twice; nothing more
    assert breakers.states()[_key(sloppy)] is BreakerState.CLOSED


async def test_when_every_model_fails_the_error_names_each_endpoint(
    primary: FaultServer, fallback: FaultServer, policy: ChainPolicy
) -> None:
    chain = _chain(policy, primary, fallback)
    primary.faults.rate_500 = 1.0
    fallback.down()

    with pytest.raises(AllModelsFailed) as first:
        await chain.ainvoke("hi")
    assert isinstance(first.value, ModelError)
    assert [name for name, _ in first.value.errors] == [_key(primary), _key(fallback)]
    (_, down), (_, refused) = first.value.errors
    assert isinstance(down, openai.InternalServerError)
    assert isinstance(refused, openai.APIConnectionError)
    assert "add a healthy fallback model" in str(first.value)

    # Each opened on one call's evidence, so still asked as a last resort until the failure
    # rate confirms it: 5 calls (BreakerSettings.min_calls), each a few fast failures.
    for _ in range(4):
        with pytest.raises(AllModelsFailed):
            chain.invoke("hi")
    assert primary.requests == 15
    with pytest.raises(AllModelsFailed) as skipped:
        chain.invoke("hi")
    assert all(isinstance(e, CircuitOpen) for _, e in skipped.value.errors)
    assert unhealthy(skipped.value)
    assert primary.requests == 15  # then no call reaches either endpoint


def test_a_chain_of_one_endpoint_raises_its_own_error_then_skips_it(
    primary: FaultServer, policy: ChainPolicy
) -> None:
    chain = _chain(policy, primary)
    primary.faults.rate_429 = 1.0
    with pytest.raises(openai.RateLimitError):
        chain.invoke("hi")
    with pytest.raises(CircuitOpen, match="circuit breaker is open") as skipped:
        chain.invoke("hi")
    assert skipped.value.endpoint == _key(primary)
    assert unhealthy(skipped.value)
    assert primary.requests == 3


def test_a_recovered_endpoint_is_probed_once_and_used_again(
    primary: FaultServer, fallback: FaultServer
) -> None:
    breakers = Breakers(BreakerSettings(min_calls=1, cooldown=0))
    chain = _chain(ChainPolicy(backoff=Backoff(attempts=1), breakers=breakers), primary, fallback)
    primary.down()
    assert chain.invoke("hi") == Reply(reply="from fallback")
    assert breakers.states()[_key(primary)] is BreakerState.OPEN
    primary.up()
    assert chain.invoke("hi") == Reply(reply="from primary")  # the probe
    assert breakers.states()[_key(primary)] is BreakerState.CLOSED


def test_agents_naming_one_endpoint_share_its_health(
    primary: FaultServer, fallback: FaultServer, policy: ChainPolicy
) -> None:
    first_agent = _chain(policy, primary, fallback)
    second_agent = _chain(policy, primary, fallback)
    primary.faults.rate_reset = 1.0
    first_agent.invoke("hi")
    assert second_agent.invoke("hi") == Reply(reply="from fallback")
    assert primary.requests == 3  # the second agent skipped the endpoint the first found dead


def test_two_regions_of_one_model_have_their_own_breakers(
    primary: FaultServer, fallback: FaultServer, policy: ChainPolicy, breakers: Breakers
) -> None:
    primary.faults.rate_500 = 1.0
    _chain(policy, primary, fallback).invoke("hi")
    states = breakers.states()
    assert (states[_key(primary)], states[_key(fallback)]) == (BreakerState.OPEN, "closed")


class Refuse(BaseCallbackHandler):
    raise_error = True

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        raise CallRefused("the session's token budget is spent")


async def test_a_refused_call_is_not_retried_nor_passed_on_nor_counted(
    primary: FaultServer, fallback: FaultServer, policy: ChainPolicy, breakers: Breakers
) -> None:
    config: RunnableConfig = {"callbacks": [Refuse()]}
    with pytest.raises(CallRefused):
        await _chain(policy, primary, fallback).ainvoke("hi", config)
    assert (primary.requests, fallback.requests) == (0, 0)
    assert set(breakers.states().values()) <= {BreakerState.CLOSED}


def test_in_process_models_fall_back_without_retries_or_breakers(policy: ChainPolicy) -> None:
    broken = ScriptedModel([ConnectionError("down")], model_name="broken")
    spare = ScriptedModel([{"reply": "spare"}], model_name="spare")
    chain = model_chain([broken, spare], lambda m: structured(m, Reply), policy=policy)
    assert chain.invoke("hi") == Reply(reply="spare")
    broken.assert_exhausted()
    assert policy.breakers.states() == {}
    lone = ScriptedModel([{"reply": "x"}])
    assert model_chain([lone], policy=policy) is lone  # nothing to wrap: the hot path is bare


def test_the_sdk_does_not_retry_behind_the_chain(primary: FaultServer) -> None:
    quiet = single_attempt(_model(primary, max_retries=5))
    primary.faults.rate_500 = 1.0
    with pytest.raises(openai.InternalServerError):
        quiet.invoke("hi")
    assert primary.requests == 1


def test_health_check_asks_the_server(primary: FaultServer) -> None:
    check = health_check(_model(primary))
    assert check is not None
    assert check()
    primary.faults.rate_500 = 1.0
    assert not check()
    assert health_check(ScriptedModel([])) is None


def test_chains_can_watch_their_endpoints(primary: FaultServer, fallback: FaultServer) -> None:
    breakers = Breakers(BreakerSettings(min_calls=1, cooldown=3600))
    policy = ChainPolicy(backoff=Backoff(attempts=1), health_interval=3600, breakers=breakers)
    chain = _chain(policy, primary, fallback)
    try:
        primary.faults.rate_500 = 1.0
        chain.invoke("hi")
        breakers.check_now()
        assert chain.invoke("hi") == Reply(reply="from fallback")  # still down: no probe
        assert primary.requests == 2  # the call, the check, and nothing else
        primary.faults.rate_500 = 0.0
        breakers.check_now()
        assert chain.invoke("hi") == Reply(reply="from primary")
    finally:
        breakers.stop_watching()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (httpx.ConnectError("refused"), True),
        (json.JSONDecodeError("bad", "{", 0), True),
        (ValueError("bad input"), False),
        (MalformedOutput("no", raw="", schema_name="R", attempts=3), False),
        (CallRefused("budget"), False),
        (CircuitOpen("e", 1.0), False),
    ],
)
def test_only_transient_errors_are_retryable(error: BaseException, expected: bool) -> None:
    assert retryable(error) is expected


def _failing_first(times: int, fault: str) -> Upstream:
    """An upstream that answers `fault`'s way `times` times, then well."""
    healthy = canned(data={"reply": "from flaky"})
    calls: list[int] = []
    broken = {
        "rate_429": Answer(429, "application/json", b'{"error": {"message": "slow down"}}'),
        "rate_500": Answer(503, "application/json", b'{"error": {"message": "busy"}}'),
        "rate_malformed": Answer(200, "application/json", b'{"choices": ['),
    }

    def answer(method: str, path: str, body: bytes) -> Answer:
        calls.append(1)
        if len(calls) > times:
            return healthy(method, path, body)
        if fault == "rate_reset":
            raise ConnectionResetError  # the server turns it into a 502
        return broken[fault]

    return answer


def test_an_agent_is_down_only_when_every_model_is() -> None:
    malformed = MalformedOutput("no", raw="", schema_name="R", attempts=3)
    down = AllModelsFailed([("a", ConnectionError()), ("b", CircuitOpen("b", 1.0))])
    confused = AllModelsFailed([("a", ConnectionError()), ("b", malformed)])
    assert unhealthy(down)
    assert not unhealthy(confused)
    assert not unhealthy(ValueError("bad request"))
