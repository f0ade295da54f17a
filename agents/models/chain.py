"""Model fallback chains: retries with backoff on transient errors, circuit breakers, next model.

`model_chain(models, build)` is what every agent step calls instead of LangChain's
`with_fallbacks`. For each model in order: if its endpoint's breaker allows, try it, retrying
only errors that may pass (timeouts, 429, 5xx, connection errors) with exponential backoff and
jitter; tell the breaker how the endpoint did; on a final failure go on to the next model. An
open breaker costs nothing: the model is skipped without a network attempt. When every model
of a chain of several failed, `AllModelsFailed` carries each one's last error; a chain of one
raises its model's own error (or `CircuitOpen`). In-process models (`ScriptedModel`) have no
endpoint: they are neither retried nor watched, only fallen back from.

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
)
from accord.agents.models.breaker import Breakers, BreakerState, endpoint_key
from accord.agents.models.breaker import breakers as process_breakers
from accord.agents.models.flow import FlowRunnable, Invoke
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
    """

    backoff: Backoff = field(default_factory=Backoff)
    health_interval: float | None = None
    breakers: Breakers = field(default_factory=process_breakers)


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
    return retryable(error) or isinstance(error, LocalServerFailed)


def unhealthy(error: BaseException) -> bool:
    """Whether an agent step failed because its models are down, not because of the request."""
    if isinstance(error, AllModelsFailed):
        return all(unhealthy(e) for _, e in error.errors)
    return isinstance(error, CircuitOpen) or endpoint_failed(error)


@dataclass(frozen=True)
class Link:
    """One model of a chain: what to run and the endpoint it calls (None: in-process)."""

    runnable: Runnable[Any, Any]
    endpoint: str | None
    label: str


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
        links.append(Link(build(single_attempt(model)), endpoint, endpoint))
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
        """Each model in turn, each endpoint retried while its breaker and the backoff allow."""
        run = _Run(self.policy)
        for link in self.links:
            attempt = 0
            while run.admit(link, attempt := attempt + 1):
                try:
                    result = yield Invoke(link.runnable, input, config, kwargs)
                except Exception as exc:
                    pause = run.failed(link, exc, attempt)
                    if pause is None:
                        break
                    yield Sleep(pause)
                except BaseException:
                    run.released(link)
                    raise
                else:
                    run.succeeded(link)
                    return result
        raise run.give_up(len(self.links))


class _Run:
    """The bookkeeping of one call through a chain."""

    __slots__ = ("breakers", "errors", "last", "policy")

    def __init__(self, policy: ChainPolicy) -> None:
        self.policy = policy
        self.breakers = policy.breakers
        self.errors: list[tuple[str, BaseException]] = []
        self.last: Link | None = None

    def admit(self, link: Link, attempt: int) -> bool:
        """Whether attempt number `attempt` may go to `link`'s endpoint."""
        if link.endpoint is None:
            return attempt == 1
        breaker = self.breakers.get(link.endpoint)
        if attempt > 1:
            # A retry goes only to an endpoint still in use: not after this call's own failures
            # opened the breaker, nor after a probe (one attempt per probe).
            return breaker.state is BreakerState.CLOSED and breaker.allow()
        if breaker.allow():
            return True
        self.errors.append((link.label, CircuitOpen(link.endpoint, breaker.retry_in())))
        return False

    def failed(self, link: Link, error: Exception, attempt: int) -> float | None:
        """Records `error`; returns the pause before a retry, or None to move on.

        Raises:
            Exception: `error` itself when it is control flow or a refused call, which no
                other model may be asked to answer instead.
        """
        if isinstance(error, CallRefused | GraphBubbleUp):
            self.released(link)
            raise error
        if self.last is link:
            self.errors[-1] = (link.label, error)  # keep each model's last error only
        else:
            self.errors.append((link.label, error))
            self.last = link
        if link.endpoint is None:
            return None
        breaker = self.breakers.get(link.endpoint)
        if not endpoint_failed(error):
            breaker.succeeded()  # it answered: the request, not the endpoint, was at fault
            return None
        breaker.failed()
        backoff = self.policy.backoff
        if attempt >= backoff.attempts or not retryable(error):
            return None
        return backoff.pause(attempt, error)

    def succeeded(self, link: Link) -> None:
        if link.endpoint is not None:
            self.breakers.get(link.endpoint).succeeded()

    def released(self, link: Link) -> None:
        if link.endpoint is not None:
            self.breakers.get(link.endpoint).released()

    def give_up(self, links: int) -> BaseException:
        if links == 1:
            return self.errors[-1][1]  # nothing to fall back on: the model's own error
        error = AllModelsFailed(self.errors)
        error.__cause__ = self.errors[-1][1]
        return error


def single_attempt(model: BaseChatModel) -> BaseChatModel:
    """A copy of `model` whose SDK does not retry: the chain retries, and its breaker counts."""
    from langchain_openai.chat_models.base import BaseChatOpenAI

    if not isinstance(model, BaseChatOpenAI) or model.max_retries == 0:
        return model
    copy = model.model_copy(update={"max_retries": 0})
    if model.root_client is not None:
        copy.root_client = model.root_client.with_options(max_retries=0)
        copy.client = copy.root_client.chat.completions
    if model.root_async_client is not None:
        copy.root_async_client = model.root_async_client.with_options(max_retries=0)
        copy.async_client = copy.root_async_client.chat.completions
    return copy


def health_check(model: BaseChatModel, *, timeout: float = 2.0) -> Callable[[], bool] | None:
    """A check that `model`'s OpenAI-compatible server answers `GET /models`, or None."""
    from langchain_openai.chat_models.base import BaseChatOpenAI

    if not isinstance(model, BaseChatOpenAI):
        return None

    def check() -> bool:
        base = (model.openai_api_base or "https://api.openai.com/v1").rstrip("/")
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            return client.get(f"{base}/models").status_code < 500

    return check


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
