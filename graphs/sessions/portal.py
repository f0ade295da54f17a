"""Runs an async core from synchronous code: one private event loop in a background thread.

The session runtime is async; its sync methods hand their coroutine to the loop the runtime
is bound to. That keeps one implementation, and the database engines on one loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class Portal:
    """An event loop in a daemon thread, started on first use and stopped by `close`."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The portal's loop, started if need be."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="accord-portal", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs `coroutine` on the portal's loop and waits for its result."""
        return submit(self.loop, coroutine).result()

    def iterate(self, stream: AsyncIterator[T]) -> Iterator[T]:
        """Iterates an async iterator on the portal's loop, one item at a time."""
        return iterate(self.loop, stream)

    def close(self) -> None:
        """Stops the loop and its thread."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def submit(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
    """Schedules `coroutine` on `loop` from another thread."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop)


def iterate(loop: asyncio.AbstractEventLoop, stream: AsyncIterator[T]) -> Iterator[T]:
    """Pulls `stream`'s items through `loop` from another thread; closes it if abandoned."""
    try:
        while True:
            try:
                yield submit(loop, _next(stream)).result()
            except StopAsyncIteration:
                return
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            submit(loop, close()).result()


async def _next(stream: AsyncIterator[T]) -> T:
    return await stream.__anext__()
