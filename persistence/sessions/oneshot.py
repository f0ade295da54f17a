"""A run's bookkeeping on PostgreSQL in fewer statements: each round trip costs a turn more
than the statement itself.

A run ends by storing its usage and agent, appending its audit events and giving its lease
back. As a transaction that is five round trips on PostgreSQL (BEGIN, three statements,
COMMIT), a quarter of a turn's; with data-modifying CTEs it is one statement, atomic on its
own. The audit rows and the release hang on the record's update (`EXISTS` on its RETURNING),
so a session gone meanwhile writes nothing, as the transaction's rollback would.

A session opens the same way: its record's INSERT (returning the row as stored) and its
`opened` event's, one statement instead of five round trips.

A run begins, once it has the lease, by reading the record and appending the message's
arrival: one statement too (the record is read in the statement's own snapshot, taken after
the lease's, so it is what the last holder left). Where the lease was taken over, it stays in
the run's first transaction, so a refusal on the record rolls the arrival back with the lease.

A free lease (the usual case: each run deletes its row at its end) is taken in that same
statement (`leasing`): its INSERT, which only a session that exists gets, the record's read
and the arrival's, which hangs on the INSERT's RETURNING. The read locks the record's row (FOR
SHARE): at READ COMMITTED a locking read returns the row's latest committed version, not the
statement's snapshot's, so a last holder whose end committed after that snapshot, its lease
row gone by the INSERT's check, has its usage read all the same; one still ending holds the
row, and the read waits for it. That statement runs alone, in autocommit, which saves the
turn BEGIN and COMMIT: a refusal on the record, or a failure after it, is undone by one more
(`undoing`: the lease and the arrival's rows, by the ids the statement returned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.dml import Insert

from accord.persistence.errors import SessionNotFound
from accord.persistence.ops.driver import Operation, Outcome, Steps
from accord.persistence.schema import audit, leases, sessions
from accord.persistence.sessions.audit import AuditEvent, rows_of
from accord.persistence.sessions.leases import RELEASE
from accord.persistence.sessions.records import (
    INSERT_RECORD,
    RECORD_RUN,
    SELECT_RECORD,
    SessionRecord,
    record_of,
    record_params,
    selecting,
    session_row,
)
from accord.persistence.sessions.stores import dumps, to_db, utcnow

MOST_EVENTS = 16
"""Events one statement takes (one compiled shape per count); more take the usual way."""
AUDIT_COLUMNS = ("session_id", "at", "actor", "kind", "agent", "details")


class OneShot:
    """The one-statement steps, one compiled shape per count of audit events."""

    def __init__(self) -> None:
        """Start with no statement built."""
        self._ends: dict[int, Select[Any]] = {}
        self._reads: dict[int, Select[Any]] = {}
        self._leasings: dict[int, Select[Any]] = {}
        self._opening: Select[Any] | None = None

    def fits(self, events: Sequence[AuditEvent]) -> bool:
        """Whether these events fit in one statement."""
        return len(events) <= MOST_EVENTS

    def reading(self, session_id: str, events: Sequence[AuditEvent]) -> Steps[SessionRecord]:
        """The steps that read the record (raising `SessionNotFound`) and append `events`."""
        count = len(events)
        if not count:
            return (yield from selecting(session_id))
        if count not in self._reads:
            self._reads[count] = SELECT_RECORD.add_cte(_appending(count, None).cte("appended"))
        return (yield from selecting(session_id, self._reads[count], _params(events)))

    def leasing(
        self, session_id: str, lease: Mapping[str, Any], events: Sequence[AuditEvent]
    ) -> Steps[tuple[bool, SessionRecord, list[int]]]:
        """The steps that take a free lease (`lease`: its row), read the record (raising
        `SessionNotFound`, having written nothing) and append `events` if the lease was taken;
        whether it was, and the ids of the events' rows."""
        count = len(events)
        statement = self._leasings.get(count)
        if statement is None:
            statement = self._leasings[count] = _leasing(count)
        params = _params(events) | {f"l_{name}": value for name, value in lease.items()}
        row = yield from session_row(session_id, statement, params)
        return bool(row.leased), record_of(row), list(row.appended or ())

    def undoing(self, session_id: str, holder: str, appended: Sequence[int]) -> Operation[None]:
        """Gives back a lease `leasing` took and deletes the events it appended."""

        def steps() -> Steps[None]:
            yield _UNDO, {"id": session_id, "by": holder, "ids": list(appended)}

        return Operation(
            steps,
            write=True,
            what=f"giving back the lease of session {session_id!r}",
            autocommit=True,
            native=True,
        )

    def opening(self, record: SessionRecord, event: AuditEvent) -> Operation[SessionRecord]:
        """Stores the new `record` with its `event` (the first fails whole on a taken id)."""
        statement = self._opening
        if statement is None:
            created = INSERT_RECORD.returning(*sessions.c).cte("created")
            statement = select(created).add_cte(_appending(1, None).cte("appended"))
            self._opening = statement
        params = _params([event]) | record_params(record)
        return Operation(
            lambda: selecting(record.session_id, statement, params),
            write=True,
            what=f"opening session {record.session_id!r}",
            autocommit=True,
            native=True,
        )

    def ending(
        self,
        session_id: str,
        holder: str,
        usage: Mapping[str, Any],
        agent: str | None,
        events: Sequence[AuditEvent],
        began: SessionRecord,
    ) -> Operation[SessionRecord]:
        """The run's end: its record is `began` with the run's changes (it held the lease)."""
        count = len(events)
        if count not in self._ends:
            self._ends[count] = _ending(count)
        statement = self._ends[count]
        now = utcnow()
        params = _params(events) | {
            "id": session_id,
            "by": holder,
            "new_usage": dumps(usage),
            "new_agent": agent,
            "now": to_db(now),
        }

        def steps() -> Steps[SessionRecord]:
            outcome: Outcome = yield statement, params
            if not outcome.rows or not outcome.rows[0][0]:
                raise SessionNotFound(f"no session {session_id!r}; check the id or create it first")
            return replace(
                began, usage=dict(usage), agent=agent, version=began.version + 1, updated_at=now
            )

        return Operation(
            steps,
            write=True,
            what=f"ending a run of session {session_id!r}",
            autocommit=True,
            native=True,
        )


