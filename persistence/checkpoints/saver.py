"""`SQLAlchemySaver`: LangGraph's checkpointer on SQLite, PostgreSQL or MariaDB/MySQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from accord.persistence.checkpoints import reads
from accord.persistence.checkpoints.ahead import Ahead, take
from accord.persistence.checkpoints.cache import ChannelCache
from accord.persistence.checkpoints.codec import DEFAULT_MAX_CHAIN, next_version
from accord.persistence.checkpoints.operations import Operations
from accord.persistence.checkpoints.statements import Statements
from accord.persistence.engine import (
    DEFAULT_CONCURRENCY,
    QUEUE_TIMEOUT_S,
    Target,
    create_async,
    create_sync,
    is_async,
    pool_settings,
    prepare,
    resolve,
    target_of,
)
from accord.persistence.ops.driver import AsyncDriver, Operation, Setup, SyncDriver
from accord.persistence.ops.offload import OffloadedDriver, ThreadedAsyncDriver

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
DEFAULT_URL = "sqlite:///accord.db"


class SQLAlchemySaver(
    BaseCheckpointSaver[str],
    AbstractContextManager["SQLAlchemySaver"],
    AbstractAsyncContextManager["SQLAlchemySaver"],
):
    """A LangGraph checkpointer on SQLAlchemy Core: SQLite, PostgreSQL or MariaDB/MySQL.

    Sync and async methods share one implementation and may be mixed freely; the async ones
    run on the backend's async driver (aiosqlite, psycopg, aiomysql). Tables are created by
    Alembic migrations on first use (or by `setup()`), prefixed `accord_`.

    Each channel value is stored once per version that changed it. A list that extends the
    list stored at an earlier version (a growing message history) is stored as a delta of
    the appended items, so a conversation's storage grows by the new messages each turn,
    not by the whole history.

    Example:
        ```python
        with SQLAlchemySaver.from_url("sqlite:///chat.db") as saver:
            graph = builder.compile(checkpointer=saver)
            graph.invoke(inputs, {"configurable": {"thread_id": "t1"}})
        ```
    """

    def __init__(
        self,
        bind: str | URL | Engine | AsyncEngine = DEFAULT_URL,
        *,
        serde: SerializerProtocol | None = None,
        engine_options: dict[str, Any] | None = None,
        cache_size: int = 1024,
        max_chain: int = DEFAULT_MAX_CHAIN,
        concurrency: int = DEFAULT_CONCURRENCY,
        queue_timeout: float = QUEUE_TIMEOUT_S,
    ) -> None:
        """Create a saver; nothing connects until the first call.

        Args:
            bind: A database URL, or an engine (sync or async) you own and dispose yourself.
                accord builds the other flavour from the engine's URL.
            serde: The serializer of checkpoints and values (LangGraph's default if None).
            engine_options: Extra `create_engine` arguments (pool sizes, ...) for engines
                accord builds.
            cache_size: How many list channels to remember for delta encoding, and how many
                other values' rows (up to 4 KB each) to keep so that reading them back
                fetches nothing; 0 stores every version in full and keeps nothing.
            max_chain: How many deltas may follow a full value before another is stored.
            concurrency: Operations you expect at once: each engine opens up to this many
                connections (under the server's `max_connections`); more wait in a queue.
            queue_timeout: Seconds an operation may queue before it raises `DatabaseBusy`.

        Raises:
            UnsupportedDatabaseURL: The URL names a database or driver accord cannot use.
            ValueError: `concurrency` or `queue_timeout` is not positive.
        """
        super().__init__(serde=serde)
        given_sync = bind if isinstance(bind, Engine) else None
        given_async = bind if is_async(bind) else None
        if given_sync is not None or given_async is not None:
            self._target = target_of(given_sync or given_async)  # type: ignore[arg-type]
        else:
            self._target = resolve(bind)  # type: ignore[arg-type]
        self._given_sync = given_sync
        self._given_async = given_async
        pool = pool_settings(concurrency, queue_timeout)
        self._options = ({} if self._target.memory else pool) | dict(engine_options or {})
        self._queue_timeout = queue_timeout
        self._cache = ChannelCache(cache_size)
        self._setup = Setup()
        self._lock = threading.Lock()
        self._sync: SyncDriver | None = None
        self._async: AsyncDriver | ThreadedAsyncDriver | None = None
        if given_sync is not None:
            prepare(given_sync)
        elif given_async is not None:
            prepare(given_async.sync_engine)
        sql = Statements(self._target.sync_url.get_backend_name())
        self._ops = Operations(sql, self._cache, max_chain)

    @classmethod
    def from_url(cls, url: str | URL = DEFAULT_URL, **options: Any) -> Self:
        """A saver for a database URL (see `__init__` for the options).

        Supported: `sqlite:///path` (or `sqlite://` in memory), `postgresql+psycopg://...`,
        `mysql+pymysql://...` (MariaDB too); the async driver is derived from the same URL.
        """
        return cls(url, **options)

    @classmethod
    def from_engine(cls, engine: Engine | AsyncEngine, **options: Any) -> Self:
        """A saver on an engine you own (see `__init__` for the options)."""
        return cls(engine, **options)

    # --- lifecycle -------------------------------------------------------------------------

    def setup(self) -> None:
        """Create or upgrade the tables now (otherwise done on first use)."""
        self._sync_driver().setup()

    async def asetup(self) -> None:
        """Async `setup`."""
        await self._async_driver().setup()

    def close(self) -> None:
        """Dispose of the engines this saver built (prefer `aclose` after async use)."""
        with self._lock:
            sync, self._sync = self._sync, None
            aio, self._async = self._async, None
        if isinstance(aio, AsyncDriver):
            aio.shutdown()  # before the sync driver an offloading one runs on
        if sync is not None:
            sync.close()
        if sync is not None and self._given_sync is None:
            sync.engine.dispose()
        if isinstance(aio, AsyncDriver) and self._given_async is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(aio.engine.dispose())
            else:
                aio.engine.sync_engine.dispose(close=False)

    async def aclose(self) -> None:
        """Dispose of the engines this saver built."""
        with self._lock:
            aio, self._async = self._async, None
        if isinstance(aio, AsyncDriver):
            await aio.settle()
            if self._given_async is None:
                await aio.engine.dispose()
        self.close()

    def __enter__(self) -> SQLAlchemySaver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> SQLAlchemySaver:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- reads -----------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by `config` (its `checkpoint_id`, or the thread's latest)."""
        return reads.first(self.run(self._ops.get(self.serde, config)))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async `get_tuple` (served without a read when a session's run read it ahead)."""
        read = take(self, config)
        if read is not None:
            return reads.first(read)
        return reads.first(await self.arun(self._ops.get(self.serde, config)))

    def read_ahead(self, thread_id: str) -> Ahead:
        """A read of the thread's latest checkpoint to run in another operation's transaction
        (see `accord.persistence.checkpoints.ahead`)."""
        return self._ops.ahead(self, self.serde, thread_id)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints matching the criteria, newest first, read a page at a time."""
        listing = self._ops.listing(self.serde, config, filter, before, limit)
        while (page := listing.next_page()) is not None:
            yield from listing.take(self.run(page))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async `list`."""
        listing = self._ops.listing(self.serde, config, filter, before, limit)
        while (page := listing.next_page()) is not None:
            for item in listing.take(await self.arun(page)):
                yield item

    # --- writes ----------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the channel values that changed (`new_versions`)."""
        op, out = self._ops.put(self.serde, config, checkpoint, metadata, new_versions)
        self.run(op)
        return out

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async `put`."""
        op, out = self._ops.put(self.serde, config, checkpoint, metadata, new_versions)
        await self.arun(op)
        return out

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for the checkpoint named by `config`."""
        self.run(self._ops.put_writes(self.serde, config, writes, task_id, task_path))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async `put_writes`."""
        await self.arun(self._ops.put_writes(self.serde, config, writes, task_id, task_path))

    # --- upkeep ----------------------------------------------------------------------------

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, value and pending write of a thread."""
        self.run(self._ops.delete([str(thread_id)]))

    async def adelete_thread(self, thread_id: str) -> None:
        """Async `delete_thread`."""
        await self.arun(self._ops.delete([str(thread_id)]))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints made by these runs (metadata `run_id`) and their writes."""
        self.run(self._ops.delete_runs(self.serde, run_ids))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async `delete_for_runs`."""
        await self.arun(self._ops.delete_runs(self.serde, run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread's whole history to a new thread id.

        Raises:
            PersistenceError: The target thread already has checkpoints.
        """
        self.run(self._ops.copy(source_thread_id, target_thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async `copy_thread`."""
        await self.arun(self._ops.copy(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep only each namespace's latest checkpoint ("keep_latest"), or none ("delete").

        Raises:
            ValueError: Unknown strategy.
            UnsupportedOperation: "keep_latest" on a thread that uses a `DeltaChannel`.
        """
        self.run(self._ops.prune(self.serde, thread_ids, strategy))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async `prune`."""
        await self.arun(self._ops.prune(self.serde, thread_ids, strategy))

    def get_next_version(self, current: str | int | float | None, channel: None) -> str:
        """A version greater than `current`, with a random tail so forks never collide."""
        return next_version(current)

    # --- operations ------------------------------------------------------------------------

    @property
    def target(self) -> Target:
        """The database this saver stores into; `target.describe()` names it without password."""
        return self._target

    def run(self, op: Operation[T]) -> T:
        """Run a sans-IO operation (see `accord.persistence.ops.driver`) in one transaction.

        The session stores run theirs here, so they share this saver's engines, connection
        handling, retries and migrations.
        """
        return self._sync_driver().run(op)

    async def arun(self, op: Operation[T]) -> T:
        """Async `run`."""
        return await self._async_driver().run(op)

    def _sync_driver(self) -> SyncDriver:
        driver = self._sync
        if driver is not None:
            return driver
        with self._lock:
            if self._sync is None:
                engine = self._given_sync or create_sync(self._target, self._options)
                self._sync = SyncDriver(engine, self._target, self._setup)
            return self._sync

    def _async_driver(self) -> AsyncDriver | ThreadedAsyncDriver:
        driver = self._async
        if driver is not None:
            return driver
        # SQLite in memory is one connection; a file this saver opened: see `OffloadedDriver`.
        own = self._target.backend == "sqlite" and not (self._given_async or self._given_sync)
        sync = self._sync_driver() if own or self._target.memory else None
        with self._lock:
            if self._async is None and sync is not None and self._target.memory:
                self._async = ThreadedAsyncDriver(sync)
            elif self._async is None:
                engine = self._given_async or create_async(self._target, self._options)
                timeout, setup = self._queue_timeout, self._setup
                self._async = (
                    AsyncDriver(engine, self._target, setup, queue_timeout=timeout)
                    if sync is None
                    else OffloadedDriver(
                        engine, self._target, setup, sync=sync, queue_timeout=timeout
                    )
                )
            return self._async
