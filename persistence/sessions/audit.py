"""The audit trail: append-only events of each session, read back in the order appended.

There is deliberately no update or delete: an audit trail that can be edited proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select

from accord.persistence.ops.driver import Operation, Outcome, Steps
from accord.persistence.schema import audit
from accord.persistence.sessions.stores import Store, dumps, from_db, loads, to_db, utcnow

KINDS = (
    "opened",
    "closed",
    "message_in",
    "message_out",
    "handoff",
    "budget_hit",
    "denied",
    "restored",
    "recovered",
    "error",
)
"""The usual kinds of event; any short string is accepted."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing that happened in a session."""

    session_id: str
    kind: str
    actor: str | None = None
    """The user who caused it, if any."""
    agent: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)
    id: int | None = None
    """Its position in the trail, set once stored."""


class AuditTrail(Store):
    """Append-only session events (table `accord_audit`)."""

    def append(
        self,
        session_id: str,
        kind: str,
        *,
        actor: str | None = None,
        agent: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an event now."""
        self._bound.run(_append(AuditEvent(session_id, kind, actor, agent, dict(details or {}))))

    async def aappend(
        self,
        session_id: str,
        kind: str,
        *,
        actor: str | None = None,
        agent: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Async `append`."""
        event = AuditEvent(session_id, kind, actor, agent, dict(details or {}))
        await self._bound.arun(_append(event))

    def extend(self, events: Iterable[AuditEvent]) -> None:
        """Record several events in one transaction, in order."""
        self._bound.run(_extend(list(events)))

    async def aextend(self, events: Iterable[AuditEvent]) -> None:
        """Async `extend`."""
        await self._bound.arun(_extend(list(events)))

    def events(
        self,
        session_id: str,
        *,
        kinds: Iterable[str] | None = None,
        since: datetime | None = None,
    ) -> Sequence[AuditEvent]:
        """The session's events in the order appended, optionally only some kinds or recent."""
        return self._bound.run(_events(session_id, kinds, since))

    async def aevents(
        self,
        session_id: str,
        *,
        kinds: Iterable[str] | None = None,
        since: datetime | None = None,
    ) -> Sequence[AuditEvent]:
        """Async `events`."""
        return await self._bound.arun(_events(session_id, kinds, since))


def _append(event: AuditEvent) -> Operation[None]:
    return _extend([event])


def _extend(events: list[AuditEvent]) -> Operation[None]:
    sessions = sorted({event.session_id for event in events})
    return Operation(lambda: appending(events), write=True, what=f"auditing session(s) {sessions}")


APPEND = insert(audit).values(
    session_id=bindparam("p_session_id"),
    at=bindparam("p_at", type_=audit.c.at.type),
    actor=bindparam("p_actor"),
    kind=bindparam("p_kind"),
    agent=bindparam("p_agent"),
    details=bindparam("p_details"),
)
"""Built once, so the native path compiles it once (see `accord.persistence.ops.native`)."""


def rows_of(events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    """The events as `APPEND`'s parameters."""
    return [
        {
            "p_session_id": event.session_id,
            "p_at": to_db(event.at),
            "p_actor": event.actor,
            "p_kind": event.kind,
            "p_agent": event.agent,
            "p_details": dumps(event.details),
        }
        for event in events
    ]


def appending(events: Sequence[AuditEvent]) -> Steps[None]:
    """The steps that append events, for operations that do more in the same transaction."""
    rows = rows_of(events)
    if rows:
        yield APPEND, rows


ARRIVED = select(audit.c.details).where(
    audit.c.session_id == bindparam("p_session_id"),
    audit.c.kind == "message_in",
    audit.c.details.like(bindparam("p_pattern"), escape="/"),
)
"""The `message_in` events whose details may name a message id (`arrived` checks each)."""


def arrived(session_id: str, message_id: str) -> Steps[bool]:
    """The steps that tell whether a message with the caller's `message_id` reached the
    session before (its `message_in` event is written with the run's lease, before the run).

    The LIKE finds the candidates in the session's own rows; their JSON decides.
    """
    named = dumps({"message_id": message_id})[1:-1]  # as `dumps` writes it among the details
    pattern = "%" + named.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    outcome: Outcome = yield ARRIVED, {"p_session_id": session_id, "p_pattern": pattern}
    return any(loads(row.details).get("message_id") == message_id for row in outcome.rows)


def _events(
    session_id: str, kinds: Iterable[str] | None, since: datetime | None
) -> Operation[Sequence[AuditEvent]]:
    wanted = None if kinds is None else list(kinds)

    def steps() -> Steps[Sequence[AuditEvent]]:
        query = select(audit).where(audit.c.session_id == session_id)
        if wanted is not None:
            query = query.where(audit.c.kind.in_(wanted))
        if since is not None:
            query = query.where(audit.c.at >= to_db(since))
        outcome: Outcome = yield query.order_by(audit.c.id), None
        return [
            AuditEvent(
                session_id=row.session_id,
                kind=row.kind,
                actor=row.actor,
                agent=row.agent,
                details=loads(row.details),
                at=from_db(row.at),
                id=row.id,
            )
            for row in outcome.rows
        ]

    return Operation(steps, write=False, what=f"reading the audit trail of {session_id!r}")
