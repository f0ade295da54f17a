"""Per-session budgets: limits, usage, and the meter that checks them before every model call.

The meter is a LangChain callback handler that a session puts in the config of each run, so it
sees every model call of every nested agent, tool loop and subgraph, whatever built the graph.
It refuses a call *before* it is sent when the call could overrun the budget: each call reserves
its prompt plus its completion allowance, and the reservation is settled with the usage the
provider reports. Parallel branches therefore cannot together spend past the limit.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import FrameType
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from accord.graphs.errors import BudgetExceeded
from accord.graphs.sessions.cost import CostLedger, Prices, reported_tokens

_MANAGER = "langchain_core.callbacks.manager"
COMPLETION_ALLOWANCE = 512
"""Tokens reserved for a completion when the call does not say its `max_tokens`."""
CHARS_PER_TOKEN = 4
"""Prompt tokens are estimated from characters before the call; the provider's count settles."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one session may spend in all; `None` is unlimited.

    Attributes:
        tokens: Prompt plus completion tokens, across every model call of every agent.
        model_calls: Model calls, including re-asks and fallbacks.
        steps: Graph steps (LangGraph super-steps of the session's graph).
        wall_time: Seconds spent running, summed over the session's runs.
        concurrency: Most tasks one run executes at once (parallel branches, fan-out).
        cost: Money, in the currency of the runtime's `Prices`, across every model call.
    """

    tokens: int | None = None
    model_calls: int | None = None
    steps: int | None = None
    wall_time: float | None = None
    concurrency: int | None = None
    cost: float | None = None

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None and (isinstance(value, bool) or value <= 0):
                raise ValueError(f"Limits.{item.name} must be positive or None, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON document stored on the session record (unlimited entries left out)."""
        return {k: v for k, v in _flat(self).items() if v is not None}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Limits:
        """The limits stored by `to_dict`."""
        return cls(**document)

    def check(self, usage: Usage, session_id: str) -> None:
        """Refuses a run of a session that has used `usage`, if it reached one of these limits.

        Raises:
            BudgetExceeded: Which limit, with what the session used.
        """
        for limit in SPENDABLE:
            allowed = getattr(self, limit)
            if allowed is not None and getattr(usage, limit) >= allowed:
                raise BudgetExceeded(session_id, limit, usage, self)


SPENDABLE = ("tokens", "model_calls", "steps", "wall_time", "cost")
"""The limits a session spends (`concurrency` bounds one run instead)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What a session has spent; stored on its record after every run."""

    tokens_in: int = 0
    tokens_out: int = 0
    model_calls: int = 0
    steps: int = 0
    wall_time: float = 0.0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.tokens_in + self.tokens_out

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.tokens_in + other.tokens_in,
            self.tokens_out + other.tokens_out,
            self.model_calls + other.model_calls,
            self.steps + other.steps,
            self.wall_time + other.wall_time,
            self.cost + other.cost,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document stored on the session record."""
        return {**_flat(self), "tokens": self.tokens}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Usage:
        """The usage stored by `to_dict`."""
        return cls(**{f.name: document[f.name] for f in fields(cls) if f.name in document})


def _flat(item: Limits | Usage) -> dict[str, Any]:
    """A record's fields, all plain numbers: `asdict` would deep-copy each (a turn stores the
    usage at its end)."""
    return {field.name: getattr(item, field.name) for field in fields(item)}


REFUSERS = {"Meter", "Hooks"}
"""The handlers whose `BudgetExceeded` is a refusal: the meter, and a run's hooks that hold it."""


