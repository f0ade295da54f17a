"""A few worker threads that run calls for an event loop, each result back in one loop call.

`loop.run_in_executor` costs about 40 µs of CPU per call besides the thread switch itself (a
`concurrent.futures.Future` and its condition, the executor's submit lock and idle semaphore,
two futures chained by callbacks both ways): more than the SQLite transaction it offloads.
Here a call is a queue entry and its result one `call_soon_threadsafe` on the caller's future.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

A = TypeVar("A")
T = TypeVar("T")
Entry = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[Any], Any], Any]


class _Crew:
    """What the threads share with their `Workers` (never the `Workers` itself: unreachable,
    it is collected, and its finalizer lets the threads go)."""

    def __init__(self) -> None:
        self.entries: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.busy = 0  # calls handed over and not yet done
        self.closed = False


class Workers:
    """Up to `size` daemon threads named `name_<n>`, started as calls need them."""

    def __init__(self, size: int, name: str) -> None:
        self._size, self._name = size, name
        self._crew = _Crew()
        weakref.finalize(self, _stop, self._crew)

    def submit(self, call: Callable[[A], T], argument: A) -> asyncio.Future[T]:
        """`call(argument)` in a worker thread; its result (or error) on the running loop.

        Raises:
            RuntimeError: After `shutdown`.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        crew = self._crew
        with crew.lock:
            if crew.closed:
                raise RuntimeError("cannot run calls after shutdown")
            crew.busy += 1
            if crew.busy > len(crew.threads) and len(crew.threads) < self._size:
                name = f"{self._name}_{len(crew.threads)}"
                thread = threading.Thread(target=_serve, args=(crew,), name=name, daemon=True)
                crew.threads.append(thread)
                thread.start()
        crew.entries.put((loop, future, call, argument))
        return future

    def shutdown(self) -> None:
        """Lets the threads go once the calls handed over are done, and waits for them."""
        for thread in _stop(self._crew):
            if thread is not threading.current_thread():
                thread.join()


def _stop(crew: _Crew) -> list[threading.Thread]:
    with crew.lock:
        crew.closed = True
        threads, crew.threads = crew.threads, []
    for _ in threads:
        crew.entries.put(None)  # after the calls queued already
    return threads


def _serve(crew: _Crew) -> None:
    while (entry := crew.entries.get()) is not None:
        loop, future, call, argument = entry
        del entry
        try:
            outcome: tuple[Any, BaseException | None] = (call(argument), None)
        except BaseException as exc:
            outcome = (None, exc)
        with crew.lock:
            crew.busy -= 1
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for the outcome
            loop.call_soon_threadsafe(_settle, future, outcome)
        del loop, future, call, argument, outcome


def _settle(future: asyncio.Future[Any], outcome: tuple[Any, BaseException | None]) -> None:
    if future.cancelled():
        return
    result, error = outcome
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
