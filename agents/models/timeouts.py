"""Time limits of model calls: connect, first byte (or token), and total; defaults per kind.

| model | connect | first byte | total | why |
| --- | --- | --- | --- | --- |
| `"openai:..."`, any other network client | 5 s | 20 s | 30 s | a hung server costs <= 30 s |
| `"ollama:..."` | 5 s | 120 s | 300 s | its first call loads the model |
| `"local"` | 5 s | 300 s | 600 s | requests queue on a small CPU |

`connect` and `first_byte` are the HTTP client's limits; the first byte's limit also bounds any
silence between bytes after it, so a stream that stalls ends too. `total` bounds the whole call
and is enforced by the model chain around each attempt, under `invoke` and `ainvoke` alike (an
attempt of `structured()` includes its re-asks). A
model id sets its own (`"openai:gpt-4o?total=120"`); a chat model built by hand keeps the
timeout it was given (`ChatOpenAI(timeout=60)`) and gets the defaults when it was given none.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, fields, replace
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel

from accord.agents.errors import ModelSpecError, ModelTimeout

LIMITS = ("connect", "first_byte", "total")
"""The limits' names, as model ids and `ModelTimeout.limit` spell them."""


@dataclass(frozen=True)
class Timeouts:
    """The time limits of one model's calls, in seconds.

    Attributes:
        connect: To open the connection (a black-holed host fails here).
        first_byte: To receive the answer's first byte or streamed token after sending the
            request, and the longest silence between bytes after it (a hung server fails here).
        total: For the whole call, the answer read to its end (a trickling server fails here).
    """

    connect: float = 5.0
    first_byte: float = 20.0
    total: float = 30.0

    def __post_init__(self) -> None:
        for name in LIMITS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ModelSpecError(f"timeout {name} must be a number of seconds, got {value!r}")
            if not (value > 0 and math.isfinite(value)):
                raise ModelSpecError(
                    f"timeout {name} must be a positive number of seconds, got {value!r}; every "
                    f"model call needs a limit, so a hung server cannot hold a turn forever"
                )

    def with_(self, **changes: float) -> Timeouts:
        """A copy with some limits changed (unknown names raise `ModelSpecError`)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ModelSpecError(f"unknown timeout(s) {unknown}; use {', '.join(LIMITS)}")
        return replace(self, **changes)

    def http(self) -> httpx.Timeout:
        """The HTTP client's share: connect, and read/write up to the first byte's limit."""
        wait = min(self.first_byte, self.total)
        return httpx.Timeout(wait, connect=min(self.connect, self.total), pool=self.total)

    def openai(self) -> Any:
        """`http()` as the OpenAI SDK's own `Timeout` (its HTTP library may not be httpx)."""
        import openai

        wait = min(self.first_byte, self.total)
        return openai.Timeout(wait, connect=min(self.connect, self.total), pool=self.total)


REMOTE = Timeouts()
OLLAMA = Timeouts(first_byte=120.0, total=300.0)
LOCAL = Timeouts(first_byte=300.0, total=600.0)

_KNOWN: dict[int, Timeouts] = {}
"""Timeouts given to models by their ids, by `id(model)`; an entry goes with its model."""


def remember(model: BaseChatModel, timeouts: Timeouts) -> None:
    """Records `timeouts` as `model`'s (the chain reads them back with `timeouts_of`)."""
    key = id(model)
    if key not in _KNOWN:
        weakref.finalize(model, _KNOWN.pop, key, None)
    _KNOWN[key] = timeouts


def timeouts_of(model: BaseChatModel) -> Timeouts:
    """The limits of `model`'s calls: its id's, else its own client's, else its kind's defaults."""
    known = _KNOWN.get(id(model))
    if known is not None:
        return known
    default = _default_for(model)
    own = getattr(model, "request_timeout", None)
    if isinstance(own, int | float) and not isinstance(own, bool) and own > 0:
        first = float(own)
        return Timeouts(min(default.connect, first), first, max(first, default.total))
    read, connect = getattr(own, "read", None), getattr(own, "connect", None)
    if isinstance(read, int | float) and read > 0:  # an httpx-style Timeout
        first = float(read)
        start = float(connect) if isinstance(connect, int | float) and connect > 0 else None
        return Timeouts(start or default.connect, first, max(first, default.total))
    return default


def _default_for(model: BaseChatModel) -> Timeouts:
    from accord.agents.models.local.chat import LocalChatModel

    if isinstance(model, LocalChatModel):
        return LOCAL
    if type(model).__name__ == "ChatOllama":
        return OLLAMA
    return REMOTE


_READ_TIMEOUTS = {"ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException"}


def limit_hit(error: BaseException) -> str | None:
    """Which limit `error` says ran out (`connect`, `first_byte`, `total`), or None.

    Reads the SDKs' timeouts (`openai.APITimeoutError` wraps its HTTP library's) by name,
    since the SDKs use httpx or a fork of it; a bare `TimeoutError` is the chain's total.
    """
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ModelTimeout):
            return current.limit
        name = type(current).__name__
        if name == "ConnectTimeout":
            return "connect"
        if name in _READ_TIMEOUTS:
            return "first_byte"
        current = current.__cause__
    if type(error) is TimeoutError:
        return "total"
    import openai

    if isinstance(error, openai.APITimeoutError | httpx.TimeoutException):
        return "first_byte"
    return None


def options_of(timeouts: Timeouts, given: dict[str, Any]) -> dict[str, Any]:
    """`given` with the OpenAI client's timeout set from `timeouts` unless it names one."""
    if given.get("timeout") is not None:
        return given
    return {**given, "timeout": timeouts.openai()}
