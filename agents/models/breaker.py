"""Circuit breakers per model endpoint, shared by every session and agent in the process.

A breaker is told one outcome per call and endpoint: did the endpoint serve the call (after
the chain's own retries), or not. It is closed while its endpoint serves, and opens when

- at least `failure_rate` of the calls of the last `window` seconds failed, once there were
  `min_calls` of them (a flaky endpoint that serves most calls stays in use), or
- a call failed while the endpoint served no one else since that call began (a dead or hung
  endpoint is known after one call, not after `min_calls` timeouts).

A call's own retries are one outcome, and other calls' successes meanwhile count for the
endpoint, so neither turns a flaky endpoint into an open breaker. The window always keeps the
last `min_calls` calls, so calls slower than the window (timeouts) still add up to a rate.

Open, the endpoint is skipped without a network attempt. Opened by the rate, it is confirmed:
skipped outright until `cooldown` seconds have passed, then half-open: up to `probes` calls go
through at once, each bounded by the model's time limits; a success closes the breaker, a
failure opens it again for twice the cooldown (at most `max_cooldown`). Opened on one call's
evidence, it is unconfirmed: a chain skips it while another model answers and still asks it
when none did (a late answer beats none; two flaky endpoints must not become an outage), and
its outcomes go on counting until the rate confirms it or a success closes it. An optional
background health check can cut a cooldown short (the endpoint answers again) or extend it.

Endpoints are keyed by what identifies them (`endpoint_key`: model name and base URL), so two
agents naming the same endpoint share its health, and two URLs of one model (regions) do not.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from langchain_core.language_models import BaseChatModel

from accord.agents.errors import ModelSpecError


class BreakerState(StrEnum):
    """Where a breaker stands: `closed` (in use), `open` (skipped), `half_open` (probed)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSettings:
    """How a breaker trips and recovers.

    Attributes:
        window: Seconds of past calls the failure rate is measured over.
        min_calls: Calls the window must hold before the rate can open the breaker.
        failure_rate: Share of failed calls in the window that opens the breaker (0-1].
        cooldown: Seconds an opened breaker waits before it lets probes through.
        max_cooldown: Each failed probe doubles the cooldown, up to this (or `cooldown`).
        probes: Calls let through at once while half-open.
        enabled: False: the breaker never opens (every call goes to every endpoint).
    """

    window: float = 30.0
    min_calls: int = 5
    failure_rate: float = 0.5
    cooldown: float = 5.0
    max_cooldown: float = 30.0
    probes: int = 1
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.failure_rate <= 1:
            raise ModelSpecError(f"failure_rate must be in (0, 1], got {self.failure_rate!r}")
        if self.min_calls < 1 or self.probes < 1:
            raise ModelSpecError(
                f"min_calls and probes must be at least 1, got {self.min_calls}, {self.probes}"
            )
        if self.window <= 0 or self.cooldown < 0 or self.max_cooldown < 0:
            raise ModelSpecError(
                "window must be positive and cooldowns not negative, got "
                f"window={self.window}, cooldown={self.cooldown}, max_cooldown={self.max_cooldown}"
            )


_LONG_AGO = float("-inf")
"""When a breaker whose probe may go at once was opened: any cooldown has passed."""

Listener = Callable[[str, BreakerState, BreakerState], None]
"""Told `(endpoint, old state, new state)` on every change, e.g. to count outages in metrics."""


