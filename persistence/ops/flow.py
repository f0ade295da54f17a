"""Sans-IO flows: loops that span several operations or savers, written once for sync and async.

A flow is a generator that yields effects (`Call`, `Sleep`, `Gather`) and receives what each
produced; an effect that raises has its exception thrown into the flow at the `yield`, so a
flow handles failures with an ordinary `try`. `drive` performs the effects in this thread,
`adrive` on the event loop, so a lease wait, a failover or a replica check exists once with
two one-line faces. (An `Operation` is the smaller unit: the statements of one transaction.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One piece of I/O in both faces: `blocking()` for `drive`, `await awaiting()` for `adrive`."""

    blocking: Callable[[], T]
    awaiting: Callable[[], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Sleep:
    """Pause for `seconds` (on the event loop under `adrive`)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Gather:
    """Run sub-flows, one after another under `drive`, concurrently under `adrive`.

    The flow receives their results in order; each sub-flow handles its own failures.
    """

    flows: Sequence[Flow[Any]]


Effect = Call[Any] | Sleep | Gather
Flow = Generator[Effect, Any, T]


def twin(
    blocking: Callable[P, T], awaiting: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
) -> Call[T]:
    """The `Call` of a method and its async twin with the same arguments (`put`, `aput`)."""
    return Call(lambda: blocking(*args, **kwargs), lambda: awaiting(*args, **kwargs))


def drive(flow: Flow[T]) -> T:
    """Run a flow, performing its effects in this thread; return its result."""
    sent: Any = None
    failed: BaseException | None = None
    try:
        while True:
            # Thrown in here, outside the `except` below, so what the flow raises next is not
            # chained to this failure as "during handling of the above exception".
            try:
                effect = flow.send(sent) if failed is None else flow.throw(failed)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            sent, failed = None, None
            try:
                sent = _perform(effect)
            except BaseException as exc:  # the flow decides, KeyboardInterrupt included
                failed = exc
    finally:
        flow.close()


async def adrive(flow: Flow[T]) -> T:
    """Run a flow, performing its effects on the event loop; return its result."""
    sent: Any = None
    failed: BaseException | None = None
    try:
        while True:
            try:
                effect = flow.send(sent) if failed is None else flow.throw(failed)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            sent, failed = None, None
            try:
                sent = await _aperform(effect)
            except BaseException as exc:  # the flow decides, cancellation included
                failed = exc
    finally:
        flow.close()


def _perform(effect: Effect) -> Any:
    if isinstance(effect, Sleep):
        time.sleep(effect.seconds)
        return None
    if isinstance(effect, Gather):
        return [drive(flow) for flow in effect.flows]
    return effect.blocking()


async def _aperform(effect: Effect) -> Any:
    if isinstance(effect, Sleep):
        await asyncio.sleep(effect.seconds)
        return None
    if isinstance(effect, Gather):
        return list(await asyncio.gather(*(adrive(flow) for flow in effect.flows)))
    return await effect.awaiting()
