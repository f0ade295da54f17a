"""Proof that a replica is restorable: the same checkpoints and latest state as the primary.

The comparison is a sans-IO generator that asks for what it needs (every checkpoint id of a
member, or one thread's latest checkpoint) so `verify` and `averify` share it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from sqlalchemy import select

from accord.persistence.errors import PersistenceError
from accord.persistence.ops.driver import Operation, Outcome, Steps
from accord.persistence.replication.fanout import Member
from accord.persistence.schema import checkpoints

Ids = dict[str, dict[str, set[str]]]
"""thread_id -> checkpoint_ns -> checkpoint ids."""
Ask = tuple[Member, RunnableConfig | None]
"""A member and the config of the checkpoint wanted from it (None: every checkpoint id)."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One thread namespace in which a replica differs from the primary."""

    thread_id: str
    checkpoint_ns: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReplicaReport:
    """What `verify` found on one replica."""

    replica: str
    """The database in words."""
    ok: bool
    """Every thread matches, no write was missed and the replica could be read."""
    threads_checked: int
    mismatches: tuple[Mismatch, ...] = ()
    missed_writes: int = 0
    """Writes this process could not copy to it (it is lagging when above 0)."""
    error: str | None = None
    """Why it could not be read, if it could not."""

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The threads that differ, sorted."""
        return tuple(sorted({m.thread_id for m in self.mismatches}))


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """`verify`'s answer: the primary it compared against and one report per replica."""

    primary: str
    replicas: tuple[ReplicaReport, ...]

    @property
    def ok(self) -> bool:
        """Whether every replica is restorable."""
        return all(r.ok for r in self.replicas)


def verifying(leader: Member, replicas: Sequence[Member]) -> VerifyReport:
    """Compare each replica with `leader`, on the savers' sync methods."""
    reports = []
    for replica in replicas:
        steps = _comparing(leader, replica)
        try:
            ask = next(steps)
            while True:
                try:
                    answer = _answer(ask)
                except PersistenceError as exc:
                    if ask[0] is leader:
                        raise
                    reports.append(_unreadable(replica, exc))
                    break
                ask = steps.send(answer)
        except StopIteration as done:
            reports.append(done.value)
    return VerifyReport(leader.name, tuple(reports))


async def averifying(leader: Member, replicas: Sequence[Member]) -> VerifyReport:
    """Async `verifying`."""
    reports = []
    for replica in replicas:
        steps = _comparing(leader, replica)
        try:
            ask = next(steps)
            while True:
                try:
                    answer = await _aanswer(ask)
                except PersistenceError as exc:
                    if ask[0] is leader:
                        raise
                    reports.append(_unreadable(replica, exc))
                    break
                ask = steps.send(answer)
        except StopIteration as done:
            reports.append(done.value)
    return VerifyReport(leader.name, tuple(reports))


def _answer(ask: Ask) -> Any:
    member, config = ask
    if config is None:
        return member.saver._sync_driver().run(_ids())
    return member.saver.get_tuple(config)


async def _aanswer(ask: Ask) -> Any:
    member, config = ask
    if config is None:
        return await member.saver._async_driver().run(_ids())
    return await member.saver.aget_tuple(config)


def _unreadable(replica: Member, exc: PersistenceError) -> ReplicaReport:
    return ReplicaReport(replica.name, False, 0, (), replica.missed, str(exc))


def _comparing(leader: Member, replica: Member) -> Generator[Ask, Any, ReplicaReport]:
    ours: Ids = yield leader, None
    theirs: Ids = yield replica, None
    mismatches = []
    threads = sorted(set(ours) | set(theirs))
    for thread_id in threads:
        mine, yours = ours.get(thread_id, {}), theirs.get(thread_id, {})
        for ns in sorted(set(mine) | set(yours)):
            missing, extra = mine.get(ns, set()), yours.get(ns, set())
            missing, extra = missing - extra, extra - missing
            if missing or extra:
                reason = f"{len(missing)} checkpoint(s) missing on the replica, {len(extra)} extra"
                mismatches.append(Mismatch(thread_id, ns, reason))
                continue
            config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}
            reason_or_none = _differs((yield leader, config), (yield replica, config))
            if reason_or_none is not None:
                mismatches.append(Mismatch(thread_id, ns, reason_or_none))
    ok = not mismatches and not replica.lagging
    return ReplicaReport(replica.name, ok, len(threads), tuple(mismatches), replica.missed)


def _differs(ours: CheckpointTuple | None, theirs: CheckpointTuple | None) -> str | None:
    """Why two latest checkpoints differ, or None when the replica's can stand in for ours."""
    if ours is None or theirs is None:
        return None if ours is theirs else "the latest checkpoint is missing on one side"
    if ours.checkpoint["id"] != theirs.checkpoint["id"]:
        return "the latest checkpoint ids differ"
    if ours.checkpoint["channel_values"] != theirs.checkpoint["channel_values"]:
        return "the latest state (channel values) differs"
    if ours.checkpoint != theirs.checkpoint or ours.metadata != theirs.metadata:
        return "the latest checkpoint's versions or metadata differ"
    if sorted(ours.pending_writes or [], key=repr) != sorted(theirs.pending_writes or [], key=repr):
        return "the pending writes of the latest checkpoint differ"
    return None


def _ids() -> Operation[Ids]:
    def steps() -> Steps[Ids]:
        query = select(
            checkpoints.c.thread_id, checkpoints.c.checkpoint_ns, checkpoints.c.checkpoint_id
        )
        outcome: Outcome = yield query, None
        found: Ids = defaultdict(lambda: defaultdict(set))
        for thread_id, ns, checkpoint_id in outcome.rows:
            found[thread_id][ns].add(checkpoint_id)
        return found

    return Operation(steps, write=False, what="listing every checkpoint id")
