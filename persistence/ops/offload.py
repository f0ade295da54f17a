"""Async drivers for SQLite that run each transaction whole on the sync driver.

aiosqlite hops to its own thread and back for every DBAPI call: BEGIN, each statement, each
fetch, COMMIT. Running the whole transaction on the sync driver costs a turn far less CPU:
the hot operations at once on the loop's thread when the file is free (`inline`), the rest,
and those that would wait for a lock, in one hop to a worker thread. Writes still go one at a
time (the async driver's write lock).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import DBAPIError

from accord.persistence.engine import Target, capacity
from accord.persistence.ops.driver import AsyncDriver, Operation, Setup, SyncDriver, release
from accord.persistence.ops.inline import Busy, Inline
from accord.persistence.ops.native import HELD_MAX
from accord.persistence.ops.tracing import traced
from accord.persistence.ops.workers import Workers

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


class OffloadedDriver(AsyncDriver):
    """Runs operations on a sync driver: each transaction at once on the loop's thread (see
    `inline`) or in one worker thread."""

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
        self._inline = Inline(sync.engine)

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
        self._inline.close()

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
        if self._sync.runner.usable(op):
            try:
                return await self._at_once(op)
            except (Busy, DBAPIError):
                pass  # a lock someone else holds, or no connection: as any other operation
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

    async def _at_once(self, op: Operation[T]) -> T:
        """Runs a native operation on this thread (see `inline`); raises `Busy` instead of
        waiting for a lock another connection holds."""
        lock = None
        if op.write:  # the writes of this loop, on its thread or the workers', one at a time
            lock = self._write_lock()
            await lock.acquire()
        try:
            with traced(op.trace):
                result = self._sync.execute(op, self._inline.connection())
        finally:
            if lock is not None:
                lock.release()
        if op.write and self._inline.wrote():
            # As with SQLite's own auto-checkpoint, the write that fills the log waits for it.
            await asyncio.shield(self._left(asyncio.ensure_future(self._checkpoint())))
        return result

    async def _checkpoint(self) -> None:
        """Copies the log back in a worker thread, writes waiting meanwhile (as they wait for
        SQLite's own auto-checkpoint), so that the next write starts the log afresh."""
        async with self._write_lock():
            await self._threads.submit(Inline.checkpoint, self._inline)

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
