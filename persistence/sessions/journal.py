"""The bookkeeping around each run of a session, in one transaction at each end.

A run begins by taking the session's lease, reading the record as of that moment (and letting
the caller refuse the run on it), and recording the message that arrived; it ends by storing
the usage and the assigned agent, recording what the run did, and giving the lease back.
Doing each end in one transaction keeps the runtime's cost per message at two transactions
besides the checkpoints, and makes each end atomic: a lease is never taken without its message
recorded, nor given back before the usage is. On PostgreSQL each end is usually one statement
(`oneshot`); a beginning refused after its statement, or failing after it, gives back what
it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accord.persistence.checkpoints.saver import SQLAlchemySaver
from accord.persistence.ops.driver import Operation, Steps
from accord.persistence.ops.flow import Flow, adrive, drive, twin
from accord.persistence.sessions.audit import AuditEvent, appending, arrived
from accord.persistence.sessions.leases import (
    Lease,
    LeaseStore,
    Taken,
    offer,
    releasing,
    waiting,
)
from accord.persistence.sessions.oneshot import OneShot
from accord.persistence.sessions.records import (
    OPEN,
    SessionRecord,
    creating,
    new_record,
    recording_run,
    selecting,
    updating,
)
from accord.persistence.sessions.stores import Bound, Store

Admit = Callable[[SessionRecord], None]
"""Checks a session's record before a run begins; raises to refuse the run."""
Then = Callable[[], Steps[Any]]
"""Makes the steps a run's beginning also takes, in its transaction."""


@dataclass(frozen=True, slots=True)
class Begun:
    """A run that has begun: the session's record under the lease, and whether the session's
    previous run died holding it (its work may need finishing)."""

    record: SessionRecord
    interrupted: bool
    resent: bool = False
    """The caller's message id names a message that reached the session before."""


