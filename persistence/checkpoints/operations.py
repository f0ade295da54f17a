"""The operations behind each saver method, built once for its sync and async twin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.serde.base import SerializerProtocol

from accord.persistence.checkpoints import reads, upkeep, writes
from accord.persistence.checkpoints.ahead import Ahead
from accord.persistence.checkpoints.cache import ChannelCache
from accord.persistence.checkpoints.listing import Listing
from accord.persistence.checkpoints.statements import Statements
from accord.persistence.ops.driver import Operation


class Operations:
    """Turns each call into an `Operation`, with the cache upkeep to run after commit."""

    def __init__(self, sql: Statements, cache: ChannelCache, max_chain: int) -> None:
        """Bind the statements, the delta cache and the delta chain limit."""
        self._sql = sql
        self._cache = cache
        self._max_chain = max_chain

    def get(self, serde: SerializerProtocol, config: RunnableConfig) -> Operation[reads.Loaded]:
        """Read one checkpoint; the cache learns its list values."""

        def remember(loaded: reads.Loaded) -> None:
            self._cache.remember(loaded.learned)

        return Operation(
            lambda: reads.get_tuple(self._sql, serde, config, self._cache),
            write=False,
            what=f"reading thread {config['configurable'].get('thread_id')!r}",
            after=remember,
            native=True,
        )

    def ahead(self, owner: object, serde: SerializerProtocol, thread_id: str) -> Ahead:
        """The latest checkpoint of `thread_id`, to read in another operation."""
        return Ahead(owner, self._sql, serde, self._cache, thread_id)

    def listing(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Listing:
        """Page through checkpoints matching the `list` criteria."""
        return Listing(self._sql, serde, config, filter=filter, before=before, limit=limit)

    def put(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[Operation[None], RunnableConfig]:
        """Store a checkpoint, serialized before any transaction; returns its config."""
        prepared = writes.prepare_put(
            serde,
            self._cache,
            config,
            checkpoint,
            metadata,
            new_versions,
            max_chain=self._max_chain,
        )

        values = prepared.values

        def remember(_: None) -> None:
            self._cache.remember(values.learned)
            self._cache.keep(values.kept)

        op = Operation(
            lambda: writes.put(self._sql, serde, prepared),
            write=True,
            what=f"storing a checkpoint of thread {prepared.thread_id!r}",
            # A rebase only replaces what was learned: nothing learned, nothing to remember.
            after=remember if values.learned or values.kept else None,
            autocommit=self._sql.oneshot is not None,
            native=True,
            trace=("accord.checkpoint.write", {"accord.session.id": prepared.thread_id}),
        )
        return op, prepared.config

    def put_writes(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        pending: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> Operation[None]:
        """Store a task's pending writes."""
        rows = writes.prepare_writes(serde, config, pending, task_id, task_path)
        replace = all([row["idx"] < 0 for row in rows])
        return Operation(
            lambda: writes.put_writes(self._sql, rows, replace),
            write=True,
            what=f"storing writes of thread {config['configurable'].get('thread_id')!r}",
            autocommit=self._sql.oneshot is not None,
            native=True,
        )

    def delete(self, thread_ids: Sequence[str]) -> Operation[None]:
        """Delete threads outright."""
        return Operation(
            lambda: upkeep.delete_threads(self._sql, thread_ids),
            write=True,
            what=f"deleting threads {thread_ids!r}",
            after=lambda _: self._cache.forget(thread_ids),
        )

    def delete_runs(self, serde: SerializerProtocol, run_ids: Sequence[str]) -> Operation[set[str]]:
        """Delete the checkpoints of runs, keeping chains others need."""
        ids = [str(r) for r in run_ids]
        return Operation(
            lambda: upkeep.delete_for_runs(self._sql, serde, ids),
            write=True,
            what=f"deleting runs {ids!r}",
            after=self._cache.forget,
        )

    def copy(self, source: str, target: str) -> Operation[None]:
        """Copy a thread to a new thread id."""
        return Operation(
            lambda: upkeep.copy_thread(self._sql, str(source), str(target)),
            write=True,
            what=f"copying thread {source!r} to {target!r}",
            after=lambda _: self._cache.forget([str(target)]),
        )

    def prune(
        self, serde: SerializerProtocol, thread_ids: Sequence[str], strategy: str
    ) -> Operation[None]:
        """Prune threads by strategy ("keep_latest" or "delete")."""
        if isinstance(thread_ids, str):
            raise TypeError("thread_ids must be a sequence of thread ids, not a str")
        ids = [str(t) for t in thread_ids]
        return Operation(
            lambda: upkeep.prune(self._sql, serde, ids, strategy),
            write=True,
            what=f"pruning threads {ids!r}",
            after=lambda _: self._cache.forget(ids),
        )
