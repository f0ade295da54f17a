"""Circuit breakers: a failure rate over a sliding window, a dead endpoint known after one call,
half-open with bounded probes; shared per endpoint; health checks."""

from __future__ import annotations

import threading

import pytest
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents import ScriptedModel
from accord.agents.errors import ModelSpecError
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


def test_opens_on_the_failure_rate_of_the_window_once_it_holds_enough_calls(
    clock: Clock,
) -> None:
    breaker = _breaker(clock, window=10, min_calls=4, failure_rate=0.5)
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert breaker.state is CLOSED  # 2 of 3: too few calls to judge
    for _ in range(3):
        breaker.succeeded()
    breaker.failed()
    assert breaker.state is CLOSED  # 3 of 7
    breaker.failed()
    assert (breaker.state, breaker.allow(), breaker.confirmed) == (OPEN, False, True)  # 4 of 8


def test_failures_older_than_the_window_are_forgotten(clock: Clock) -> None:
    breaker = _breaker(clock, window=10, min_calls=2, failure_rate=0.6)
    breaker.failed()
    breaker.succeeded()
    breaker.succeeded()
    assert breaker.failures == 1
    clock.now += 11
    assert breaker.failures == 0  # the window keeps the last two calls, both successes
    breaker.failed()
    assert breaker.state is CLOSED  # 1 of 2 (the old failure would have made it 2 of 4)


def test_calls_slower_than_the_window_still_add_up_to_a_rate(clock: Clock) -> None:
    breaker = _breaker(clock, window=10, min_calls=3)
    for _ in range(3):
        clock.now += 20  # e.g. a timeout each
        breaker.failed()  # no start given: the rate alone decides
    assert (breaker.state, breaker.confirmed) == (OPEN, True)


def test_a_flaky_endpoint_stays_closed_whatever_the_order_of_its_failures(clock: Clock) -> None:
    """Regression (issue 14): three failures in a row opened the breaker of an endpoint that
    served 70% of calls, so two flaky endpoints became an outage. The rate decides now."""
    breaker = _breaker(clock, window=30, min_calls=5, failure_rate=0.5)
    for _ in range(10):  # 30% failed calls, each streak of three back to back
        for ok in (True, True, True, True, True, True, True, False, False, False):
            clock.now += 0.1
            if ok:
                breaker.succeeded()
            else:  # each failed call took 350 ms, while other calls were served
                breaker.failed(started=clock.now - 0.35)
            assert breaker.state is CLOSED


def test_a_call_that_timed_out_while_the_endpoint_served_no_one_opens_it_at_once(
    clock: Clock,
) -> None:
    breaker = _breaker(clock, min_calls=5)
    breaker.succeeded()
    started = clock.now + 1
    clock.now += 21  # a hung request
    breaker.failed(started=started)
    assert (breaker.state, breaker.confirmed) == (OPEN, False)  # one call, not five
    for failed in (2, 3, 4):  # asked again as a last resort: its failures go on counting
        breaker.failed(started=clock.now)
        assert (breaker.state, breaker.confirmed) == (OPEN, failed == 4)  # 4 of 5 calls


def test_while_others_are_served_failures_are_judged_by_their_rate(clock: Clock) -> None:
    breaker = _breaker(clock, min_calls=5)
    for calls in (3, 6):
        started = clock.now
        clock.now += 1
        breaker.succeeded()  # another session's call, served meanwhile
        breaker.failed(started=started)
        breaker.failed(started=started)
        assert breaker.state is (OPEN if calls >= 5 else CLOSED)  # 2 of 3, then 4 of 6
    assert breaker.confirmed


def test_another_calls_success_meanwhile_keeps_a_lone_failure_from_opening(clock: Clock) -> None:
    breaker = _breaker(clock, min_calls=5)
    started = clock.now
    clock.now += 1
    breaker.succeeded()  # another session got its answer while this call waited
    clock.now += 1
    breaker.failed(started=started)
    assert breaker.state is CLOSED


def test_after_the_cooldown_a_bounded_number_of_probes_go_through(clock: Clock) -> None:
    breaker = _breaker(clock, min_calls=1, cooldown=5, probes=2)
    breaker.failed()
    clock.now += 4.9
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.allow()
    assert breaker.state is HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # everyone else still skips while the probes are out
    breaker.succeeded()
    assert (breaker.state, breaker.allow(), breaker.retry_in()) == (CLOSED, True, 0.0)


def test_a_failed_probe_reopens_with_a_longer_cooldown_up_to_the_cap(clock: Clock) -> None:
    breaker = _breaker(clock, min_calls=1, cooldown=5, max_cooldown=15)
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


def test_the_default_cooldown_never_grows_into_a_minute_long_outage(clock: Clock) -> None:
    breaker = CircuitBreaker("e", clock=clock)
    breaker.failed(started=clock.now)
    for _ in range(10):
        clock.now += breaker.retry_in()
        assert breaker.allow()
        breaker.failed(started=clock.now)
    assert breaker.retry_in() <= 30


def test_a_probe_without_a_verdict_frees_its_place(clock: Clock) -> None:
    breaker = _breaker(clock, min_calls=1, cooldown=5)
    breaker.failed()
    clock.now += 5
    assert breaker.allow()
    assert not breaker.allow()
    breaker.released()  # e.g. the probing request was cancelled
    assert breaker.allow()


def test_a_probe_whose_caller_vanished_frees_its_place_after_the_window(clock: Clock) -> None:
    breaker = _breaker(clock, min_calls=1, cooldown=5, window=30)
    breaker.failed()
    clock.now += 5
    assert breaker.allow()
    clock.now += 29
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_a_disabled_breaker_never_opens(clock: Clock) -> None:
    breaker = _breaker(clock, min_calls=1, enabled=False)
    for _ in range(10):
        breaker.failed(started=clock.now)
    assert (breaker.state, breaker.allow()) == (CLOSED, True)


@pytest.mark.parametrize(
    "settings",
    [{"failure_rate": 0}, {"failure_rate": 1.5}, {"min_calls": 0}, {"probes": 0}, {"window": 0}],
)
def test_bad_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ModelSpecError):
        BreakerSettings(**settings)  # type: ignore[arg-type]


def test_listeners_hear_every_change(clock: Clock) -> None:
    heard: list[tuple[str, str, str]] = []
    breaker = CircuitBreaker(
        "e",
        BreakerSettings(min_calls=1, cooldown=1),
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
    breakers = Breakers(BreakerSettings(min_calls=1))
    breakers.get("a").failed()
    assert breakers.get("a") is breakers.get("a")
    assert breakers.states() == {"a": OPEN}
    assert breakers.get("b").allow()
    breakers.configure(BreakerSettings(min_calls=4, cooldown=30))
    assert breakers.get("a").settings.min_calls == 4
    assert breakers.get("a").retry_in() > 5  # the longer cooldown applies at once
    breakers.reset()
    assert breakers.states() == {}


def test_health_checks_cut_a_cooldown_short_or_extend_it() -> None:
    breakers = Breakers(BreakerSettings(min_calls=1, cooldown=60))
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
    breakers = Breakers(BreakerSettings(min_calls=1, cooldown=3600))
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
    assert endpoint_key(LocalChatModel()) == "local:qwen2.5-coder-1.5b-instruct"
    assert endpoint_key(ScriptedModel(["hi"])) is None  # in-process: nothing to break
