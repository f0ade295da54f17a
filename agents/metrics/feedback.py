"""Users' ratings of answers, kept in the session database's audit trail (kind `"feedback"`).

A rating scores one answer from 0 (not satisfied) to 1 (satisfied); thumbs up is 1 and thumbs
down 0. It is attributed to the agent that wrote the answer, so satisfaction is a figure per
agent as well as per session. A user may rate an answer again: the latest rating counts, and
the earlier ones stay in the (append-only) trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from accord.agents.metrics.step_audit import audit_events
from accord.persistence import AuditEvent, AuditTrail, SessionStore

FEEDBACK = "feedback"
"""The audit kind of a rating."""


@dataclass(frozen=True, slots=True)
class Rating:
    """One user's rating of one answer.

    Attributes:
        session: The session.
        agent: The agent that wrote the answer.
        message_id: The answer's message id (as in the session's history).
        user: Who rated it.
        score: From 0 (not satisfied) to 1 (satisfied).
        comment: What the user said about it, if anything.
        at: When it was given.
    """

    session: str
    agent: str
    message_id: str
    user: str | None
    score: float
    comment: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        """The rating as JSON-ready data (`at` in ISO 8601)."""
        return {**asdict(self), "at": self.at.isoformat()}

    def to_audit(self) -> AuditEvent:
        """The audit event of the rating, by its user, about its agent."""
        return AuditEvent(
            session_id=self.session,
            kind=FEEDBACK,
            actor=self.user,
            agent=self.agent,
            details={"message_id": self.message_id, "score": self.score, "comment": self.comment},
            at=self.at,
        )

    @classmethod
    def load(
        cls,
        trail: AuditTrail,
        sessions: Iterable[str] | None = None,
        *,
        store: SessionStore | None = None,
    ) -> list[Rating]:
        """The ratings of some sessions, read from the audit trail (the latest of each user
        for each answer).

        Args:
            trail: The audit trail.
            sessions: Session ids; None: every session `store` lists.
            store: The session records on the same database (needed when `sessions` is None).
        """
        return ratings_of(audit_events(trail, sessions, store=store, kinds=[FEEDBACK]))


def ratings_of(events: Iterable[AuditEvent]) -> list[Rating]:
    """The ratings among `events`, the latest of each user for each answer, in order given."""
    latest: dict[tuple[str, str, str | None], Rating] = {}
    for event in events:
        if event.kind != FEEDBACK:
            continue
        rating = Rating(
            session=event.session_id,
            agent=event.agent or "",
            message_id=str(event.details["message_id"]),
            user=event.actor,
            score=float(event.details["score"]),
            comment=event.details.get("comment"),
            at=event.at,
        )
        key = (rating.session, rating.message_id, rating.user)
        latest.pop(key, None)  # a later rating replaces, and moves to the end
        latest[key] = rating
    return list(latest.values())
