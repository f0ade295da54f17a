"""Copies of one database and their health: who serves, who missed writes, fan-out.

A `Copies` runs each write on the acting copy first (failing over while it is unreachable),
then on every other copy, where a failure only counts the copy as lagging. See
`ReplicatedSaver` for the policy in words. Reads and writes are flows (see
`accord.persistence.ops.flow`): each loop is written once, driven sync or async by the saver.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from accord.persistence.checkpoints.saver import SQLAlchemySaver
from accord.persistence.errors import DatabaseUnavailable, PersistenceError
from accord.persistence.ops.flow import Call, Flow, Gather, twin
from accord.persistence.replication import epochs
from accord.persistence.replication.epochs import Epoch

T = TypeVar("T")
Job = Callable[[SQLAlchemySaver], Call[T]]
"""One call on one copy, in both faces (`twin(s.put, s.aput, ...)`)."""
log = logging.getLogger("accord.persistence.replication.saver")


@dataclass(slots=True)
class Member:
    """One copy of the data and what this process knows about its health."""

    saver: SQLAlchemySaver
    name: str
    """The database in words (no password)."""
    down_until: float = 0.0
    """`time.monotonic()` before which it is not tried again."""
    missed: int = 0
    """Writes it did not get since this saver started; above 0 it is lagging."""
    last_error: str | None = None
    epoch: int | None = None
    """Its stored epoch (see `epochs`), None until read."""
    stale: str | None = None
    """Why it is behind the authoritative copies (a lower stored epoch): never read or written."""

    @property
    def lagging(self) -> bool:
        """Whether it missed a write (or is stale), so it may not serve reads."""
        return self.missed > 0 or self.stale is not None

    def up(self) -> bool:
        """Whether it may be tried now (not within a cooldown)."""
        return time.monotonic() >= self.down_until


class Copies:
    """The members of a replicated saver, in the order they take over."""

    def __init__(self, savers: tuple[SQLAlchemySaver, ...], cooldown: float) -> None:
        """Track `savers`; an unreachable one is left alone for `cooldown` seconds."""
        self.members = tuple(Member(s, s.target.describe()) for s in savers)
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self.epoch: Epoch | None = None
        """The set's epoch and its leader, once the copies' stored epochs were read."""

    def acting(self) -> Member:
        """The member that serves reads now: the first one that missed no write and is up.

        Raises:
            DatabaseUnavailable: Every member that could serve is unreachable or lagging.
        """
        for member in self.members:
            if not member.lagging and member.up():
                return member
        states = "; ".join(
            f"{m.name}: {m.stale or m.last_error or 'cooling down'}" for m in self.members
        )
        raise DatabaseUnavailable(
            f"no up-to-date copy is reachable ({states}); bring the primary back, "
            "or restore a replica from a backup and build a new ReplicatedSaver on it"
        )

    def down(self, member: Member, exc: Exception, *, missed: bool) -> None:
        """Leave an unreachable member alone for the cooldown (`missed`: it lost a write)."""
        with self._lock:
            member.down_until = time.monotonic() + self.cooldown
            member.last_error = str(exc)
            member.missed += missed
        log.warning("%s is unreachable, failing over: %s", member.name, exc)

    def _lagged(self, member: Member, exc: Exception | None, what: str) -> None:
        with self._lock:
            member.missed += 1
            if exc is not None:
                member.last_error = str(exc)
                if unreachable(exc):
                    member.down_until = time.monotonic() + self.cooldown
        log.warning("replica %s missed %s and is lagging: %s", member.name, what, exc)

    # --- fan-out ------------------------------------------------------------------------------

    def reading(self, job: Job[T]) -> Flow[T]:
        """Run `job` on the acting member, failing over while members are unreachable."""
        while True:
            member = yield from self.leading()
            try:
                result: T = yield job(member.saver)
                return result
            except Exception as exc:
                if not unreachable(exc):
                    raise
                self.down(member, exc, missed=False)

    def writing(self, what: str, job: Job[T]) -> Flow[T]:
        """Run `job` on the acting member (failing over), then copy it to every other one.

        Driven async, the copies run concurrently.

        Args:
            what: The write in words, for the log of a member that missed it.
            job: The write on one saver; its result on the acting member is returned.
        """
        while True:
            leader = yield from self.leading()
            try:
                if self.epoch is None or self.epoch.leader != leader.name:
                    # A new leader: the copies it leaves behind must be stale after a restart.
                    yield from self._raising(leader)
                result: T = yield job(leader.saver)
                break
            except Exception as exc:
                if not unreachable(exc):
                    raise
                self.down(leader, exc, missed=True)
        followers = [m for m in self.members if m is not leader and m.stale is None]
        in_sync = [m for m in followers if not m.lagging and m.epoch is not None]
        yield Gather([self._copying(m, what, job) for m in followers])
        if any(m.lagging for m in in_sync):
            yield from self._raising(leader)  # the ones that just missed it stay behind
        return result

    def _copying(self, member: Member, what: str, job: Job[Any]) -> Flow[None]:
        if not member.up():
            self._lagged(member, None, what)
            return
        try:
            if member.epoch is None:
                yield from self._checking(member)
                if member.stale is not None:
                    return
            yield job(member.saver)
        except Exception as exc:
            if not (isinstance(exc, PersistenceError) or unreachable(exc)):
                raise
            self._lagged(member, exc, what)

    # --- epochs -----------------------------------------------------------------------------

    def leading(self) -> Flow[Member]:
        """The acting member, once every member's stored epoch that can be read was read."""
        # One after another: each first call migrates its database, and Alembic's module
        # state does not take two migrations at once on one thread.
        for member in self.members:
            if member.epoch is None and (self.epoch is None or member.up()):
                yield from self._checking(member)
        return self.acting()

    def _checking(self, member: Member) -> Flow[None]:
        """Reads a member's stored epoch; below the set's, it is stale."""
        try:
            stored: Epoch = yield twin(member.saver.run, member.saver.arun, epochs.reading())
        except Exception as exc:
            if not (isinstance(exc, PersistenceError) or unreachable(exc)):
                raise
            self.down(member, exc, missed=False)
            return
        with self._lock:
            member.epoch = stored.number
            if self.epoch is None or stored.number > self.epoch.number:
                self.epoch = stored
            behind = [
                m
                for m in self.members
                if m.epoch is not None and m.epoch < self.epoch.number and m.stale is None
            ]
            for other in behind:
                other.stale = _stale(other, self.epoch)
        for other in behind:
            log.error("%s", other.stale)

    def _raising(self, leader: Member) -> Flow[None]:
        """Raise the epoch on the leader, then on the followers that have every write."""
        current = self.epoch.number if self.epoch is not None else 0
        epoch = Epoch(current + 1, leader.name)
        yield twin(leader.saver.run, leader.saver.arun, epochs.writing(epoch))
        leader.epoch = epoch.number
        self.epoch = epoch
        in_sync = [
            m for m in self.members if m is not leader and not m.lagging and m.epoch is not None
        ]
        yield Gather([self._bumping(m, epoch) for m in in_sync])

    def _bumping(self, member: Member, epoch: Epoch) -> Flow[None]:
        try:
            yield twin(member.saver.run, member.saver.arun, epochs.writing(epoch))
            member.epoch = epoch.number
        except Exception as exc:
            if not (isinstance(exc, PersistenceError) or unreachable(exc)):
                raise
            self._lagged(member, exc, f"epoch {epoch.number}")


def _stale(member: Member, epoch: Epoch) -> str:
    return (
        f"{member.name} is stale: its replica epoch is {member.epoch}, {epoch.leader} is at"
        f" {epoch.number}, so it missed writes (a failover happened while it was away). It is"
        " neither read nor written: rebuild it as a copy of the authoritative database"
        " (restore a backup of it, or copy its accord_* tables over), then start again"
    )


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says a database cannot be reached (so another copy should serve).

    Besides `DatabaseUnavailable`, a driver's own OperationalError or InterfaceError counts:
    `SQLAlchemySaver` lets those through unwrapped when opening a new pooled connection for
    its native statements fails (`native.Checkout.take`), which is how a dropped database
    or a stopped server shows up once migrations ran.
    """
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, (PersistenceError, SQLAlchemyError)):
        return False
    return type(exc).__name__ in ("OperationalError", "InterfaceError")
