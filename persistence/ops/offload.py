"""Async drivers for SQLite that run each transaction whole, on the sync driver, in a thread.

aiosqlite hops to its own thread and back for every DBAPI call: BEGIN, each statement, each
fetch, COMMIT. Running the whole transaction on the sync driver, in one hop, costs a turn a
fifth less CPU; SQLite answers in microseconds, so the threads never wait long, and writes
still go one at a time (the async driver's write lock).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

from accord.persistence.engine import Target, capacity
from accord.persistence.ops.driver import AsyncDriver, Operation, Setup, SyncDriver, release
from accord.persistence.ops.native import HELD_MAX
from accord.persistence.ops.tracing import traced
from accord.persistence.ops.workers import Workers

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


class OffloadedDriver(AsyncDriver):
    """Runs operations on a sync driver, each transaction in one worker thread."""

    def __init__(
        self,
        engine: AsyncEngine,
        target: Target,
        setup: Setup,
        *,
        sync: SyncDriver,
        queue_timeout: float,
    ) -> None:
        """Wrap `sync` (the saver's sync driver); `engine` is its async twin, left unused."""
        super().__init__(engine, target, setup, serialize="writes", queue_timeout=queue_timeout)
        self._sync = sync
        # No more threads than connections: each thread keeps the one it uses.
        slots = min(HELD_MAX, capacity(sync.engine) or HELD_MAX)
        self._capacity = slots
        self._threads = Workers(slots, "accord-sqlite")

    async def setup(self) -> None:
        """Apply migrations unless done already (the sync driver's lock orders callers)."""
        if not self._setup.done:
            await self._threads.submit(SyncDriver.setup, self._sync)

    async def settle(self) -> None:
        """Waits for the transactions still running, then stops the worker threads."""
        await super().settle()
        self.shutdown()

    def shutdown(self) -> None:
        """Stops the worker threads, once their transactions are over."""
        self._threads.shutdown()

    async def run(self, op: Operation[T]) -> T:
        """As `AsyncDriver.run`, without a task of its own: the caller waits its turn for a
        thread (and the write lock) and hands the transaction to it.

        It still runs to its end if the caller is cancelled: a thread cannot be stopped, and
        the queue's place and the write lock are given back only when it is over. A caller
        cancelled while waiting its turn leaves the transaction to a task, as `AsyncDriver`
        runs each (most callers never are, and a task per transaction cost a turn under
        load more than its bookkeeping did).
        """
        if not self._setup.done:
            return await super().run(op)
        try:
            gate, lock = await self._turn(op)
        except asyncio.CancelledError:
            self._left(asyncio.ensure_future(self._transaction(op)))
            raise
        # Nothing awaits between the turn and the submit: no cancellation can fall between.
        work = self._threads.submit(self._sync.execute, op)
        work.add_done_callback(lambda _: release(gate, lock))
        with traced(op.trace):  # here: the thread does not have the caller's context
            return await asyncio.shield(self._left(work))

    async def _work(self, op: Operation[T]) -> T:
        return await self._threads.submit(self._sync.execute, op)


class ThreadedAsyncDriver:
    """Async front of a sync driver, for in-memory SQLite (one connection, no async twin)."""

    def __init__(self, sync: SyncDriver) -> None:
        """Wrap the sync driver."""
        self._sync = sync

    async def setup(self) -> None:
        """Apply migrations unless done already."""
        await asyncio.to_thread(self._sync.setup)

    async def run(self, op: Operation[T]) -> T:
        """Run the operation on the sync driver in a worker thread."""
        return await asyncio.to_thread(self._sync.run, op)