class _QuietRefusals(logging.Filter):
    """Drops LangChain's warning about an error raised in a callback when it is our refusal.

    LangChain logs every exception a callback raises before re-raising it; a budget refusal
    is an expected outcome that reaches the caller as `BudgetExceeded`, not a fault to log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        refused = len(args) == 3 and "BudgetExceeded" in str(args[2])
        return not (refused and args[0] in REFUSERS)


logging.getLogger("langchain_core.callbacks.manager").addFilter(_QuietRefusals())


@dataclass
class _Ledger:
    spent: Usage
    reserved: int = 0
    open: dict[UUID, int] = field(default_factory=dict)
    costs: CostLedger = field(default_factory=CostLedger)
    steps: set[Any] = field(default_factory=set)


class Meter(BaseCallbackHandler):
    """Counts one run's model calls, tokens and steps, refusing what would overrun `limits`.

    Args:
        session_id: The session, named in errors.
        limits: The session's limits.
        before: What the session had used before this run.
        deadline: `time.monotonic()` after which no model call may start (the wall-time limit).
        prices: What each model's tokens cost (default: `Prices.default()`).
    """

    raise_error = True
    run_inline = True  # checked in the caller's thread, before the call is sent

    def __init__(
        self,
        session_id: str,
        limits: Limits,
        before: Usage,
        deadline: float | None,
        prices: Prices | None = None,
    ) -> None:
        self.session_id = session_id
        self.prices = prices or Prices.default()
        self.limits = limits
        self.before = before
        self.deadline = deadline
        self._ledger = _Ledger(Usage())
        self._lock = threading.Lock()

    @property
    def used(self) -> Usage:
        """What this run has used so far (steps included; wall time is the session's to add)."""
        with self._lock:
            return self._used_locked()

    def refuse(self, limit: str) -> BudgetExceeded:
        """The error for `limit`, with the session's usage including this run's."""
        with self._lock:
            return self._refuse_locked(limit)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        prompt = sum(len(m.text) for batch in messages for m in batch) // CHARS_PER_TOKEN
        params = kwargs.get("invocation_params") or {}
        allowance = params.get("max_tokens") or params.get("max_completion_tokens")
        reservation = prompt + (allowance or COMPLETION_ALLOWANCE)
        try:
            self._reserve(run_id, prompt, reservation, kwargs.get("metadata"))
        except Exception:  # BudgetExceeded, or UnpricedModel from the price table
            _close_unstarted()
            raise

    def _reserve(
        self, run_id: UUID, prompt: int, reservation: int, metadata: dict[str, Any] | None
    ) -> None:
        """Reserves a call's tokens and cost, or raises `BudgetExceeded` if it could overrun
        (`UnpricedModel` if the model has no price and the session a cost limit)."""
        limits = self.limits
        with self._lock:
            ledger = self._ledger
            calls = self.before.model_calls + ledger.spent.model_calls + 1
            if limits.model_calls is not None and calls > limits.model_calls:
                raise self._refuse_locked("model_calls")
            if limits.tokens is not None:
                committed = self.before.tokens + ledger.spent.tokens + ledger.reserved
                # A lone call may always try with what is left: its prompt estimate is rough,
                # and refusing the first call of a fresh budget would make small limits useless.
                if committed + reservation > limits.tokens and (
                    ledger.reserved or committed + prompt >= limits.tokens
                ):
                    raise self._refuse_locked("tokens")
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise self._refuse_locked("wall_time")
            spent = self.before.cost + ledger.spent.cost
            price = self.prices.of(metadata)
            if not ledger.costs.reserve(run_id, price, limits.cost, spent, prompt, reservation):
                raise self._refuse_locked("cost")
            ledger.spent = replace(ledger.spent, model_calls=ledger.spent.model_calls + 1)
            ledger.reserved += reservation
            ledger.open[run_id] = reservation

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        tokens_in, tokens_out = reported_tokens(response)
        with self._lock:
            cost = self._settle(run_id, tokens_in, tokens_out)
            spent = self._ledger.spent
            self._ledger.spent = replace(
                spent,
                tokens_in=spent.tokens_in + tokens_in,
                tokens_out=spent.tokens_out + tokens_out,
                cost=spent.cost + cost,
            )

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            self._settle(run_id)

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        step = _top_level_step(metadata)
        if step is None:
            return
        with self._lock:
            ledger = self._ledger
            if step in ledger.steps:
                return
            limit = self.limits.steps
            if limit is not None and self.before.steps + len(ledger.steps) + 1 > limit:
                raise self._refuse_locked("steps")
            ledger.steps.add(step)

    def _used_locked(self) -> Usage:
        return replace(self._ledger.spent, steps=len(self._ledger.steps))

    def _refuse_locked(self, limit: str) -> BudgetExceeded:
        return BudgetExceeded(
            self.session_id, limit, self.before + self._used_locked(), self.limits
        )

    def _settle(self, run_id: UUID, tokens_in: int = 0, tokens_out: int = 0) -> float:
        """Ends a call's reservations; what its reported tokens cost."""
        self._ledger.reserved -= self._ledger.open.pop(run_id, 0)
        return self._ledger.costs.settle(run_id, tokens_in, tokens_out)


def _top_level_step(metadata: Mapping[str, Any] | None) -> Any:
    """The super-step a node of the session's own graph starts, or None for anything nested.

    LangGraph tags each task's run with its step and a checkpoint namespace `node:task_id`;
    tasks of subgraphs have nested namespaces (with `|`) and belong to their parent's step.
    """
    if not metadata or "langgraph_step" not in metadata:
        return None
    namespace = metadata.get("checkpoint_ns", "")
    if "|" in namespace:
        return None
    return metadata["langgraph_step"]


def _close_unstarted() -> None:
    """Closes the callback coroutines a refusal leaves created but never started.

    LangChain's async callback manager creates one `ahandle_event` coroutine per handler for a
    model call's start, then awaits them in turn: once the meter raises, the rest are never
    awaited, and Python warns about each one ("coroutine 'ahandle_event' was never awaited")
    when it is collected, maybe during a later run. The refused call never happens, so those
    handlers have nothing to see; closing them in the manager's frame ends them quietly.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") != _MANAGER:
        frame = frame.f_back
    # A sync run's handlers are called, not made into coroutines: no manager frame is found.
    while frame is not None and frame.f_globals.get("__name__") == _MANAGER:
        for value in frame.f_locals.values():
            for item in value if isinstance(value, list) else ():
                if inspect.iscoroutine(item) and inspect.getcoroutinestate(item) == "CORO_CREATED":
                    item.close()
        frame = frame.f_back
