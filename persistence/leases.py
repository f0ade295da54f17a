"""Leases: one writer per session across processes, taken over once its holder stops renewing.

A lease is a row in `accord_leases` with a holder and an expiry. Taking it is one atomic
conditional write: UPDATE the row only when it is expired (or already ours), else INSERT it
only when absent; the database's row lock and primary key let exactly one racer win.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Executable, delete, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL

from accord.persistence.driver import Operation, Outcome, Steps
from accord.persistence.errors import PersistenceError
from accord.persistence.saver import SQLAlchemySaver
from accord.persistence.session_tables import Store, from_db, leases, to_db, utcnow

FIRST_POLL_S = 0.02
MAX_POLL_S = 1.0


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lease: `holder` may write to `session_id` until `expires_at` (UTC)."""

    session_id: str
    holder: str
    expires_at: datetime


class SessionBusy(PersistenceError):
    """Another holder has the session's lease: wait for it (`wait=`), or try again later.

    Attributes:
        session_id: The session.
        holder: Who holds the lease now (None if it vanished meanwhile).
        expires_at: When it expires unless renewed.
    """

    def __init__(self, session_id: str, holder: str | None, expires_at: datetime | None) -> None:
        """Say who holds the session and until when."""
        super().__init__(
            f"session {session_id!r} is leased by {holder!r} until {expires_at}; "
            "retry after it is released or expires, or pass wait= to wait for it"
        )
        self.session_id = session_id
        self.holder = holder
        self.expires_at = expires_at


@dataclass(frozen=True, slots=True)
class _Taken:
    lease: Lease | None
    holder: str | None = None
    expires_at: datetime | None = None


class LeaseStore(Store):
    """Exclusive, expiring leases on sessions (table `accord_leases`)."""

    def __init__(self, bind: SQLAlchemySaver | str | URL) -> None:
        """Use a saver's engines (the caller keeps owning it), or a new saver for a URL."""
        super().__init__(bind)
        self._dialect = self._bound.saver._target.sync_url.get_backend_name()

    def acquire(self, session_id: str, holder: str, ttl: float, *, wait: float = 0) -> Lease:
        """Take the session's lease for `ttl` seconds (renewing it if `holder` has it).

        Args:
            session_id: The session.
            holder: Who takes it; unique per process and task (e.g. host, pid and a uuid).
            ttl: Seconds until it expires unless renewed.
            wait: Seconds to keep retrying, with backoff, while another holder has it.

        Raises:
            SessionBusy: Another holder has it (still, after `wait`).
        """
        deadline = time.monotonic() + wait
        pause = FIRST_POLL_S
        while True:
            taken = self._bound.run(self._acquire(session_id, holder, ttl))
            pause = _next(taken, session_id, deadline, pause)
            if taken.lease is not None:
                return taken.lease
            time.sleep(pause)

    async def aacquire(self, session_id: str, holder: str, ttl: float, *, wait: float = 0) -> Lease:
        """Async `acquire`; waiting sleeps on the event loop."""
        deadline = time.monotonic() + wait
        pause = FIRST_POLL_S
        while True:
            taken = await self._bound.arun(self._acquire(session_id, holder, ttl))
            pause = _next(taken, session_id, deadline, pause)
            if taken.lease is not None:
                return taken.lease
            await asyncio.sleep(pause)

    def renew(self, session_id: str, holder: str, ttl: float) -> Lease:
        """Extend a held lease by `ttl` seconds from now.

        Raises:
            SessionBusy: `holder` does not hold it (it expired and was taken, or never was).
        """
        return _held(self._bound.run(_renew(session_id, holder, ttl)), session_id)

    async def arenew(self, session_id: str, holder: str, ttl: float) -> Lease:
        """Async `renew`."""
        return _held(await self._bound.arun(_renew(session_id, holder, ttl)), session_id)

    def release(self, session_id: str, holder: str) -> None:
        """Give the lease back.

        Raises:
            SessionBusy: `holder` does not hold it; only the holder may release it.
        """
        _held(self._bound.run(_release(session_id, holder)), session_id)

    async def arelease(self, session_id: str, holder: str) -> None:
        """Async `release`."""
        _held(await self._bound.arun(_release(session_id, holder)), session_id)

    def holder(self, session_id: str) -> Lease | None:
        """The current lease, expired or not, if any."""
        return self._bound.run(_current(session_id))

    async def aholder(self, session_id: str) -> Lease | None:
        """Async `holder`."""
        return await self._bound.arun(_current(session_id))

    def _acquire(self, session_id: str, holder: str, ttl: float) -> Operation[_Taken]:
        def steps() -> Steps[_Taken]:
            now = utcnow()
            expires = now + timedelta(seconds=ttl)
            # Take over an expired lease, or renew our own; the row lock makes a racer wait
            # and re-check the condition on the row as the winner left it.
            taken: Outcome = yield (
                (
                    update(leases)
                    .where(leases.c.session_id == session_id)
                    .where((leases.c.expires_at <= to_db(now)) | (leases.c.holder == holder))
                    .values(holder=holder, expires_at=to_db(expires))
                ),
                None,
            )
            if taken.rowcount == 1:
                return _Taken(Lease(session_id, holder, expires))
            row = {"session_id": session_id, "holder": holder, "expires_at": to_db(expires)}
            yield self._insert_if_absent(), row
            # Some drivers report no rowcount for INSERT ... ON CONFLICT: read who won instead.
            current = yield from _select(session_id)
            if current is not None and current.holder == holder:
                return _Taken(current)
            if current is None:  # released between our two statements: the caller retries
                return _Taken(None)
            return _Taken(None, current.holder, current.expires_at)

        return Operation(steps, write=True, what=f"leasing session {session_id!r}")

    def _insert_if_absent(self) -> Executable:
        if self._dialect == "postgresql":
            return postgresql.insert(leases).on_conflict_do_nothing()
        if self._dialect == "sqlite":
            return sqlite.insert(leases).on_conflict_do_nothing()
        if self._dialect in ("mysql", "mariadb"):
            return mysql.insert(leases).prefix_with("IGNORE")
        raise PersistenceError(f"leases are not supported on {self._dialect}")