class RunJournal(Store):
    """Opens sessions and begins and ends their runs, each in one transaction."""

    def __init__(self, leases: LeaseStore) -> None:
        """Use the saver (and the SQL dialect) of `leases`."""
        super().__init__(leases.saver)
        self._leases = leases
        # Not on a replicated saver: its writes also run on copies of other backends.
        saver = leases.saver
        plain = isinstance(saver, SQLAlchemySaver)
        postgresql = plain and saver.target.sync_url.get_backend_name() == "postgresql"
        self._oneshot = OneShot() if postgresql else None

    def open(self, owner: str, *, kind: str = "opened", **fields: Any) -> SessionRecord:
        """Creates a session record (see `SessionStore.create`) and audits it, atomically."""
        return self._bound.run(self._open(owner, kind, fields))

    async def aopen(self, owner: str, *, kind: str = "opened", **fields: Any) -> SessionRecord:
        """Async `open`."""
        return await self._bound.arun(self._open(owner, kind, fields))

    def _open(self, owner: str, kind: str, fields: Mapping[str, Any]) -> Operation[SessionRecord]:
        record = new_record(
            owner,
            fields.get("agent"),
            fields.get("session_id"),
            fields.get("status", OPEN),
            fields.get("scope"),
            fields.get("limits"),
            fields.get("usage"),
        )
        event = AuditEvent(record.session_id, kind, owner, record.agent)
        if self._oneshot is not None:  # on PostgreSQL: one round trip
            return self._oneshot.opening(record, event)
        return _open(record, event)

    def begin(
        self,
        session_id: str,
        holder: str,
        ttl: float,
        *,
        wait: float = 0,
        events: Sequence[AuditEvent] = (),
        admit: Admit | None = None,
        message_id: str | None = None,
        then: Then | None = None,
    ) -> Begun:
        """Takes the lease, reads the record and appends `events`, all or nothing.

        `holder` must be unique to this run: taking over a lease that is still in the table
        is how a run learns that its predecessor died.

        Args:
            session_id: The session.
            holder: This run's unique lease holder.
            ttl: Seconds the lease lasts unless renewed.
            wait: Seconds to wait for another holder's lease.
            events: Audit events to append with the lease (the message that arrived).
            admit: Called with the record (also while another holder has the lease); what it
                raises refuses the run, and nothing is written.
            message_id: The id the caller gave the message; `Begun.resent` says whether a
                message with it arrived before (looked up before `events` are appended).
            then: More steps for the same transaction once the lease is taken (a read of
                the thread's latest checkpoint: `SQLAlchemySaver.read_ahead`).

        Raises:
            SessionBusy: Another holder has the lease (still, after `wait` seconds).
            SessionNotFound: No such session (nothing is written).
        """
        flow = self._beginning(session_id, holder, ttl, wait, events, admit, message_id, then)
        begun: Begun = drive(flow).extra
        return begun

    async def abegin(
        self,
        session_id: str,
        holder: str,
        ttl: float,
        *,
        wait: float = 0,
        events: Sequence[AuditEvent] = (),
        admit: Admit | None = None,
        message_id: str | None = None,
        then: Then | None = None,
    ) -> Begun:
        """Async `begin`."""
        flow = self._beginning(session_id, holder, ttl, wait, events, admit, message_id, then)
        begun: Begun = (await adrive(flow)).extra
        return begun

    def end(
        self,
        session_id: str,
        holder: str,
        *,
        changes: Mapping[str, Any],
        events: Sequence[AuditEvent] = (),
        began: SessionRecord | None = None,
    ) -> SessionRecord:
        """Applies `changes` to the record, appends `events`, releases the lease; one transaction.

        A lease lost meanwhile (expired and taken over) is not an error here: the record and
        the trail still say what this run did. Given `began` (the record `begin` read), a run's
        usual end (usage and agent) derives the record from it instead of reading it back.
        """
        return self._bound.run(self._end(session_id, holder, changes, events, began))

    async def aend(
        self,
        session_id: str,
        holder: str,
        *,
        changes: Mapping[str, Any],
        events: Sequence[AuditEvent] = (),
        began: SessionRecord | None = None,
    ) -> SessionRecord:
        """Async `end`."""
        return await self._bound.arun(self._end(session_id, holder, changes, events, began))

    def _end(
        self,
        session_id: str,
        holder: str,
        changes: Mapping[str, Any],
        events: Sequence[AuditEvent],
        began: SessionRecord | None,
    ) -> Operation[SessionRecord]:
        oneshot, usual = self._oneshot, set(changes) == {"usage", "agent"}
        if oneshot is not None and began is not None and usual and oneshot.fits(events):
            # A run's usual end, on PostgreSQL: one round trip.
            usage, agent = changes["usage"], changes["agent"]
            return oneshot.ending(session_id, holder, usage, agent, events, began)
        return _end(session_id, holder, changes, events, began)

    def _beginning(
        self,
        session_id: str,
        holder: str,
        ttl: float,
        wait: float,
        events: Sequence[AuditEvent],
        admit: Admit | None,
        message_id: str | None,
        then: Then | None,
    ) -> Flow[Taken]:
        # On PostgreSQL the record's read appends the events (see `oneshot`), and a free
        # lease is taken in that statement too, in autocommit, unless the arrival is to be
        # looked up first; a lease someone holds is waited for in a transaction.
        fitting = self._oneshot
        fitting = fitting if fitting is not None and fitting.fits(events) else None
        if fitting is not None and message_id is None:
            free = Free(fitting, session_id, holder, ttl, events, admit, then)
            try:
                taken: Taken | None = yield twin(self._bound.run, self._bound.arun, free.op)
            except Exception:
                yield from free.undone(self._bound)
                raise
            if taken is not None:
                return taken
        op = self._begin(session_id, holder, ttl, events, admit, message_id, then, fitting)
        return (yield from waiting(self._bound, op, wait))

    def _begin(
        self,
        session_id: str,
        holder: str,
        ttl: float,
        events: Sequence[AuditEvent],
        admit: Admit | None,
        message_id: str | None,
        then: Then | None,
        fitting: OneShot | None,
    ) -> Operation[Taken]:
        def steps() -> Steps[Taken]:
            taken = yield from self._leases.taking(session_id, holder, ttl)
            # Once the lease is taken, the record's read appends the events: the arrival is
            # looked up first.
            oneshot = fitting if taken.lease is not None else None
            # Asked here, not of the checkpoint: a message that never arrived (nearly every
            # one) then costs the run no read of the state besides LangGraph's own.
            resent = False
            if oneshot is not None and message_id is not None:
                resent = yield from arrived(session_id, message_id)
            # Read under the lease: usage as the last run left it. No such session, or a
            # refusal, raises, which rolls the lease back (and the events, if appended).
            if oneshot is not None:
                record = yield from oneshot.reading(session_id, events)
            else:
                record = yield from selecting(session_id)
            if admit is not None:
                admit(record)
            if taken.lease is None:
                return taken
            if oneshot is None:
                resent = message_id is not None and (yield from arrived(session_id, message_id))
                yield from appending(events)
            return (
                yield from _begun(session_id, taken.lease, record, then, taken.replaced, resent)
            )

        return Operation(
            steps, write=True, what=f"beginning a run of session {session_id!r}", native=True
        )


