"""Model fallback chains: time limits, retries with backoff, circuit breakers, next model.

`model_chain(models, build)` is what every agent step calls instead of LangChain's
`with_fallbacks`. For each model in order: if its endpoint's breaker allows, try it within its
time limits (`Timeouts`: connect, first byte, total), retrying only errors that may pass (429,
5xx, resets, refused connections) with exponential backoff and jitter; a call that ran out of
time is not retried, since a hung endpoint would cost the same wait again. Tell the breaker
how the endpoint served the call (one outcome per call, whatever its retries), and on a final
failure go on to the next model. An open breaker costs nothing: the model is skipped without a
network attempt; one opened on a single call's evidence is still asked when no other model
answered, since a late answer beats none. When every model of a chain of several failed,
`AllModelsFailed` carries each one's last error; a chain of one raises its model's own error
(or `CircuitOpen`). In-process models (`ScriptedModel`) have no endpoint: they are neither
timed, retried nor watched, only fallen back from.

The SDK's own retries are turned off for models in a chain (one attempt is one request), so
that the breaker sees every failure and a dead endpoint is not retried behind its back.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.errors import GraphBubbleUp

from accord.agents.errors import (
    AllModelsFailed,
    CallRefused,
    CircuitOpen,
    LocalServerFailed,
    ModelError,
    ModelTimeout,
)
from accord.agents.models.breaker import Breakers, BreakerState, endpoint_key
from accord.agents.models.breaker import breakers as process_breakers
from accord.agents.models.clients import health_check, single_attempt
from accord.agents.models.flow import FlowRunnable, Invoke
from accord.agents.models.timeouts import Timeouts, limit_hit, timeouts_of
from accord.persistence import Flow, Sleep

_RETRY_STATUS = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class Backoff:
    """How often and how patiently one endpoint is retried within one request.

    The pause before attempt `n + 1` is `min(max_interval, initial * factor ** (n - 1))`,
    shortened at random by up to `jitter` of itself so that clients do not retry in lockstep.
    A 429's `Retry-After` is honoured when it is shorter than `max_interval`.

    Attributes:
        attempts: Requests per endpoint per call, the first included (1: no retry).
        initial: Seconds before the first retry.
        factor: Growth of the pause per retry.
        max_interval: Longest pause.
        jitter: Fraction of the pause taken off at random (0: none, 1: full jitter).
    """

    attempts: int = 3
    initial: float = 0.05
    factor: float = 2.0
    max_interval: float = 2.0
    jitter: float = 0.5

    def pause(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        told = _retry_after(error)
        if told is not None and told <= self.max_interval:
            return told
        pause = min(self.max_interval, self.initial * self.factor ** (attempt - 1))
        return pause * (1.0 - self.jitter * random.random())


@dataclass(frozen=True)
class ChainPolicy:
    """How model chains retry and watch their endpoints.

    Attributes:
        backoff: Retries per endpoint within one call.
        health_interval: Seconds between background health checks of an endpoint whose
            breaker is open (None: no checks; the breaker's own probe does the job).
        breakers: The registry to keep endpoint health in (default: the process's, `breakers()`).
        last_resort: When no model of a chain of several answered, ask those whose breakers
            opened on one call's evidence (unconfirmed) before giving up (False: fail at once).
    """

    backoff: Backoff = field(default_factory=Backoff)
    health_interval: float | None = None
    breakers: Breakers = field(default_factory=process_breakers)
    last_resort: bool = True


_policy = ChainPolicy()


def default_policy() -> ChainPolicy:
    """The policy of chains built without one (every agent node's)."""
    return _policy


def set_default_policy(policy: ChainPolicy) -> ChainPolicy:
    """Sets the policy of chains built from now on; returns the previous one."""
    global _policy
    previous, _policy = _policy, policy
    return previous


def retryable(error: BaseException) -> bool:
    """Whether `error` may pass if the same request is sent again.

    True for timeouts, connection errors and resets, HTTP 408/409/425/429 and 5xx, and a
    response body that is not JSON; False for other 4xx, validation errors, `MalformedOutput`
    and calls refused by the caller's own policy.
    """
    if isinstance(error, CallRefused | ModelError | GraphBubbleUp):
        return False
    if isinstance(error, TimeoutError | ConnectionError | httpx.TransportError):
        return True
    if isinstance(error, json.JSONDecodeError):
        return True  # the SDK could not parse the body: a proxy or server fault
    status = _status(error)
    if status is not None:
        return status >= 500 or status in _RETRY_STATUS
    name = type(error).__name__
    if name in ("APIConnectionError", "APITimeoutError", "APIResponseValidationError"):
        return True
    cause = error.__cause__
    return cause is not None and cause is not error and retryable(cause)


def endpoint_failed(error: BaseException) -> bool:
    """Whether `error` says the endpoint is unwell (what a circuit breaker counts)."""
    return retryable(error) or isinstance(error, LocalServerFailed | ModelTimeout)


def unhealthy(error: BaseException) -> bool:
    """Whether an agent step failed because its models are down, not because of the request."""
    if isinstance(error, AllModelsFailed):
        return all(unhealthy(e) for _, e in error.errors)
    return isinstance(error, CircuitOpen) or endpoint_failed(error)


@dataclass(frozen=True)
class Link:
    """One model of a chain: what to run, the endpoint it calls (None: in-process), its limits."""

    runnable: Runnable[Any, Any]
    endpoint: str | None
    label: str
    timeouts: Timeouts | None = None


def model_chain(
    models: Sequence[BaseChatModel],
    build: Callable[[BaseChatModel], Runnable[Any, Any]] = lambda model: model,
    *,
    policy: ChainPolicy | None = None,
) -> Runnable[Any, Any]:
    """Builds the fallback chain of `models`, each wrapped by `build`.

    Args:
        models: The models in order of preference.
        build: Turns a model into what is run, e.g. `lambda m: structured(m, Answer)` or
            `lambda m: m.bind_tools(tools)`.
        policy: Retries and health checks (default: `default_policy()`).

    Returns:
        A runnable with `invoke` and `ainvoke`. A lone in-process model (no endpoint) is
        returned as `build(model)` itself: it has no endpoint to watch or retry.

    Raises:
        AllModelsFailed: (when run) No model of a chain of several answered.
        Exception: (when run) A chain of one model raises that model's last error, or
            `CircuitOpen` when its breaker skipped it; so does any chain for a call refused by
            the caller's policy (`CallRefused`), which no other model is asked instead.
    """
    if not models:
        raise ValueError("a model chain needs at least one model")
    policy = policy or _policy
    links = []
    for model in models:
        endpoint = endpoint_key(model)
        if endpoint is None:
            links.append(Link(build(model), None, _label(model)))
            continue
        timeouts = timeouts_of(model)
        links.append(Link(build(single_attempt(model, timeouts)), endpoint, endpoint, timeouts))
        if policy.health_interval and (check := health_check(model)) is not None:
            policy.breakers.watch(endpoint, check, interval=policy.health_interval)
    if len(links) == 1 and links[0].endpoint is None:
        return links[0].runnable
    return ModelChain(links, policy)


class ModelChain(FlowRunnable[Any, Any]):
    """Runs the first model that answers; see `model_chain`, which builds it."""

    def __init__(self, links: Sequence[Link], policy: ChainPolicy) -> None:
        self.links = tuple(links)
        self.policy = policy
        self.name = "model_chain"

    def flow(self, input: Any, config: RunnableConfig | None, **kwargs: Any) -> Flow[Any]:
        """Each model in turn while its breaker allows; then the unconfirmed skipped ones."""
        run = _Run(self.policy)
        suspects = []
        for link in self.links:
            if not run.admit(link):
                if run.suspect(link):
                    suspects.append(link)
                continue
            answered, result = yield from self._ask(run, link, (input, config, kwargs))
            if answered:
                return result
        if len(self.links) > 1 and self.policy.last_resort:
            # Opened on one call's evidence, an endpoint may be fine: asking it beats failing.
            for link in suspects:
                answered, result = yield from self._ask(run, link, (input, config, kwargs), True)
                if answered:
                    return result
        raise run.give_up(len(self.links))

    def _ask(
        self, run: _Run, link: Link, call: tuple[Any, Any, Any], forced: bool = False
    ) -> Flow[tuple[bool, Any]]:
        """Asks `link`'s model within its limits, retrying while the backoff and breaker allow.

        `forced`: a last resort past an open breaker, retried as the backoff allows.
        """
        started = run.started(link)
        total = link.timeouts.total if link.timeouts is not None else None
        attempt = 0
        while True:
            attempt += 1
            try:
                result = yield Invoke(link.runnable, *call, timeout=total)
            except Exception as exc:
                pause = run.failed(link, exc, attempt, forced)
                if pause is not None and (forced or run.may_retry(link)):
                    yield Sleep(pause)
                    if forced or run.may_retry(link):
                        continue
                run.gave_up(link, started)
                return False, None
            except BaseException:
                if not forced:
                    run.released(link)
                raise
            else:
                run.succeeded(link)
                return True, result


class _Run:
    """The bookkeeping of one call through a chain."""

    __slots__ = ("breakers", "errors", "policy")

    def __init__(self, policy: ChainPolicy) -> None:
        self.policy = policy
        self.breakers = policy.breakers
        self.errors: dict[str, BaseException] = {}  # each model's last error, in chain order

    def admit(self, link: Link) -> bool:
        """Whether `link`'s model may be asked now (its breaker allows); else notes why not."""
        if link.endpoint is None:
            return True
        breaker = self.breakers.get(link.endpoint)
        if breaker.allow():
            return True
        self.errors[link.label] = CircuitOpen(link.endpoint, breaker.retry_in())
        return False

    def suspect(self, link: Link) -> bool:
        """Whether `link`'s breaker is open on one call's evidence only (see `CircuitBreaker`)."""
        return link.endpoint is not None and not self.breakers.get(link.endpoint).confirmed

    def started(self, link: Link) -> float | None:
        """The breaker's time now, when the call to `link` begins."""
        if link.endpoint is None:
            return None
        return self.breakers.get(link.endpoint).clock()

    def may_retry(self, link: Link) -> bool:
        """Whether a retry may go to `link`'s endpoint: only while its breaker is closed.

        Not after another call opened it meanwhile, nor after a probe (one attempt per probe).
        """
        return link.endpoint is not None and (
            self.breakers.get(link.endpoint).state is BreakerState.CLOSED
        )

    def failed(
        self, link: Link, error: Exception, attempt: int, forced: bool = False
    ) -> float | None:
        """Records `error`; returns the pause before a retry, or None to move on.

        `forced`: the call went past an open breaker (a last resort), so it held no probe.

        Raises:
            Exception: `error` itself when it is control flow or a refused call, which no
                other model may be asked to answer instead.
        """
        if isinstance(error, CallRefused | GraphBubbleUp):
            if not forced:
                self.released(link)
            raise error
        limit = limit_hit(error) if link.timeouts is not None else None
        if limit is not None and link.endpoint is not None and link.timeouts is not None:
            timed_out = ModelTimeout(link.endpoint, limit, getattr(link.timeouts, limit))
            timed_out.__cause__ = error
            self.errors[link.label] = timed_out
            return None  # a hung endpoint would cost the same wait again: move on
        self.errors[link.label] = error
        backoff = self.policy.backoff
        if link.endpoint is None or attempt >= backoff.attempts or not retryable(error):
            return None
        return backoff.pause(attempt, error)

    def gave_up(self, link: Link, started: float | None) -> None:
        """Tells `link`'s breaker how its endpoint served this call, which it did not answer."""
        if link.endpoint is None:
            return
        breaker = self.breakers.get(link.endpoint)
        error = self.errors[link.label]
        if endpoint_failed(error):
            breaker.failed(started)
        else:
            breaker.succeeded()  # it answered: the request, not the endpoint, was at fault

    def succeeded(self, link: Link) -> None:
        if link.endpoint is not None:
            self.breakers.get(link.endpoint).succeeded()

    def released(self, link: Link) -> None:
        if link.endpoint is not None:
            self.breakers.get(link.endpoint).released()

    def give_up(self, links: int) -> BaseException:
        last = list(self.errors.values())[-1]
        if links == 1:
            return last  # nothing to fall back on: the model's own error
        error = AllModelsFailed(list(self.errors.items()))
        error.__cause__ = last
        return error


def _label(model: BaseChatModel) -> str:
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    return f"{type(model).__name__}:{name}" if isinstance(name, str) else type(model).__name__


def _status(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    if status is None:
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(error: BaseException | None) -> float | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None or _status(error) != 429:  # type: ignore[arg-type]
        return None
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except (TypeError, ValueError):
        return None
