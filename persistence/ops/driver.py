"""Sans-IO operations and the two tiny drivers that run them, one sync and one async.

An operation is a generator that yields `(statement, parameters)` steps and receives each
step's `Outcome`. It never touches a connection, so the same code serves `put` and `aput`.
Both drivers share one `Runner`: the sync driver calls it directly, the async one inside
SQLAlchemy's greenlet bridge (`greenlet_spawn`), where every DBAPI call of the async engine's
driver awaits on the event loop, exactly as SQLAlchemy's own asyncio layer works.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, Executable
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from accord.persistence import migrate
from accord.persistence.engine import QUEUE_TIMEOUT_S, Target, capacity
from accord.persistence.ops.failures import busy, retryable, translate, translated, unavailable
from accord.persistence.ops.inline import Busy, locked
from accord.persistence.ops.isolation import autocommit, options, serialized
from accord.persistence.ops.native import Checkout, Native
from accord.persistence.ops.tracing import traced

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
Step = tuple[Executable, Params]
Held = tuple[asyncio.Semaphore | None, asyncio.Lock | None]  # what `AsyncDriver._turn` took
RETRIES = 3


class Outcome(NamedTuple):
    """What one step returned: its rows (SELECTs) and the rows it changed."""

    rows: Sequence[Any]
    rowcount: int


Steps = Generator[Step, Outcome, T]


class Setup:
    """Whether migrations ran, shared by the sync and async drivers of one saver."""

    def __init__(self) -> None:
        """Start unmigrated."""
        self.done = False
        self.lock = threading.Lock()


class Operation(NamedTuple, Generic[T]):
    """One transaction's worth of work (a tuple: a frozen dataclass takes 1 µs more to make)."""

    steps: Callable[[], Steps[T]]
    """Makes a fresh generator of the steps (an operation is retried after a deadlock)."""
    write: bool
    what: str
    """What it does, for error messages: "put to thread 't1'"."""
    after: Callable[[T], None] | None = None
    """Runs once the transaction committed (cache upkeep)."""
    autocommit: bool = False
    """Each statement is atomic alone (PostgreSQL one-shot writes): skip BEGIN and COMMIT."""
    native: bool = False
    """Every step is a long-lived statement with bound parameters: run it on DBAPI."""
    trace: tuple[str, Mapping[str, Any]] | None = None
    """The OpenTelemetry span (name, attributes) the operation runs in, if it is traced."""


class Runner:
    """Runs one operation on a sync engine: one transaction, deadlocks retried.

    Called directly by `SyncDriver` and inside `greenlet_spawn` by `AsyncDriver` (on the
    async engine's sync facade), so transaction handling exists once.
    """

    def __init__(self, engine: Engine, target: Target) -> None:
        """Wrap an engine."""
        self.engine = engine
        self._target = target
        self._native = Native(engine)
        self._checkout = Checkout(engine)

    def release(self) -> None:
        """Give back connections kept between operations."""
        self._checkout.release()

    def run(self, op: Operation[T], given: PoolProxiedConnection | None = None) -> T:
        """Run the operation, then its `after` hook once it committed; on `given`, a native
        operation's connection that never waits for a lock (see `inline`: raises `Busy`)."""
        native = self.usable(op)
        for attempt in range(RETRIES):
            try:
                result = self._run_native(op, given) if native else self._run_sqlalchemy(op)
                break
            except DBAPIError as exc:
                if given is not None and locked(exc):
                    raise Busy(op.what) from exc
                if attempt + 1 < RETRIES and retryable(exc):
                    continue
                raise translate(self._target, op.what, exc) from exc
        if op.after is not None:
            op.after(result)
        return result

    @contextmanager
    def connect(self, op: Operation[Any] | None) -> Iterator[Connection]:
        """A SQLAlchemy connection set up for `op` (None: migrations)."""
        try:
            conn = self.engine.connect()
        except DBAPIError as exc:
            raise unavailable(self._target, exc) from exc
        except PoolTimeout as exc:
            raise busy(self._target, _what(op), exc) from exc
        with conn:
            conn.execution_options(**options(self._target, op, conn))
            yield conn

    def _run_sqlalchemy(self, op: Operation[T]) -> T:
        self._checkout.put_back()  # one connection per thread at a time
        with self.connect(op) as conn, conn.begin():
            return _drive(lambda s, p: _outcome(conn.execute(s, p)), op.steps())

    def usable(self, op: Operation[Any]) -> bool:
        """Whether `op` runs natively (on a `given` connection too)."""
        return op.native and self._native.usable()

    def _run_native(self, op: Operation[T], given: PoolProxiedConnection | None) -> T:
        native = self._native

        def work(cursor: Any) -> T:
            return _drive(lambda s, p: Outcome(*native.execute(cursor, s, p)), op.steps())

        try:
            pooled = given or self._checkout.take()
        except DBAPIError as exc:
            raise unavailable(self._target, exc) from exc
        except PoolTimeout as exc:
            raise busy(self._target, _what(op), exc) from exc
        try:
            bare = autocommit(self._target, op.write, op.autocommit, native=True)
            return native.transact(pooled, work, write=op.write, autocommit=bare)
        finally:
            if given is None:
                self._checkout.give(pooled)