class CircuitBreaker:
    """The breaker of one endpoint; thread-safe, and cheap enough to ask on every request.

    Args:
        endpoint: The endpoint's key, used in errors and events.
        settings: Window, rate, cooldowns and probes.
        clock: Monotonic seconds; replaceable in tests.
        listeners: Told about every state change.
    """

    def __init__(
        self,
        endpoint: str,
        settings: BreakerSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        listeners: list[Listener] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings or BreakerSettings()
        self.clock = clock
        self.state = BreakerState.CLOSED
        self.cooldown = self.settings.cooldown
        self.opened_at = 0.0
        self.last_success = _LONG_AGO
        self.confirmed = True  # False: opened on one call's evidence (see `failed`)
        self._calls: deque[tuple[float, bool]] = deque()  # (when, failed) within the window
        self._failures = 0
        self._probes: list[float] = []  # when each probe in flight started
        self._lock = threading.Lock()
        self._listeners = listeners if listeners is not None else []

    @property
    def failures(self) -> int:
        """Failed calls in the window."""
        with self._lock:
            self._forget(self.clock())
            return self._failures

    def allow(self) -> bool:
        """Whether a call may go to the endpoint now; after a cooldown, up to `probes` may."""
        if self.state is BreakerState.CLOSED:
            return True
        return self._probe()

    def _probe(self) -> bool:
        with self._lock:
            if self.state is BreakerState.CLOSED:  # closed by another thread meanwhile
                return True
            now = self.clock()
            if self.state is BreakerState.OPEN and now - self.opened_at < self.cooldown:
                return False
            # A probe whose verdict never came (its caller vanished) frees its place in time.
            self._probes = [t for t in self._probes if now - t < self.settings.window]
            if len(self._probes) >= self.settings.probes:
                return False
            self._probes.append(now)
            old, self.state = self.state, BreakerState.HALF_OPEN
        self._tell(old)
        return True

    def retry_in(self) -> float:
        """Seconds until probes are let through (0 when closed)."""
        if self.state is BreakerState.CLOSED:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - self.clock())

    def succeeded(self) -> None:
        """Records that the endpoint served a call (any answer: even a 400 proves it is up)."""
        with self._lock:
            now = self.clock()
            self.last_success = now
            old = self.state
            if old is BreakerState.CLOSED:
                self._record(now, failed=False)
                return
            # A probe's answer, or a late one from a call sent before the breaker opened.
            self.state, self.cooldown = BreakerState.CLOSED, self.settings.cooldown
            self._calls.clear()
            self._failures, self._probes = 0, []
        self._tell(old)

    def failed(self, started: float | None = None) -> None:
        """Records that the endpoint failed a call (timeout, 429, 5xx, connection error).

        Args:
            started: When the call began (this breaker's clock). If the endpoint served no one
                since, the breaker opens at once, unconfirmed (see the module's notes). None:
                the rate alone decides.
        """
        with self._lock:
            now, old = self.clock(), self.state
            if not self.settings.enabled:
                return
            self._record(now, failed=True)  # in every state: last resorts and probes count
            rated = self._too_many()
            if old is BreakerState.OPEN:
                self.confirmed = self.confirmed or rated
                return
            if old is BreakerState.HALF_OPEN:
                most = max(self.settings.max_cooldown, self.settings.cooldown)
                self.cooldown, self.confirmed = min(self.cooldown * 2, most), rated
            elif rated:
                self.confirmed = True
            elif started is not None and self.last_success < started:
                self.confirmed = False
            else:
                return
            self.state, self.opened_at, self._probes = BreakerState.OPEN, now, []
        self._tell(old)

    def released(self) -> None:
        """Records that a call let through ended with no verdict (e.g. it was cancelled)."""
        with self._lock:
            if self._probes:
                self._probes.pop(0)  # nothing was learnt: its place goes to the next caller

    def checked(self, healthy: bool) -> None:
        """Applies a health check's verdict to an open breaker.

        Healthy: the cooldown ends now and the next calls probe. Unhealthy: the cooldown
        starts again, so no real request is spent on a dead endpoint.
        """
        with self._lock:
            if self.state is not BreakerState.OPEN:
                return
            self.opened_at = _LONG_AGO if healthy else self.clock()

    def _record(self, now: float, *, failed: bool) -> None:
        self._calls.append((now, failed))
        self._failures += failed
        self._forget(now)

    def _forget(self, now: float) -> None:
        # The window keeps the last `min_calls` calls however old, so that calls slower than
        # the window (timeouts) still add up to a verdict.
        horizon = now - self.settings.window
        while len(self._calls) > self.settings.min_calls and self._calls[0][0] < horizon:
            _, failed = self._calls.popleft()
            self._failures -= failed

    def _too_many(self) -> bool:
        calls = len(self._calls)
        rate = self.settings.failure_rate
        return calls >= self.settings.min_calls and self._failures >= rate * calls

    def _tell(self, old: BreakerState) -> None:
        new = self.state
        if new is not old:
            for listener in self._listeners:
                listener(self.endpoint, old, new)


