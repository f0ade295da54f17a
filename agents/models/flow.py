"""One loop for both worlds: a flow yields the effects it needs; a sync or async driver runs them.

A flow is a generator. It yields effects (`Invoke` a runnable, `Sleep`, `Call` a function with a
sync and an async face) and receives each effect's result, or has the effect's exception thrown
in at the `yield`, so its `try`/`except`/`with` blocks work as in a plain loop. It never calls
or awaits anything itself, so the same code serves `invoke` and `ainvoke`: `run` drives it
with blocking calls, `arun` with awaited ones. The persistence operations
(`accord.persistence`) and httpx's auth flows work the same way.

Example:
    ```python
    def retried(model: Runnable[str, str], prompt: str) -> Flow[str]:
        try:
            return (yield Invoke(model, prompt))
        except TimeoutError:
            yield Sleep(0.5)
            return (yield Invoke(model, prompt))

    run(retried(model, "hi"))          # model.invoke, time.sleep
    await arun(retried(model, "hi"))   # model.ainvoke, asyncio.sleep
    ```
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig

T = TypeVar("T")
In = TypeVar("In")
Out = TypeVar("Out")

_NO_KWARGS: Mapping[str, Any] = MappingProxyType({})
"""What `Invoke` passes as keyword arguments when it has none (read only)."""


@dataclass(frozen=True, slots=True)
class Invoke:
    """Runs `runnable` on `input`: `invoke` under `run`, `ainvoke` under `arun`.

    The config is passed on as it is, so callbacks (token streaming, budgets, tracing) see the
    call as a child of the caller's run.
    """

    runnable: Runnable[Any, Any]
    input: Any
    config: RunnableConfig | None = None
    kwargs: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Waits `seconds`: `time.sleep` under `run`, `asyncio.sleep` under `arun`."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Call:
    """Calls `sync()` under `run` and awaits `async_()` under `arun` (e.g. a database read)."""

    sync: Callable[[], Any]
    async_: Callable[[], Awaitable[Any]]


Effect: TypeAlias = Invoke | Sleep | Call
Flow: TypeAlias = Generator[Effect, Any, T]
"""A generator that yields effects, is sent their results, and returns the flow's result."""


def run(flow: Flow[T]) -> T:
    """Drives `flow` to its end with blocking calls; returns its result or raises its error."""
    try:
        effect = next(flow)
        while True:
            result, failure = None, None
            try:
                if isinstance(effect, Invoke):
                    result = effect.runnable.invoke(
                        effect.input, effect.config, **(effect.kwargs or _NO_KWARGS)
                    )
                elif isinstance(effect, Sleep):
                    time.sleep(effect.seconds)
                else:
                    result = effect.sync()
            except BaseException as exc:  # the flow decides, cancellation included
                failure = exc
            # Thrown in outside the `except` block, so that what the flow raises next is not
            # chained to this failure as "during handling of the above exception".
            effect = flow.send(result) if failure is None else flow.throw(failure)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def arun(flow: Flow[T]) -> T:
    """Drives `flow` to its end on the event loop; returns its result or raises its error."""
    try:
        effect = next(flow)
        while True:
            result, failure = None, None
            try:
                if isinstance(effect, Invoke):
                    result = await effect.runnable.ainvoke(
                        effect.input, effect.config, **(effect.kwargs or _NO_KWARGS)
                    )
                elif isinstance(effect, Sleep):
                    await asyncio.sleep(effect.seconds)
                else:
                    result = await effect.async_()
            except BaseException as exc:  # the flow decides, cancellation included
                failure = exc
            effect = flow.send(result) if failure is None else flow.throw(failure)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


class FlowRunnable(Runnable[In, Out]):
    """A runnable whose one `flow` serves both `invoke` and `ainvoke`.

    Subclasses write `flow` only. The drivers do not wrap the call in a run of their own
    (`_call_with_config`): the runnables a flow invokes get the caller's config, as they would
    if the subclass called them directly.
    """

    def flow(self, input: In, config: RunnableConfig | None, **kwargs: Any) -> Flow[Out]:
        """The effects that compute the output for `input`."""
        raise NotImplementedError

    def invoke(self, input: In, config: RunnableConfig | None = None, **kwargs: Any) -> Out:
        """Runs the flow with blocking calls."""
        return run(self.flow(input, config, **kwargs))

    async def ainvoke(self, input: In, config: RunnableConfig | None = None, **kwargs: Any) -> Out:
        """Runs the flow on the event loop."""
        return await arun(self.flow(input, config, **kwargs))