def _outcome(result: CursorResult[Any]) -> Outcome:
    return Outcome(result.all() if result.returns_rows else (), result.rowcount)


class SyncDriver:
    """Runs operations on a sync engine, one transaction each."""

    def __init__(
        self, engine: Engine, target: Target, setup: Setup, *, serialize: str | None = None
    ) -> None:
        """Wrap an engine.

        Args:
            engine: The engine.
            target: Its database, for error messages.
            setup: The saver's migration state.
            serialize: "writes" to run one write at a time in this process (SQLite),
                "all" to run one operation at a time (in-memory SQLite: one connection),
                anything else for no serialization; default: what `serialized` says.
        """
        self.engine = engine
        self._target = target
        self._setup = setup
        self._serialize = serialize or serialized(target)
        self._lock = threading.Lock()
        self.runner = Runner(engine, target)

    def setup(self) -> None:
        """Apply migrations unless this saver did already."""
        if self._setup.done:
            return
        with self._setup.lock, self._connect(None) as conn:
            if not self._setup.done:
                translated(self._target, "setup", lambda: migrate.ensure(conn))
                self._setup.done = True

    def run(self, op: Operation[T]) -> T:
        """Run an operation in a transaction, retrying deadlocks; return its result."""
        if op.trace is None:
            return self.execute(op)
        with traced(op.trace):
            return self.execute(op)

    def execute(self, op: Operation[T], given: PoolProxiedConnection | None = None) -> T:
        """`run` without its span: for an async driver that runs it in a thread (the async
        call holds the span, in the caller's context, which the thread does not have). On
        `given` (see `inline`) it raises `Busy` instead of waiting for the write lock."""
        if not self._setup.done:
            self.setup()
        lock = self._lock_for(op)
        if lock is None:
            return self.runner.run(op, given)
        if not lock.acquire(blocking=given is None):
            raise Busy(op.what)
        try:
            return self.runner.run(op, given)
        finally:
            lock.release()

    def close(self) -> None:
        """Give back the connections kept between operations."""
        self.runner.release()

    def _lock_for(self, op: Operation[Any]) -> threading.Lock | None:
        writes = op.write and self._serialize == "writes"
        return self._lock if writes or self._serialize == "all" else None

    def _connect(self, op: Operation[Any] | None) -> AbstractContextManager[Connection]:
        return self.runner.connect(op)