def _ending(count: int) -> Select[Any]:
    run = RECORD_RUN.returning(sessions.c.session_id).cte("run")
    ran = exists(select(run.c.session_id))
    ending = select(func.count()).select_from(run)
    if count:
        ending = ending.add_cte(_appending(count, ran).cte("appended"))
    return ending.add_cte(RELEASE.where(ran).cte("released"))


def _leasing(count: int) -> Select[Any]:
    session = sessions.c.session_id == bindparam("session_id")
    lease = select(
        bindparam("l_session_id", type_=leases.c.session_id.type),
        bindparam("l_holder", type_=leases.c.holder.type),
        bindparam("l_expires_at", type_=leases.c.expires_at.type),
    ).where(exists(select(sessions.c.session_id).where(session)))
    leased = (
        postgresql.insert(leases)
        .from_select(["session_id", "holder", "expires_at"], lease)
        .on_conflict_do_nothing()
        .returning(leases.c.session_id)
        .cte("leased")
    )
    taken = exists(select(leased.c.session_id))
    appended: Any = None
    if count:
        appended = _appending(count, taken).returning(audit.c.id).cte("appended")
    ids = select(func.array_agg(appended.c.id)).scalar_subquery() if count else null()
    leasing = (
        select(*sessions.c, taken.label("leased"), ids.label("appended"))
        .where(session)
        .with_for_update(read=True, of=sessions)
        .add_cte(leased)
    )
    return leasing.add_cte(appended) if count else leasing


_UNDO = (
    delete(audit)
    .where(audit.c.id == any_(bindparam("ids", type_=postgresql.ARRAY(audit.c.id.type))))
    .add_cte(RELEASE.cte("released"))
)


def _appending(count: int, condition: ColumnElement[bool] | None) -> Insert:
    """The INSERT of `count` audit events (if `condition`), as `_params` binds them."""
    rows = [
        select(*(bindparam(f"e{i}_{name}", type_=audit.c[name].type) for name in AUDIT_COLUMNS))
        for i in range(count)
    ]
    source = rows[0] if count == 1 else select(union_all(*rows).subquery())
    if condition is not None:
        source = source.where(condition)
    return insert(audit).from_select(list(AUDIT_COLUMNS), source)


def _params(events: Sequence[AuditEvent]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, row in enumerate(rows_of(events)):
        params |= {f"e{i}_{name}": row[f"p_{name}"] for name in AUDIT_COLUMNS}
    return params
