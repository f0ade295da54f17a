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
from accord.persistence.ops.flow import Call, Flow, Gather

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

    @property
    def lagging(self) -> bool:
        """Whether it missed a write, so it may not serve reads."""
        return self.missed > 0

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

    def acting(self) -> Member:
        """The member that serves reads now: the first one that missed no write and is up.

        Raises:
            DatabaseUnavailable: Every member that could serve is unreachable or lagging.
        """
        for member in self.members:
            if not member.lagging and member.up():
                return member
        states = "; ".join(f"{m.name}: {m.last_error or 'cooling down'}" for m in self.members)
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
            member = self.acting()
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
            leader = self.acting()
            try:
                result: T = yield job(leader.saver)
                break
            except Exception as exc:
                if not unreachable(exc):
                    raise
                self.down(leader, exc, missed=True)
        followers = [m for m in self.members if m is not leader]
        yield Gather([self._copying(m, what, job) for m in followers])
        return result

    def _copying(self, member: Member, what: str, job: Job[Any]) -> Flow[None]:
        if not member.up():
            self._lagged(member, None, what)
            return
        try:
            yield job(member.saver)
        except Exception as exc:
            if not (isinstance(exc, PersistenceError) or unreachable(exc)):
                raise
            self._lagged(member, exc, what)


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
