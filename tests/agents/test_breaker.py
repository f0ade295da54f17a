"""Circuit breakers: closed, open, half-open with one probe; shared per endpoint; health checks."""

from __future__ import annotations

import threading

import pytest
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents import ScriptedModel
from accord.agents.models import Breakers, BreakerSettings
from accord.agents.models.breaker import BreakerState, CircuitBreaker, endpoint_key
from accord.agents.models.local.chat import LocalChatModel

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _breaker(clock: Clock, **settings: float) -> CircuitBreaker:
    return CircuitBreaker("e", BreakerSettings(**settings), clock=clock)  # type: ignore[arg-type]


def test_opens_after_the_threshold_of_failures_in_a_row(clock: Clock) -> None:
    breaker = _breaker(clock, threshold=3)
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # a success in between starts the count again
    breaker.failed()
    breaker.failed()
    assert (breaker.state, breaker.allow()) == (CLOSED, True)
    breaker.failed()
    assert (breaker.state, breaker.allow()) == (OPEN, False)


def test_after_the_cooldown_exactly_one_probe_goes_through(clock: Clock) -> None:
    breaker = _breaker(clock, threshold=1, cooldown=5)
    breaker.failed()
    clock.now += 4.9
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.allow()
    assert breaker.state is HALF_OPEN
    assert not breaker.allow()  # everyone else still skips while the probe is out
    breaker.succeeded()
    assert (breaker.state, breaker.allow(), breaker.retry_in()) == (CLOSED, True, 0.0)


def test_a_failed_probe_reopens_with_a_longer_cooldown(clock: Clock) -> None:
    breaker = _breaker(clock, threshold=1, cooldown=5, max_cooldown=15)
    breaker.failed()
    for cooldown in (10, 15, 15):
        clock.now += 60
        assert breaker.allow()
        breaker.failed()
        assert (breaker.state, breaker.retry_in()) == (OPEN, cooldown)
    clock.now += 60
    assert breaker.allow()
    breaker.succeeded()
    breaker.failed()  # closed again with the first cooldown
    assert breaker.retry_in() == 5


def test_a_probe_without_a_verdict_lets_the_next_request_probe(clock: Clock) -> None:
    breaker = _breaker(clock, threshold=1, cooldown=5)
    breaker.failed()
    clock.now += 5
    assert breaker.allow()
    breaker.released()  # e.g. the probing request was cancelled
    assert breaker.state is OPEN
    assert breaker.allow()


def test_listeners_hear_every_change(clock: Clock) -> None:
    heard: list[tuple[str, str, str]] = []
    breaker = CircuitBreaker(
        "e",
        BreakerSettings(threshold=1, cooldown=1),
        clock=clock,
        listeners=[lambda e, old, new: heard.append((e, old.value, new.value))],
    )
    breaker.failed()
    clock.now += 1
    breaker.allow()
    breaker.succeeded()
    breaker.succeeded()  # no change, no news
    assert heard == [
        ("e", "closed", "open"),
        ("e", "open", "half_open"),
        ("e", "half_open", "closed"),
    ]


def test_the_registry_shares_one_breaker_per_endpoint() -> None:
    breakers = Breakers(BreakerSettings(threshold=1))
    breakers.get("a").failed()
    assert breakers.get("a") is breakers.get("a")
    assert breakers.states() == {"a": OPEN}
    assert breakers.get("b").allow()
    breakers.configure(BreakerSettings(threshold=4, cooldown=30))
    assert breakers.get("a").settings.threshold == 4
    assert breakers.get("a").retry_in() > 5  # the longer cooldown applies at once
    breakers.reset()
    assert breakers.states() == {}


def test_health_checks_cut_a_cooldown_short_or_extend_it() -> None:
    breakers = Breakers(BreakerSettings(threshold=1, cooldown=60))
    healthy = {"up": False, "down": False, "broken": True}

    def check(name: str) -> bool:
        if name == "broken":
            raise OSError("unreachable")
        return healthy[name]

    for name in healthy:
        breakers.get(name).failed()
        breakers.watch(name, lambda name=name: check(name), interval=3600)  # type: ignore[misc]
    healthy["up"] = True
    breakers.check_now()
    assert breakers.get("up").retry_in() == 0
    assert breakers.get("up").allow()
    assert not breakers.get("down").allow()
    assert not breakers.get("broken").allow()
    breakers.stop_watching()


def test_the_background_watcher_runs_the_checks() -> None:
    breakers = Breakers(BreakerSettings(threshold=1, cooldown=3600))
    checked, calls = threading.Event(), []

    def check() -> bool:
        calls.append(1)
        if len(calls) > 1:  # the first verdict has been applied by now
            checked.set()
        return True

    breakers.get("e").failed()
    breakers.watch("e", check, interval=0.01)
    try:
        assert checked.wait(timeout=10)
    finally:
        breakers.stop_watching()
    assert breakers.get("e").allow()


def test_endpoints_are_keyed_by_model_and_url() -> None:
    a = ChatOpenAI(model="m", base_url="http://127.0.0.1:1/v1/", api_key=SecretStr("x"))
    a2 = ChatOpenAI(model="m", base_url="http://127.0.0.1:1/v1", api_key=SecretStr("x"))
    region = ChatOpenAI(model="m", base_url="http://127.0.0.1:2/v1", api_key=SecretStr("x"))
    other = ChatOpenAI(model="n", base_url="http://127.0.0.1:1/v1", api_key=SecretStr("x"))
    keys = {endpoint_key(m) for m in (a, a2, region, other)}
    assert keys == {
        "openai:m@http://127.0.0.1:1/v1",
        "openai:m@http://127.0.0.1:2/v1",
        "openai:n@http://127.0.0.1:1/v1",
    }
    assert (
        endpoint_key(ChatOllama(model="llama3.2")) == "chatollama:llama3.2@http://localhost:11434"
    )
    assert endpoint_key(LocalChatModel()) == "local:qwen2.5-coder-0.5b-instruct"
    assert endpoint_key(ScriptedModel(["hi"])) is None  # in-process: nothing to break