class Free:
    """A run's beginning on a free lease, on PostgreSQL: one statement takes the lease, reads
    the record and appends the arrival, in autocommit (see `oneshot`); what it wrote is given
    back if the run is refused or its beginning fails after it."""

    def __init__(
        self,
        oneshot: OneShot,
        session_id: str,
        holder: str,
        ttl: float,
        events: Sequence[AuditEvent],
        admit: Admit | None,
        then: Then | None,
    ) -> None:
        self._oneshot, self._session_id, self._holder = oneshot, session_id, holder
        self._ttl, self._events, self._admit, self._then = ttl, events, admit, then
        self._appended: list[int] | None = None
        """The arrival's rows while the lease is taken and not given back."""
        self.op: Operation[Taken | None] = Operation(
            self._steps,
            write=True,
            what=f"beginning a run of session {session_id!r}",
            autocommit=True,
            native=True,
        )

    def _steps(self) -> Steps[Taken | None]:
        """Taken, or None if another holder has the lease (nothing was written then)."""
        oneshot, session_id = self._oneshot, self._session_id
        if self._appended is not None:  # retried after taking it: start afresh
            yield from oneshot.undoing(session_id, self._holder, self._appended).steps()
            self._appended = None
        lease, row = offer(session_id, self._holder, self._ttl)
        leased, record, appended = yield from oneshot.leasing(session_id, row, self._events)
        if not leased:
            return None
        self._appended = appended
        if self._admit is not None:
            self._admit(record)
        return (yield from _begun(session_id, lease, record, self._then, False, False))

    def undone(self, bound: Bound) -> Flow[None]:
        """Gives back what the statement wrote, if it took the lease; a failure to is left to
        the lease's expiry, as a run that died holding it is."""
        appended, self._appended = self._appended, None
        if appended is None:
            return
        undo = self._oneshot.undoing(self._session_id, self._holder, appended)
        try:
            yield twin(bound.run, bound.arun, undo)
        except Exception:
            return


def _begun(
    session_id: str,
    lease: Lease,
    record: SessionRecord,
    then: Then | None,
    interrupted: bool,
    resent: bool,
) -> Steps[Taken]:
    """A run's beginning, once it holds the lease and its record was admitted: `then`'s
    steps, and what the run learns."""
    if then is not None:
        yield from then()
    return Taken(session_id, lease, extra=Begun(record, interrupted, resent))


def _open(record: SessionRecord, event: AuditEvent) -> Operation[SessionRecord]:
    def steps() -> Steps[SessionRecord]:
        stored = yield from creating(record)
        yield from appending([event])
        return stored

    return Operation(steps, write=True, what=f"opening session {record.session_id!r}", native=True)


def _end(
    session_id: str,
    holder: str,
    changes: Mapping[str, Any],
    events: Sequence[AuditEvent],
    began: SessionRecord | None,
) -> Operation[SessionRecord]:
    # The usual end of a run (usage and agent) has a prepared statement for the native path.
    usual = set(changes) == {"usage", "agent"}

    def steps() -> Steps[SessionRecord]:
        if usual:
            record = yield from recording_run(session_id, changes["usage"], changes["agent"], began)
        elif changes:
            record = yield from updating(session_id, None, changes)
        else:
            record = yield from selecting(session_id)
        yield from appending(events)
        yield from releasing(session_id, holder)
        return record

    return Operation(
        steps,
        write=True,
        what=f"ending a run of session {session_id!r}",
        native=usual or not changes,
    )