class Breakers:
    """The process-wide registry of breakers, one per endpoint key, with optional health checks.

    Args:
        settings: Settings of breakers created from now on.
    """

    def __init__(self, settings: BreakerSettings | None = None) -> None:
        self.settings = settings or BreakerSettings()
        self.listeners: list[Listener] = []
        self._breakers: dict[str, CircuitBreaker] = {}
        self._checks: dict[str, Callable[[], bool]] = {}
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self.interval = float("inf")  # the shortest interval asked of `watch`

    def get(self, endpoint: str) -> CircuitBreaker:
        """The breaker of `endpoint`, created closed on first use."""
        breaker = self._breakers.get(endpoint)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.setdefault(
                    endpoint, CircuitBreaker(endpoint, self.settings, listeners=self.listeners)
                )
        return breaker

    def states(self) -> dict[str, BreakerState]:
        """Every known endpoint's state, e.g. for a health page or metrics."""
        return {key: breaker.state for key, breaker in list(self._breakers.items())}

    def configure(self, settings: BreakerSettings) -> None:
        """Sets the settings of every breaker, existing and future ones."""
        with self._lock:
            self.settings = settings
            for breaker in self._breakers.values():
                breaker.settings = settings
                if breaker.state is BreakerState.CLOSED:
                    breaker.cooldown = settings.cooldown
                else:  # an open breaker waits at least as long as the new settings say
                    breaker.cooldown = max(breaker.cooldown, settings.cooldown)

    def reset(self) -> None:
        """Forgets every breaker and health check (tests start from a clean process state)."""
        self.stop_watching()
        with self._lock:
            self._breakers.clear()
            self._checks.clear()

    def watch(self, endpoint: str, check: Callable[[], bool], *, interval: float = 5.0) -> None:
        """Health-checks `endpoint` in a background thread while its breaker is open.

        Args:
            endpoint: The endpoint's key.
            check: Returns whether the endpoint is healthy; an exception counts as unhealthy.
            interval: Seconds between checks (one thread checks every watched endpoint).
        """
        with self._lock:
            self._checks[endpoint] = check
            self.interval = min(self.interval, interval)
            if self._watcher is None or not self._watcher.is_alive():
                self._stop.clear()
                self._watcher = threading.Thread(
                    target=self._watch, name="accord-health-checks", daemon=True
                )
                self._watcher.start()

    def check_now(self) -> None:
        """Runs every health check of an open breaker once (the watcher's loop body)."""
        for endpoint, check in list(self._checks.items()):
            breaker = self.get(endpoint)
            if breaker.state is not BreakerState.OPEN:
                continue
            try:
                healthy = bool(check())
            except Exception:
                healthy = False
            breaker.checked(healthy)

    def stop_watching(self) -> None:
        """Stops the health-check thread, if one runs."""
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.check_now()


_OLLAMA_DEFAULT = "http://localhost:11434"

_PROCESS = Breakers()


def breakers() -> Breakers:
    """The breakers of this process, which chains use unless their policy names others.

    Shared by every chain, session and agent of the process, so an endpoint's health learnt by
    one is known to all.
    """
    return _PROCESS


def endpoint_key(model: BaseChatModel) -> str | None:
    """The identity of the endpoint `model` calls, or None for an in-process model.

    A network model is keyed by provider, model name and base URL, so the same model at two
    URLs (regions) gets two breakers. The embedded model is one endpoint whatever port it is
    on. In-process models (e.g. `ScriptedModel`) have no endpoint and get no breaker.
    """
    from langchain_openai.chat_models.base import BaseChatOpenAI

    from accord.agents.models.local.chat import LocalChatModel

    if isinstance(model, LocalChatModel):
        return f"local:{model.model_name}"
    if isinstance(model, BaseChatOpenAI):
        base = model.openai_api_base or "https://api.openai.com/v1"
        return f"openai:{model.model_name}@{base.rstrip('/')}"
    name = _attr(model, "model") or _attr(model, "model_name")
    base = _attr(model, "base_url")
    if type(model).__name__ == "ChatOllama":
        base = base or _OLLAMA_DEFAULT
    if base:
        return f"{type(model).__name__.lower()}:{name}@{base.rstrip('/')}"
    return None


def _attr(model: Any, name: str) -> str:
    value = getattr(model, name, None)
    return value if isinstance(value, str) else ""
