"""Leases: one writer per session across processes, taken over once its holder stops renewing.

A lease is a row in `accord_leases` with a holder and an expiry. Taking it is one atomic
conditional write: INSERT the row only when absent, and UPDATE it only when it is expired (or
already ours); the database's primary key and row lock let exactly one racer win.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, bindparam, delete, func, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite

from accord.persistence.errors import PersistenceError, SessionBusy
from accord.persistence.ops.driver import Operation, Outcome, Steps
from accord.persistence.ops.flow import Flow, Sleep, adrive, drive, twin
from accord.persistence.schema import leases, sessions
from accord.persistence.sessions.stores import (
    Bind,
    Bound,
    Saver,
    Store,
    from_db,
    to_db,
    utcnow,
)

FIRST_POLL_S = 0.02
MAX_POLL_S = 1.0


_EXPIRES = leases.c.expires_at.type
SELECT_LEASE = select(leases).where(leases.c.session_id == bindparam("id"))
TAKE = (
    update(leases)
    .where(leases.c.session_id == bindparam("id"))
    .where(
        (leases.c.expires_at <= bindparam("now", type_=_EXPIRES))
        | (leases.c.holder == bindparam("by"))
    )
    .values(holder=bindparam("by"), expires_at=bindparam("until", type_=_EXPIRES))
)
RENEW = (
    update(leases)
    .where(leases.c.session_id == bindparam("id"), leases.c.holder == bindparam("by"))
    .values(expires_at=bindparam("until", type_=_EXPIRES))
)
RELEASE = delete(leases).where(
    leases.c.session_id == bindparam("id"), leases.c.holder == bindparam("by")
)
# Built once each, so the native path compiles them once (see `accord.persistence.ops.native`).


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lease: `holder` may write to `session_id` until `expires_at` (UTC)."""

    session_id: str
    holder: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Taken:
    """The outcome of one attempt to take a lease: the lease, or who holds it instead.

    `extra` carries what an operation that takes a lease and does more in the same
    transaction (see `accord.persistence.sessions.journal`) read once it had it.
    """

    session_id: str
    lease: Lease | None
    holder: str | None = None
    expires_at: datetime | None = None
    extra: Any = None
    replaced: bool = False
    """The lease row was there already: an expired lease taken over (or the holder's own).
    Holders unique per run therefore learn that the previous run died without releasing."""


class LeaseStore(Store):
    """Exclusive, expiring leases on sessions (table `accord_leases`)."""

    def __init__(self, bind: Bind) -> None:
        """Use a saver's engines (the caller keeps owning it), or a new saver for a URL."""
        super().__init__(bind)
        self._dialect = self.saver.target.sync_url.get_backend_name()
        self._insert = self._insert_if_absent()  # built once: compiled once natively
        # Not on MariaDB, where INSERT IGNORE share-locks a row that is there, and two
        # racers upgrading their locks to take it over deadlock.
        self._insert_first = self._dialect not in ("mysql", "mariadb")

    @property
    def saver(self) -> Saver:
        """The saver the leases live on; a `RunJournal` shares it."""
        return self._bound.saver

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
        return drive(self._acquiring(session_id, holder, ttl, wait))

    async def aacquire(self, session_id: str, holder: str, ttl: float, *, wait: float = 0) -> Lease:
        """Async `acquire`; waiting sleeps on the event loop."""
        return await adrive(self._acquiring(session_id, holder, ttl, wait))

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

    def leased_per_agent(
        self, *, now: datetime | None = None, exclude_holder_prefix: str | None = None
    ) -> dict[str, int]:
        """How many sessions each agent serves under a live lease: the runs going on now.

        Args:
            now: The instant leases must outlive (default: now).
            exclude_holder_prefix: Leave out leases whose holder starts with this (e.g. the
                runs of this process, counted already by the caller).
        """
        return self._bound.run(_leased_per_agent(now, exclude_holder_prefix))

    async def aleased_per_agent(
        self, *, now: datetime | None = None, exclude_holder_prefix: str | None = None
    ) -> dict[str, int]:
        """Async `leased_per_agent`."""
        return await self._bound.arun(_leased_per_agent(now, exclude_holder_prefix))

    def _acquiring(self, session_id: str, holder: str, ttl: float, wait: float) -> Flow[Lease]:
        op = Operation(
            lambda: self.taking(session_id, holder, ttl),
            write=True,
            what=f"leasing session {session_id!r}",
            native=True,
        )
        taken = yield from waiting(self._bound, op, wait)
        assert taken.lease is not None  # waiting returns only once it has the lease
        return taken.lease

    def taking(self, session_id: str, holder: str, ttl: float) -> Steps[Taken]:
        """The steps that take (or renew) the lease, for operations that do more with it."""
        now = utcnow()
        lease, row = offer(session_id, holder, ttl, now)
        expires = lease.expires_at
        take = {"id": session_id, "by": holder, "now": to_db(now), "until": to_db(expires)}
        # Usually no run holds the session (each run deletes its lease row at its end), so
        # inserting the row takes it in one statement (see `_insert_first`).
        if self._insert_first:
            inserted: Outcome = yield self._insert, row
            if self._inserted(inserted):
                return Taken(session_id, lease)
        # Take over an expired lease, or renew our own; the row lock makes a racer wait
        # and re-check the condition on the row as the winner left it.
        taken: Outcome = yield TAKE, take
        if taken.rowcount == 1:
            return Taken(session_id, lease, replaced=True)
        if not self._insert_first:
            inserted = yield self._insert, row
            if self._inserted(inserted):
                return Taken(session_id, lease)
        current = yield from _select(session_id)
        if current is None:  # released between our statements: the caller retries
            return Taken(session_id, None)
        return Taken(session_id, None, current.holder, current.expires_at)

    def _inserted(self, outcome: Outcome) -> bool:
        """Whether `_insert` wrote the row. SQLAlchemy's async psycopg adapter reports no
        rowcount for an INSERT, so on PostgreSQL the statement returns the row it wrote."""
        return bool(outcome.rows) if self._dialect == "postgresql" else outcome.rowcount == 1

    def _insert_if_absent(self) -> Executable:
        if self._dialect == "postgresql":
            return postgresql.insert(leases).on_conflict_do_nothing().returning(leases.c.session_id)
        if self._dialect == "sqlite":
            return sqlite.insert(leases).on_conflict_do_nothing()
        if self._dialect in ("mysql", "mariadb"):
            return mysql.insert(leases).prefix_with("IGNORE")
        raise PersistenceError(f"leases are not supported on {self._dialect}")


