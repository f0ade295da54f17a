"""Flows that call LangChain runnables: `Invoke` as an effect, `FlowRunnable` as a runnable.

A flow (`accord.persistence.Flow`) is a generator that yields effects and receives their
results, or has their exceptions thrown in at the `yield`, so its `try`/`except`/`with`
blocks work as in a plain loop; `drive` performs the effects blocking, `adrive` awaiting, so
the same loop serves `invoke` and `ainvoke` (as httpx's auth flows do). The persistence
operations run on the same drivers; here the effect is a model (or any runnable) call.

Example:
    ```python
    def retried(model: Runnable[str, str], prompt: str) -> Flow[str]:
        try:
            return (yield Invoke(model, prompt))
        except TimeoutError:
            yield Sleep(0.5)
            return (yield Invoke(model, prompt))

    drive(retried(model, "hi"))          # model.invoke, time.sleep
    await adrive(retried(model, "hi"))   # model.ainvoke, asyncio.sleep
    ```
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig

from accord.persistence import Call, Flow, adrive, drive

In = TypeVar("In")
Out = TypeVar("Out")


class Invoke(Call[Any]):
    """Runs `runnable` on `input`: `invoke` under `drive`, `ainvoke` under `adrive`.

    The config is passed on as it is, so callbacks (token streaming, budgets, tracing) see the
    call as a child of the caller's run. With `timeout`, a call still running after that many
    seconds raises `TimeoutError` (the awaited one is cancelled; see `_within` for blocking).
    """

    __slots__ = ()

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        input: Any,
        config: RunnableConfig | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        extra = dict(kwargs or {})

        def blocking() -> Any:
            return runnable.invoke(input, config, **extra)

        async def awaiting() -> Any:
            return await runnable.ainvoke(input, config, **extra)

        if timeout is None:
            super().__init__(blocking, awaiting)
            return
        super().__init__(
            lambda: _within(timeout, blocking),
            lambda: asyncio.wait_for(awaiting(), timeout),
        )


def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """`call()` in a worker thread, or `TimeoutError` after `seconds` without its result.

    A blocking call cannot be interrupted: past the limit it is left to end on its own (its HTTP
    client's connect and read limits end a hung one), and its result is dropped. The worker runs
    in a copy of this thread's context, so callbacks and tracing see the caller's run.
    """
    context = contextvars.copy_context()
    done = threading.Event()
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append((True, context.run(call)))
        except BaseException as exc:  # handed to the caller below
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=work, name="accord-model-call", daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError(f"no answer within {seconds:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


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
        return drive(self.flow(input, config, **kwargs))

    async def ainvoke(self, input: In, config: RunnableConfig | None = None, **kwargs: Any) -> Out:
        """Runs the flow on the event loop."""
        return await adrive(self.flow(input, config, **kwargs))