def _next(taken: _Taken, session_id: str, deadline: float, pause: float) -> float:
    """The next pause before retrying, or raise SessionBusy when out of time."""
    if taken.lease is not None:
        return pause
    if taken.holder is None and time.monotonic() < deadline + MAX_POLL_S:
        return 0.0  # released between our INSERT and SELECT: free now, retry at once
    if time.monotonic() + pause > deadline:
        raise SessionBusy(session_id, taken.holder, taken.expires_at)
    return min(max(pause * 2, FIRST_POLL_S), MAX_POLL_S)


def _held(lease: Lease | _Taken, session_id: str) -> Lease:
    if isinstance(lease, Lease):
        return lease
    raise SessionBusy(session_id, lease.holder, lease.expires_at)


def _select(session_id: str) -> Steps[Lease | None]:
    outcome: Outcome = yield select(leases).where(leases.c.session_id == session_id), None
    if not outcome.rows:
        return None
    row = outcome.rows[0]
    return Lease(row.session_id, row.holder, from_db(row.expires_at))


def _current(session_id: str) -> Operation[Lease | None]:
    return Operation(
        lambda: _select(session_id), write=False, what=f"reading the lease of {session_id!r}"
    )


def _renew(session_id: str, holder: str, ttl: float) -> Operation[Lease | _Taken]:
    def steps() -> Steps[Lease | _Taken]:
        now = utcnow()
        expires = now + timedelta(seconds=ttl)
        # An expired lease not yet taken over may still be renewed by its holder.
        outcome: Outcome = yield (
            (
                update(leases)
                .where(leases.c.session_id == session_id, leases.c.holder == holder)
                .values(expires_at=to_db(expires))
            ),
            None,
        )
        if outcome.rowcount == 1:
            return Lease(session_id, holder, expires)
        return _other(session_id, (yield from _select(session_id)))

    return Operation(steps, write=True, what=f"renewing the lease of {session_id!r}")


def _release(session_id: str, holder: str) -> Operation[Lease | _Taken]:
    def steps() -> Steps[Lease | _Taken]:
        outcome: Outcome = yield (
            (delete(leases).where(leases.c.session_id == session_id, leases.c.holder == holder)),
            None,
        )
        if outcome.rowcount == 1:
            return Lease(session_id, holder, utcnow())
        return _other(session_id, (yield from _select(session_id)))

    return Operation(steps, write=True, what=f"releasing the lease of {session_id!r}")


def _other(session_id: str, current: Lease | None) -> _Taken:
    if current is None:
        return _Taken(None)
    return _Taken(None, current.holder, current.expires_at)
