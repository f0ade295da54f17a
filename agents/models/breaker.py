"""Circuit breakers per model endpoint, shared by every session and agent in the process.

A breaker is closed while its endpoint answers. After `threshold` endpoint failures in a row it
opens: requests skip the endpoint without a network attempt until `cooldown` seconds have
passed. Then it is half-open: exactly one request probes the endpoint; success closes the
breaker, failure opens it again for a longer cooldown. So a dead endpoint costs one fast failure
per cooldown, not one per request. An optional background health check can cut a cooldown
short (the endpoint answers again) or extend it (still down), so that no real request probes.

Endpoints are keyed by what identifies them (`endpoint_key`: model name and base URL), so two
agents naming the same endpoint share its health, and two URLs of one model (regions) do not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from langchain_core.language_models import BaseChatModel


class BreakerState(StrEnum):
    """Where a breaker stands: `closed` (in use), `open` (skipped), `half_open` (one probe)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSettings:
    """How a breaker trips and recovers.

    Attributes:
        threshold: Endpoint failures in a row that open the breaker.
        cooldown: Seconds an opened breaker waits before it lets one probe through.
        max_cooldown: Each failed probe doubles the cooldown, up to this.
    """

    threshold: int = 3
    cooldown: float = 5.0
    max_cooldown: float = 60.0


_LONG_AGO = float("-inf")
"""When a breaker whose probe may go at once was opened: any cooldown has passed."""

Listener = Callable[[str, BreakerState, BreakerState], None]
"""Told `(endpoint, old state, new state)` on every change, e.g. to count outages in metrics."""


class CircuitBreaker:
    """The breaker of one endpoint; thread-safe, and cheap enough to ask on every request.

    Args:
        endpoint: The endpoint's key, used in errors and events.
        settings: Threshold and cooldowns.
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
        self.failures = 0
        self.cooldown = self.settings.cooldown
        self.opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()
        self._listeners = listeners if listeners is not None else []

    def allow(self) -> bool:
        """Whether a request may go to the endpoint now; the first after a cooldown probes."""
        if self.state is BreakerState.CLOSED:
            return True
        return self._probe()

    def _probe(self) -> bool:
        with self._lock:
            if self.state is BreakerState.CLOSED:  # closed by another thread meanwhile
                return True
            if self._probing or self.clock() - self.opened_at < self.cooldown:
                return False
            self._probing = True
            old, self.state = self.state, BreakerState.HALF_OPEN
        self._tell(old)
        return True

    def retry_in(self) -> float:
        """Seconds until a probe is let through (0 when closed)."""
        if self.state is BreakerState.CLOSED:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - self.clock())

    def succeeded(self) -> None:
        """Records that the endpoint answered (any answer: even a 400 proves it is up)."""
        if self.state is BreakerState.CLOSED and not self.failures:
            return
        with self._lock:
            old = self.state
            self.state, self.failures, self._probing = BreakerState.CLOSED, 0, False
            self.cooldown = self.settings.cooldown
        self._tell(old)

    def failed(self) -> None:
        """Records an endpoint failure (timeout, 429, 5xx, connection error)."""
        with self._lock:
            old = self.state
            self.failures += 1
            if old is BreakerState.HALF_OPEN:
                self.cooldown = min(self.cooldown * 2, self.settings.max_cooldown)
            elif old is BreakerState.OPEN or self.failures < self.settings.threshold:
                return
            self.state, self.opened_at, self._probing = BreakerState.OPEN, self.clock(), False
        self._tell(old)

    def released(self) -> None:
        """Records that a request let through ended with no verdict (e.g. it was cancelled)."""
        with self._lock:
            if self.state is not BreakerState.HALF_OPEN:
                return
            # Nothing was learnt: let the next request probe at once.
            self.state, self._probing, self.opened_at = BreakerState.OPEN, False, _LONG_AGO
        self._tell(BreakerState.HALF_OPEN)

    def checked(self, healthy: bool) -> None:
        """Applies a health check's verdict to an open breaker.

        Healthy: the cooldown ends now and the next request probes. Unhealthy: the cooldown
        starts again, so no real request is spent on a dead endpoint.
        """
        with self._lock:
            if self.state is not BreakerState.OPEN:
                return
            self.opened_at = _LONG_AGO if healthy else self.clock()

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
