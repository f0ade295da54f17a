"""Proof that a replica is restorable: the same checkpoints and latest state as the primary.

The comparison is a flow (`accord.persistence.ops.flow`) that asks for what it needs (every
checkpoint id of a member, or one thread's latest checkpoint), so `verify` and `averify`
share it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from sqlalchemy import select

from accord.persistence.errors import PersistenceError
from accord.persistence.ops.driver import Operation, Outcome, Steps
from accord.persistence.ops.flow import Call, Flow, twin
from accord.persistence.replication.fanout import Member
from accord.persistence.schema import checkpoints

Ids = dict[str, dict[str, set[str]]]
"""thread_id -> checkpoint_ns -> checkpoint ids."""


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


def verifying(leader: Member, replicas: Sequence[Member]) -> Flow[VerifyReport]:
    """Compare each replica with `leader`; a replica that cannot be read is reported so.

    Raises:
        PersistenceError: The leader could not be read.
    """
    reports = []
    for replica in replicas:
        reports.append((yield from _comparing(leader, replica)))
    return VerifyReport(leader.name, tuple(reports))


def _comparing(leader: Member, replica: Member) -> Flow[ReplicaReport]:
    ours: Ids = yield _ids(leader)
    try:
        theirs: Ids = yield _ids(replica)
    except PersistenceError as exc:
        return _unreadable(replica, exc)
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
            latest = yield _latest(leader, config)
            try:
                theirs_latest = yield _latest(replica, config)
            except PersistenceError as exc:
                return _unreadable(replica, exc)
            reason_or_none = _differs(latest, theirs_latest)
            if reason_or_none is not None:
                mismatches.append(Mismatch(thread_id, ns, reason_or_none))
    ok = not mismatches and not replica.lagging
    return ReplicaReport(replica.name, ok, len(threads), tuple(mismatches), replica.missed)


def _ids(member: Member) -> Call[Ids]:
    return twin(member.saver.run, member.saver.arun, _listing_ids())


def _latest(member: Member, config: RunnableConfig) -> Call[CheckpointTuple | None]:
    return twin(member.saver.get_tuple, member.saver.aget_tuple, config)


def _unreadable(replica: Member, exc: PersistenceError) -> ReplicaReport:
    return ReplicaReport(replica.name, False, 0, (), replica.missed, str(exc))


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


def _listing_ids() -> Operation[Ids]:
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