def offer(
    session_id: str, holder: str, ttl: float, now: datetime | None = None
) -> tuple[Lease, dict[str, Any]]:
    """The lease `holder` takes for `ttl` seconds from `now`, and its row in the table."""
    expires = (now or utcnow()) + timedelta(seconds=ttl)
    row = {"session_id": session_id, "holder": holder, "expires_at": to_db(expires)}
    return Lease(session_id, holder, expires), row


def waiting(bound: Bound, op: Operation[Taken], wait: float) -> Flow[Taken]:
    """Runs a lease-taking operation until it gets the lease, for up to `wait` seconds.

    Raises:
        SessionBusy: Another holder still has it.
    """
    deadline = time.monotonic() + wait
    pause = FIRST_POLL_S
    while True:
        taken: Taken = yield twin(bound.run, bound.arun, op)
        pause = _next(taken, deadline, pause)
        if taken.lease is not None:
            return taken
        yield Sleep(pause)


def _next(taken: Taken, deadline: float, pause: float) -> float:
    """The next pause before retrying, or raise SessionBusy when out of time."""
    if taken.lease is not None:
        return pause
    if taken.holder is None and time.monotonic() < deadline + MAX_POLL_S:
        return 0.0  # released between our INSERT and SELECT: free now, retry at once
    if time.monotonic() + pause > deadline:
        raise SessionBusy(taken.session_id, taken.holder, taken.expires_at)
    return min(max(pause * 2, FIRST_POLL_S), MAX_POLL_S)


def _held(lease: Lease | Taken, session_id: str) -> Lease:
    if isinstance(lease, Lease):
        return lease
    raise SessionBusy(session_id, lease.holder, lease.expires_at)


def _select(session_id: str) -> Steps[Lease | None]:
    outcome: Outcome = yield SELECT_LEASE, {"id": session_id}
    if not outcome.rows:
        return None
    row = outcome.rows[0]
    return Lease(row.session_id, row.holder, from_db(row.expires_at))


def _current(session_id: str) -> Operation[Lease | None]:
    return Operation(
        lambda: _select(session_id), write=False, what=f"reading the lease of {session_id!r}"
    )


def _renew(session_id: str, holder: str, ttl: float) -> Operation[Lease | Taken]:
    def steps() -> Steps[Lease | Taken]:
        now = utcnow()
        expires = now + timedelta(seconds=ttl)
        # An expired lease not yet taken over may still be renewed by its holder.
        until = to_db(expires)
        outcome: Outcome = yield RENEW, {"id": session_id, "by": holder, "until": until}
        if outcome.rowcount == 1:
            return Lease(session_id, holder, expires)
        return _other(session_id, (yield from _select(session_id)))

    return Operation(steps, write=True, what=f"renewing the lease of {session_id!r}", native=True)


def releasing(session_id: str, holder: str) -> Steps[Lease | Taken]:
    """The steps that give a lease back: the released lease, or who holds it instead."""
    outcome: Outcome = yield RELEASE, {"id": session_id, "by": holder}
    if outcome.rowcount == 1:
        return Lease(session_id, holder, utcnow())
    return _other(session_id, (yield from _select(session_id)))


def _release(session_id: str, holder: str) -> Operation[Lease | Taken]:
    return Operation(
        lambda: releasing(session_id, holder),
        write=True,
        what=f"releasing the lease of {session_id!r}",
        native=True,
    )


def _other(session_id: str, current: Lease | None) -> Taken:
    if current is None:
        return Taken(session_id, None)
    return Taken(session_id, None, current.holder, current.expires_at)


def _leased_per_agent(
    now: datetime | None, exclude_holder_prefix: str | None
) -> Operation[dict[str, int]]:
    def steps() -> Steps[dict[str, int]]:
        query = (
            select(sessions.c.agent, func.count())
            .select_from(leases.join(sessions, leases.c.session_id == sessions.c.session_id))
            .where(leases.c.expires_at > to_db(now or utcnow()), sessions.c.agent.is_not(None))
            .group_by(sessions.c.agent)
        )
        if exclude_holder_prefix:
            query = query.where(~leases.c.holder.startswith(exclude_holder_prefix, autoescape=True))
        outcome: Outcome = yield query, None
        return {str(agent): int(count) for agent, count in outcome.rows}

    return Operation(steps, write=False, what="counting live session leases per agent")
