"""The event loop a session runtime's async work runs on, from async and sync callers alike.

The runtime is async; it binds to the first loop that calls it (the caller's), or, for
sync-only use, to a private loop in a daemon thread. Calls from another loop or thread are
handed to the bound loop, which keeps one implementation and the database engines on one loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
)
from concurrent.futures import CancelledError, Future
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Portal:
    """Runs coroutines and streams on one bound event loop; `close` stops its private loop."""

    def __init__(self) -> None:
        self._bound: asyncio.AbstractEventLoop | None = None
        self._private: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._started: set[asyncio.Task[Any]] = set()

    async def enter(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs `coroutine` on the bound loop: the caller's, the first time."""
        running = asyncio.get_running_loop()
        if self._bound is None or self._bound.is_closed():
            self._bound = running
        if self._bound is running:
            return await coroutine
        return await asyncio.wrap_future(_submit(self._bound, coroutine))

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs `coroutine` on the bound loop (the private one, if none) and waits for it.

        Raises:
            RuntimeError: Called from inside the bound loop, which it would block.
        """
        loop = self._sync_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coroutine.close()
            raise RuntimeError(
                "a sync Sessions method was called inside the event loop it runs on; "
                "use the async method (await sessions.aopen(...), session.asend(...))"
            )
        call = _Call(coroutine)
        loop.call_soon_threadsafe(call.start)
        try:
            return call.result()
        except KeyboardInterrupt:  # Ctrl-C: the run stops here too, and ends (its lease freed)
            if not loop.is_closed():
                _submit(loop, _cancel(call.step)).result()
            raise

    def start(
        self, coroutine: Coroutine[Any, Any, T], then: Callable[[asyncio.Task[T]], object]
    ) -> None:
        """Starts `coroutine` on the bound loop (the private one, if none) and returns at once;
        `then` gets its task, done, on the loop. The task is held until then: the loop keeps
        only weak references to tasks."""
        self._sync_loop().call_soon_threadsafe(self._begin, coroutine, then)

    def _begin(
        self, coroutine: Coroutine[Any, Any, T], then: Callable[[asyncio.Task[T]], object]
    ) -> None:
        task = asyncio.ensure_future(coroutine)
        self._started.add(task)
        task.add_done_callback(self._started.discard)
        task.add_done_callback(then)

    async def relay(self, stream: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
        """`stream`'s items as they come, when on the bound loop; else all once it is done."""
        if self._bound is None or self._bound.is_closed():
            self._bound = asyncio.get_running_loop()
        if self._bound is asyncio.get_running_loop():
            # Closed at once if the caller stops early, so what it holds is given back now.
            async with contextlib.aclosing(stream):
                async for item in stream:
                    yield item
            return
        for item in await self.enter(_drain(stream)):
            yield item

    def iterate(self, stream: AsyncIterator[T]) -> Iterator[T]:
        """Pulls `stream`'s items through the bound loop from this thread; closes it if
        abandoned."""
        loop = self._sync_loop()
        step: list[asyncio.Task[Any]] = []  # the pull in flight on the loop, once it started
        try:
            while True:
                try:
                    yield _submit(loop, _next(stream, step)).result()
                except StopAsyncIteration:
                    return
        finally:
            if not loop.is_closed():  # else its tasks, this stream's too, are gone already
                _submit(loop, _stop(stream, step)).result()

    def close(self) -> None:
        """Stops the private loop and its thread, if one was started."""
        with self._lock:
            loop, thread, self._private, self._thread = self._private, self._thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def _sync_loop(self) -> asyncio.AbstractEventLoop:
        """The bound loop, bound to the private loop (started if need be) if there is none."""
        if self._bound is None or self._bound.is_closed():
            with self._lock:
                if self._private is None:
                    self._private = asyncio.new_event_loop()
                    self._thread = threading.Thread(
                        target=self._private.run_forever, name="accord-portal", daemon=True
                    )
                    self._thread.start()
                self._bound = self._private
        return self._bound


class _Call(Generic[T]):
    """A coroutine run on the bound loop for a waiting thread: `run_coroutine_threadsafe`
    without its `concurrent.futures.Future` (a condition, a lock and a deque: some 1.5 KB per
    call, and a fleet's worker has a call in flight for every turn it runs)."""

    __slots__ = ("_coroutine", "_woken", "step")

    def __init__(self, coroutine: Coroutine[Any, Any, T]) -> None:
        self._coroutine: Coroutine[Any, Any, T] | None = coroutine
        self._woken = threading.Lock()
        self._woken.acquire()
        # The call's task, once started: a caller who stops waiting cancels it (`_cancel`).
        self.step: list[asyncio.Task[T]] = []

    def start(self) -> None:
        """On the loop: starts the task, which wakes the caller when it is done."""
        coroutine, self._coroutine = self._coroutine, None
        assert coroutine is not None
        try:
            task = asyncio.ensure_future(coroutine)
        except BaseException:
            self._woken.release()  # `result` finds no task and says so
            raise
        self.step.append(task)
        task.add_done_callback(self._wake)

    def _wake(self, _: object) -> None:
        self._woken.release()

    def result(self) -> T:
        """Waits for the task and returns its result (raises what it raised)."""
        self._woken.acquire()
        if not self.step:
            raise RuntimeError("the session runtime's event loop could not start the call")
        task = self.step[0]
        if task.cancelled():
            raise CancelledError()  # as `run_coroutine_threadsafe`'s future says it
        return task.result()


def _submit(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
    return asyncio.run_coroutine_threadsafe(coroutine, loop)


async def _tracked(coroutine: Awaitable[T], step: list[asyncio.Task[Any]]) -> T:
    """Runs `coroutine`, first putting its task in `step`, so a caller who stops waiting can
    cancel it (`_cancel`)."""
    task = asyncio.current_task()
    step[:] = [task] if task is not None else []
    return await coroutine


async def _next(stream: AsyncIterator[T], step: list[asyncio.Task[Any]]) -> T:
    return await _tracked(stream.__anext__(), step)


async def _cancel(step: list[asyncio.Task[Any]]) -> None:
    """Cancels the task in `step` if it still runs, and waits until it has unwound. It was
    scheduled before this, so it has started (and is in `step`)."""
    running = [task for task in step if not task.done()]
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running)


async def _stop(stream: AsyncIterator[Any], step: list[asyncio.Task[Any]]) -> None:
    """Closes `stream`, first cancelling a pull its caller stopped waiting for (Ctrl-C in a
    sync `stream`): closing a generator while it runs fails, and would leave the run (and the
    session's lease) unfinished."""
    await _cancel(step)
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


async def _drain(stream: AsyncIterator[T]) -> list[T]:
    return [item async for item in stream]
