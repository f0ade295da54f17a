"""`ReplicatedSaver`: checkpoints and session rows written to a primary and its replicas.

Every write goes to the acting primary first; once it has it, the write is acknowledged and
copied to each replica. A replica that fails a copy never fails the caller: it is counted as
lagging (see `verify`) and logged. When the acting primary is unreachable the next copy in
line that missed no write takes over, and the dead one is not tried again until its cooldown
ends, so a dead database costs one failed call, not one per call. A copy that missed a write
never becomes the acting primary again: it would serve stale state.

That knowledge survives restarts: every copy stores an epoch (`replication/epochs.py`), raised
on the copies that have every write whenever a copy falls behind, so a saver started again
on the same databases finds the copies left behind (a lower epoch) and neither reads nor
writes them; `members[i].stale` says how to rebuild one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import Any, Self, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

from accord.persistence.checkpoints.saver import SQLAlchemySaver
from accord.persistence.engine import Target
from accord.persistence.ops.driver import Operation
from accord.persistence.ops.flow import Flow, adrive, drive, twin
from accord.persistence.replication.fanout import Copies, Member, unreachable
from accord.persistence.replication.verify import VerifyReport, verifying

T = TypeVar("T")
DEFAULT_COOLDOWN_S = 5.0


class ReplicatedSaver(
    BaseCheckpointSaver[str],
    AbstractContextManager["ReplicatedSaver"],
    AbstractAsyncContextManager["ReplicatedSaver"],
):
    """A LangGraph checkpointer that writes to a primary and replicas and fails over.

    Session records, leases and audit events follow when their stores are bound to it
    (`SessionStore(replicated)`): writes go to every copy, reads to the acting primary.
    Closing it closes every member.

    Limits: a copy that missed a write is not brought up to date here (build a new saver on a
    copy that `verify` passes). `LeaseStore` builds its insert-if-absent for the dialect of the
    acting primary at construction, which only PostgreSQL -> SQLite replicas also accept;
    across other backends a replica misses new leases and shows as lagging.

    Example:
        ```python
        saver = ReplicatedSaver(
            SQLAlchemySaver.from_url("postgresql+psycopg://db1/app"),
            SQLAlchemySaver.from_url("sqlite:///replica.db"),
        )
        graph = builder.compile(checkpointer=saver)
        report = saver.verify()  # every replica equal to the primary?
        ```
    """

    def __init__(
        self,
        primary: SQLAlchemySaver,
        *replicas: SQLAlchemySaver,
        cooldown: float = DEFAULT_COOLDOWN_S,
    ) -> None:
        """Replicate `primary` to `replicas`, in the order they take over.

        Args:
            primary: Serves reads and acknowledges writes while reachable.
            *replicas: Get a copy of every write; the first healthy one takes over.
            cooldown: Seconds an unreachable member is left alone before it is tried again.

        Raises:
            ValueError: No replica, or a saver given twice.
        """
        savers = (primary, *replicas)
        if not replicas or len({id(s) for s in savers}) != len(savers):
            raise ValueError("give a primary and at least one distinct replica saver")
        super().__init__(serde=primary.serde)
        self.copies = Copies(savers, cooldown)

    # --- health ------------------------------------------------------------------------------

    @property
    def members(self) -> tuple[Member, ...]:
        """The primary and the replicas, in the order they take over, with their health."""
        return self.copies.members

    def acting(self) -> Member:
        """The member that serves reads now: the first one that missed no write and is up.

        Raises:
            DatabaseUnavailable: Every member that could serve is unreachable or lagging.
        """
        return self.copies.acting()

    @property
    def target(self) -> Target:
        """The database of the acting member (see `acting`)."""
        return self.acting().saver.target

    def run(self, op: Operation[T]) -> T:
        """Run a session-store operation: a write on every member, a read on the acting one."""
        return drive(self._running(op))

    async def arun(self, op: Operation[T]) -> T:
        """Async `run`."""
        return await adrive(self._running(op))

    def _running(self, op: Operation[T]) -> Flow[T]:
        if op.write:
            return self.copies.writing(op.what, lambda s: twin(s.run, s.arun, op))
        return self.copies.reading(lambda s: twin(s.run, s.arun, op))

    # --- verification ------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Prove each replica restorable: per thread, the same checkpoint ids and latest state.

        Returns:
            One report per replica (the members other than the acting primary).
        """
        return drive(self._verifying())

    async def averify(self) -> VerifyReport:
        """Async `verify`."""
        return await adrive(self._verifying())

    def _verifying(self) -> Flow[VerifyReport]:
        leader = yield from self.copies.leading()
        report: VerifyReport = yield from verifying(
            leader, [m for m in self.members if m is not leader]
        )
        return report

    # --- lifecycle -----------------------------------------------------------------------------

    def setup(self) -> None:
        """Create or upgrade the tables on every reachable member."""
        drive(self.copies.writing("setup", lambda s: twin(s.setup, s.asetup)))

    async def asetup(self) -> None:
        """Async `setup`."""
        await adrive(self.copies.writing("setup", lambda s: twin(s.setup, s.asetup)))

    def close(self) -> None:
        """Close every member."""
        for member in self.members:
            member.saver.close()

    async def aclose(self) -> None:
        """Async `close`."""
        for member in self.members:
            await member.saver.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
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
        """The checkpoint named by `config`, from the acting primary."""
        return drive(self.copies.reading(lambda s: twin(s.get_tuple, s.aget_tuple, config)))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async `get_tuple`."""
        return await adrive(self.copies.reading(lambda s: twin(s.get_tuple, s.aget_tuple, config)))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints matching the criteria, newest first; a failover resumes where it was."""
        while limit is None or limit > 0:
            member = drive(self.copies.leading())
            try:
                for item in member.saver.list(config, filter=filter, before=before, limit=limit):
                    yield item
                    before, limit = item.config, None if limit is None else limit - 1
                return
            except Exception as exc:
                if not unreachable(exc):
                    raise
                self.copies.down(member, exc, missed=False)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async `list`."""
        while limit is None or limit > 0:
            member = await adrive(self.copies.leading())
            try:
                async for item in member.saver.alist(
                    config, filter=filter, before=before, limit=limit
                ):
                    yield item
                    before, limit = item.config, None if limit is None else limit - 1
                return
            except Exception as exc:
                if not unreachable(exc):
                    raise
                self.copies.down(member, exc, missed=False)

    # --- writes ----------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint on every member; acknowledged once the acting primary has it."""
        return drive(self._putting(config, checkpoint, metadata, new_versions))

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async `put`."""
        return await adrive(self._putting(config, checkpoint, metadata, new_versions))

    def _putting(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Flow[RunnableConfig]:
        args = (config, checkpoint, metadata, new_versions)
        return self.copies.writing(
            f"checkpoint {checkpoint['id']}", lambda s: twin(s.put, s.aput, *args)
        )

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes on every member."""
        drive(self._putting_writes(config, writes, task_id, task_path))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async `put_writes`."""
        await adrive(self._putting_writes(config, writes, task_id, task_path))

    def _putting_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, path: str
    ) -> Flow[None]:
        return self.copies.writing(
            f"writes of {task_id}",
            lambda s: twin(s.put_writes, s.aput_writes, config, writes, task_id, path),
        )

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread on every member."""
        drive(self._deleting(thread_id))

    async def adelete_thread(self, thread_id: str) -> None:
        """Async `delete_thread`."""
        await adrive(self._deleting(thread_id))

    def _deleting(self, thread_id: str) -> Flow[None]:
        return self.copies.writing(
            f"deleting {thread_id!r}", lambda s: twin(s.delete_thread, s.adelete_thread, thread_id)
        )

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints of these runs on every member."""
        drive(self._deleting_runs(run_ids))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async `delete_for_runs`."""
        await adrive(self._deleting_runs(run_ids))

    def _deleting_runs(self, run_ids: Sequence[str]) -> Flow[None]:
        return self.copies.writing(
            "deleting runs", lambda s: twin(s.delete_for_runs, s.adelete_for_runs, run_ids)
        )

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread on every member."""
        drive(self._copying(source_thread_id, target_thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async `copy_thread`."""
        await adrive(self._copying(source_thread_id, target_thread_id))

    def _copying(self, source: str, target: str) -> Flow[None]:
        return self.copies.writing(
            f"copying {source!r}", lambda s: twin(s.copy_thread, s.acopy_thread, source, target)
        )

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Prune threads on every member (see `SQLAlchemySaver.prune`)."""
        drive(self._pruning(thread_ids, strategy))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async `prune`."""
        await adrive(self._pruning(thread_ids, strategy))

    def _pruning(self, thread_ids: Sequence[str], strategy: str) -> Flow[None]:
        return self.copies.writing(
            "pruning", lambda s: twin(s.prune, s.aprune, thread_ids, strategy=strategy)
        )

    def get_next_version(self, current: str | int | float | None, channel: None) -> str:
        """The primary's next version (every member numbers versions alike)."""
        return self.members[0].saver.get_next_version(current, channel)
