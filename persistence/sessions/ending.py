"""A run's usual end on PostgreSQL as one statement: one round trip, in autocommit.

A run ends by storing its usage and agent, appending its audit events and giving its lease
back. As a transaction that is five round trips on PostgreSQL (BEGIN, three statements,
COMMIT), a quarter of a turn's; with data-modifying CTEs it is one statement, atomic on its
own. The audit rows and the release hang on the record's update (`EXISTS` on its RETURNING),
so a session gone meanwhile writes nothing, as the transaction's rollback would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, insert, select, union_all

from accord.persistence.errors import SessionNotFound
from accord.persistence.ops.driver import Operation, Outcome, Steps
from accord.persistence.schema import audit, sessions
from accord.persistence.sessions.audit import AuditEvent, rows_of
from accord.persistence.sessions.leases import RELEASE
from accord.persistence.sessions.records import RECORD_RUN, SessionRecord
from accord.persistence.sessions.stores import dumps, to_db, utcnow

MOST_EVENTS = 16
"""Events one statement takes (one compiled shape per count); a run with more ends the usual way."""
AUDIT_COLUMNS = ("session_id", "at", "actor", "kind", "agent", "details")


class Ending:
    """The one-statement ends, one compiled shape per count of audit events."""

    def __init__(self) -> None:
        """Start with no statement built."""
        self._shapes: dict[int, Select[Any]] = {}

    def fits(self, events: Sequence[AuditEvent]) -> bool:
        """Whether a run with these events can end in one statement."""
        return len(events) <= MOST_EVENTS

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
        if count not in self._shapes:
            self._shapes[count] = _statement(count)
        statement = self._shapes[count]
        now = utcnow()
        params = {
            "id": session_id,
            "by": holder,
            "new_usage": dumps(usage),
            "new_agent": agent,
            "now": to_db(now),
        }
        for i, row in enumerate(rows_of(events)):
            params |= {f"e{i}_{name}": row[f"p_{name}"] for name in AUDIT_COLUMNS}

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


def _statement(count: int) -> Select[Any]:
    run = RECORD_RUN.returning(sessions.c.session_id).cte("run")
    ran = exists(select(run.c.session_id))
    ending = select(func.count()).select_from(run)
    if count:
        rows = [
            select(*(bindparam(f"e{i}_{name}", type_=audit.c[name].type) for name in AUDIT_COLUMNS))
            for i in range(count)
        ]
        source = rows[0] if count == 1 else select(union_all(*rows).subquery())
        appended = insert(audit).from_select(list(AUDIT_COLUMNS), source.where(ran))
        ending = ending.add_cte(appended.cte("appended"))
    return ending.add_cte(RELEASE.where(ran).cte("released"))
