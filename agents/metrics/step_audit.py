"""Step events kept in the session database's audit trail (kind `"step"`), and read back.

The audit trail is append-only and lives beside the checkpoints, so steps saved there give
the metrics of past sessions on any process (`accord metrics --db URL`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from accord.agents.metrics.reliability import STEP, StepEvent
from accord.persistence import AuditEvent, AuditTrail, SessionStore


def from_audit(events: Iterable[AuditEvent]) -> list[StepEvent]:
    """The step events among `events` (other kinds are skipped)."""
    return [
        StepEvent(
            agent=event.agent or "",
            session=event.session_id or None,
            start=float(event.details["start"]),
            end=float(event.details["end"]),
            ok=bool(event.details["ok"]),
            error=event.details.get("error"),
        )
        for event in events
        if event.kind == STEP
    ]


def save_steps(trail: AuditTrail, events: Iterable[StepEvent]) -> None:
    """Appends step events to the audit trail in one transaction.

    Example:
        with SQLAlchemySaver.from_url("sqlite:///accord.sqlite") as saver:
            save_steps(AuditTrail(saver), recorder.log.snapshot())
    """
    trail.extend(event.to_audit() for event in events)


def load_steps(
    trail: AuditTrail, sessions: Iterable[str] | None = None, *, store: SessionStore | None = None
) -> list[StepEvent]:
    """The step events of some sessions, read from the audit trail.

    Args:
        trail: The audit trail.
        sessions: Session ids; None: every session `store` lists.
        store: The session records on the same database (needed when `sessions` is None).
    """
    return from_audit(audit_events(trail, sessions, store=store, kinds=[STEP]))


def audit_events(
    trail: AuditTrail,
    sessions: Iterable[str] | None,
    *,
    store: SessionStore | None,
    kinds: Sequence[str],
) -> list[AuditEvent]:
    """The audit events of `kinds` of some sessions (None: every session `store` lists)."""
    if sessions is None:
        sessions = every_session(store) if store is not None else []
    found: list[AuditEvent] = []
    for session in sessions:
        found += trail.events(session, kinds=list(kinds))
    return found


def every_session(store: SessionStore, page: int = 500) -> list[str]:
    """The ids of every session `store` lists, read page by page."""
    ids: list[str] = []
    while batch := store.list(limit=page, offset=len(ids)):
        ids += [record.session_id for record in batch]
        if len(batch) < page:
            break
    return ids