class AsyncDriver:
    """Runs operations on an async engine, one transaction each."""

    def __init__(
        self,
        engine: AsyncEngine,
        target: Target,
        setup: Setup,
        *,
        serialize: str | None = None,
        queue_timeout: float = QUEUE_TIMEOUT_S,
    ) -> None:
        """Wrap an engine; the arguments are as for `SyncDriver` (`serialize`: "writes" or not).

        `queue_timeout` bounds the wait for a connection, in the queue of operations beyond
        what the pool can serve at once.
        """
        self.engine = engine
        self._target = target
        self._setup = setup
        self._serialize = serialize or serialized(target)
        self._runner = Runner(engine.sync_engine, target)
        self._capacity = capacity(engine.sync_engine)
        self._queue_timeout = queue_timeout
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._running: set[asyncio.Future[Any]] = set()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._setup_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def setup(self) -> None:
        """Apply migrations unless this saver did already (concurrent callers wait in the DB)."""
        if self._setup.done:
            return
        # One migration per process: a burst of first calls (a thousand sessions opened at
        # once) would otherwise each run Alembic, only to find the work done.
        loop = asyncio.get_running_loop()
        async with self._setup_locks.setdefault(loop, asyncio.Lock()):
            if self._done():  # another caller migrated while this one waited
                return
            async with self._connect(None) as conn:
                try:
                    await conn.run_sync(migrate.ensure)
                except DBAPIError as exc:
                    raise translate(self._target, "setup", exc) from exc
            self._setup.done = True

    def _done(self) -> bool:
        return self._setup.done

    async def run(self, op: Operation[T]) -> T:
        """Run an operation in a transaction, retrying deadlocks; return its result.

        A caller cancelled mid-way (a budget stops a run, cancelling LangGraph's background
        `aput_writes`) leaves the transaction to finish in its own task: cancelled while opening
        a connection, psycopg and SQLAlchemy's pool would abandon it half-made, unclosed.
        """
        with traced(op.trace):
            return await asyncio.shield(self._left(asyncio.ensure_future(self._transaction(op))))

    def _left(self, work: asyncio.Future[T]) -> asyncio.Future[T]:
        """`work`, tracked until done (`settle` waits for it), its outcome retrieved even when
        nobody waits for it any more (its caller was cancelled)."""
        self._running.add(work)
        work.add_done_callback(self._running.discard)
        work.add_done_callback(settled)
        return work

    async def settle(self) -> None:
        """Waits for the transactions still running on this loop, before the engine closes.

        Some have no caller left to wait for them: LangGraph leaves a failed run's background
        `aput_writes` behind, and a cancelled caller leaves its transaction to finish.
        """
        loop = asyncio.get_running_loop()
        left = [work for work in self._running if work.get_loop() is loop]
        await asyncio.gather(*left, return_exceptions=True)
        self._runner.release()

    def shutdown(self) -> None:
        """Stops what runs the transactions, once `settle` has waited for them."""
        self._runner.release()

    async def _transaction(self, op: Operation[T]) -> T:
        if not self._setup.done:
            await self.setup()
        gate, lock = await self._turn(op)
        try:
            return await self._work(op)
        finally:
            release(gate, lock)

    async def _work(self, op: Operation[T]) -> T:
        return await greenlet_spawn(self._runner.run, op)

    async def _turn(self, op: Operation[Any]) -> Held:
        """Waits for a free connection in first-come order (the pool's own queue let newcomers
        overtake: issue 14, 16-44% of 1,000 sessions failed on PostgreSQL), then for the write
        lock where writes go one at a time. Returns what it took, for `release`; holds nothing
        if it raises. Only a wait is timed: a timer per operation would cost every call."""
        loop = asyncio.get_running_loop()
        gate = None
        if self._capacity is not None:
            gate = self._gates.setdefault(loop, asyncio.Semaphore(self._capacity))
            if gate.locked():
                try:
                    async with asyncio.timeout(self._queue_timeout):
                        await gate.acquire()
                except TimeoutError as exc:
                    raise busy(self._target, op.what, exc, self._queue_timeout) from None
            else:
                await gate.acquire()  # does not wait
        if not (op.write and self._serialize == "writes"):
            return gate, None
        lock = self._write_lock()
        try:
            await lock.acquire()
        except BaseException:
            release(gate, None)
            raise
        return gate, lock

    def _write_lock(self) -> asyncio.Lock:
        """The running loop's lock that its writes take one at a time (a saver outlives loops)."""
        return self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())

    @asynccontextmanager
    async def _connect(self, op: Operation[Any] | None) -> AsyncIterator[AsyncConnection]:
        try:
            conn = await self.engine.connect()
        except DBAPIError as exc:
            raise unavailable(self._target, exc) from exc
        try:
            settings = options(self._target, op, conn.sync_connection)
            await conn.execution_options(**settings)
            yield conn
        finally:
            await conn.close()


def _drive(execute: Callable[[Executable, Params], Outcome], steps: Steps[T]) -> T:
    try:
        statement, params = next(steps)
        while True:
            statement, params = steps.send(execute(statement, params))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def _what(op: Operation[Any] | None) -> str:
    return op.what if op is not None else "setup"


def release(gate: asyncio.Semaphore | None, lock: asyncio.Lock | None) -> None:
    """Gives back what `AsyncDriver._turn` took."""
    if gate is not None:
        gate.release()
    if lock is not None:
        lock.release()


def settled(work: asyncio.Future[Any]) -> None:
    """Retrieves the outcome of a transaction its caller stopped waiting for (nobody needs it)."""
    if not work.cancelled():
        work.exception()
