"""What one run of a session spends and adds, against the budget it began with, and the audit
trail it keeps (written mid-run once a slow step ends, and whole at the run's end)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage

from accord.agents import MetricsRecorder
from accord.graphs.errors import BudgetExceeded
from accord.graphs.events import AgentEvent, Event, HandoffEvent, InterruptEvent, events_of
from accord.graphs.sessions.access import User
from accord.graphs.sessions.budget import Limits, Meter, Usage
from accord.graphs.sessions.pause import OPEN, PAUSED, asked
from accord.graphs.sessions.runtime import Runtime
from accord.persistence import AuditEvent, SessionRecord

REASON_CODE = re.compile(r"[a-z][a-z0-9_:-]{0,31}")
WRITE_AFTER_S = 1.0
"""A run writes its audit events mid-run once its graph's steps have taken this long since it
last wrote. Steps' time, not the run's: a run kept waiting by a loaded database (a queue for
its connections, SQLite's one writer) must not add a write to the queue on every turn."""


class Spend:
    """What one run spends and adds, against the budget it began with, and its audit trail."""

    def __init__(
        self,
        session_id: str,
        user: User,
        record: SessionRecord,
        runtime: Runtime,
        answering: bool = False,
    ) -> None:
        self.session_id = session_id
        self.answering = answering  # the run answers the question the session paused on
        self.failure = False  # the run failed (`failed`)
        self.limits = Limits.from_dict(record.limits)
        self.before = Usage.from_dict(record.usage)
        self.agent = record.agent
        self.status = record.status
        self.interrupts: list[InterruptEvent] = []
        self.finished = False  # the graph ran to its end or to a question
        self.started = time.monotonic()
        self.left = (
            None if self.limits.wall_time is None else self.limits.wall_time - self.before.wall_time
        )
        deadline = None if self.left is None else self.started + self.left
        self.meter = Meter(session_id, self.limits, self.before, deadline, runtime.prices)
        self.trail = Trail(session_id, user.id)
        self.added: list[AnyMessage] = []
        self.values: dict[str, Any] = {}
        # This run's agent steps, kept in the audit trail for `accord metrics --db`.
        self.steps = MetricsRecorder() if runtime.metrics else None
        self._taken = 0  # steps moved to the trail
        # Seconds the graph's steps took (`Hooks` adds them), and that when last written.
        self.stepped = [0.0]
        self._written = 0.0
        self._usage: Usage | None = None

    @property
    def usage(self) -> Usage:
        """The session's usage, this run included (frozen once the run is over)."""
        if self._usage is not None:
            return self._usage
        elapsed = time.monotonic() - self.started
        return replace(self.before + self.meter.used, wall_time=self.before.wall_time + elapsed)

    def deadline(self) -> float | None:
        """When the wall-time budget ends, on the event loop's clock."""
        if self.left is None:
            return None
        remaining = self.started + self.left - time.monotonic()
        return asyncio.get_running_loop().time() + remaining

    def updates(self, chunk: dict[str, Any]) -> list[Event]:
        """The events of one `stream_mode="updates"` item, noted on the way."""
        found: list[Event] = []
        for node, change in chunk.items():
            added = messages_of(change)
            # Stamped as they come: a message goes out before the handoff it carries.
            for message in added:
                if isinstance(message, AIMessage):
                    details = {"message_id": message.id, "chars": len(message.text)}
                    self.trail.add("message_out", message.name, details)
            for event in events_of(node, change):
                self.trail.note(event)
                found.append(event)
                if isinstance(event, InterruptEvent):
                    self.interrupts.append(event)
            if isinstance(change, dict) and change.get("facts"):
                # What the session learned about the user (a handoff team's `facts`).
                self.trail.add("facts", node, dict(change["facts"]))
            self.added += added
            now = _agent(change, self.agent)
            if now != self.agent and now is not None:
                self.agent = now
                found.append(AgentEvent(now))
        return found

    def due(self) -> list[AuditEvent]:
        """What to write to the audit trail now, mid-run: everything noted so far once a slow
        step (a model's) ended, so a process killed later in the turn loses none of it; runs
        of quick steps write once, at their end."""
        if self.stepped[0] - self._written < WRITE_AFTER_S:
            return []
        self._written = self.stepped[0]
        return self._pending()

    def _pending(self) -> list[AuditEvent]:
        """The events noted and not yet written, steps included, in the order they happened."""
        if self.steps is not None:
            actor = self.trail.actor  # the user whose run it was
            steps = self.steps.log.snapshot()[self._taken :]
            self._taken += len(steps)
            self.trail.events += [replace(step.to_audit(), actor=actor) for step in steps]
        pending = sorted(self.trail.events, key=lambda event: event.at)
        self.trail.events = []
        return pending

    def _finish(self) -> None:
        if self._usage is not None:
            return
        self._usage = self.usage
        self.trail.events = self._pending()

    def failed(self, failure: BaseException) -> None:
        """Records what the run did before `failure`, and the failure.

        A run that answered a question and failed leaves the session open, not paused: the
        answer is in the checkpoint (LangGraph keeps it, and would reuse it rather than a new
        one), so the question no longer waits; the event says so (`"status": "open"`).
        """
        self._finish()
        reopened = {"status": OPEN} if self._reopens() else {}
        if isinstance(failure, BudgetExceeded):
            details = {"limit": failure.limit, "used": self.usage.to_dict(), **reopened}
            self.trail.add("budget_hit", self.agent, details)
        elif not isinstance(failure, GeneratorExit):
            self.trail.add("error", self.agent, {"error": type(failure).__name__, **reopened})
        self.failure = True

    def _reopens(self) -> bool:
        """Whether this run, an answer to a question, failed before asking another."""
        return self.answering and self.status == PAUSED and not self.interrupts

    def error(self, failure: BaseException) -> BaseException:
        """The error to raise for `failure`: a budget refusal carries the session's usage."""
        if isinstance(failure, BudgetExceeded):
            return BudgetExceeded(self.session_id, failure.limit, self.usage, self.limits)
        return failure

    def changes(self) -> dict[str, Any]:
        """What the session record takes from this run."""
        self._finish()
        changes: dict[str, Any] = {"usage": self.usage.to_dict(), "agent": self.agent}
        # Paused when the run stopped on a question; open again once one runs to its end.
        # An answer that failed: open (see `failed`).
        status = (
            PAUSED
            if self.interrupts
            else OPEN
            if self.finished or (self.failure and self._reopens())
            else self.status
        )
        if status != self.status:
            changes["status"] = status
        return changes


class Trail:
    """The audit events of one run not yet written (`Spend.due` writes them mid-run)."""

    def __init__(self, session_id: str, actor: str) -> None:
        self.session_id, self.actor = session_id, actor
        self.events: list[AuditEvent] = []

    def add(self, kind: str, agent: str | None, details: dict[str, Any]) -> None:
        """Adds an event of `kind` about `agent`."""
        self.events.append(AuditEvent(self.session_id, kind, self.actor, agent, details))

    def note(self, event: Event) -> None:
        """Adds what the trail keeps of a run's `event` (its handoffs)."""
        if isinstance(event, HandoffEvent):
            reason = _short_reason(event.reason)
            details = {"source": event.source, "target": event.target, "reason": reason}
            self.add("handoff", event.target, details)
        elif isinstance(event, InterruptEvent):
            self.add("interrupt", *asked(event))


def _short_reason(reason: str) -> str:
    """What the audit trail keeps of a handoff's reason: a code, never the conversation.

    A standby's handover says "failover" or "overload"; an agent's own handoff carries its
    reply (message content, which must not land in the append-only trail).
    """
    return reason if REASON_CODE.fullmatch(reason) else "agent decision"


def messages_of(change: Any) -> list[AnyMessage]:
    if not isinstance(change, dict):
        return []
    return [m for m in change.get("messages") or [] if isinstance(m, BaseMessage)]  # type: ignore[misc]


def _agent(change: Any, current: str | None) -> str | None:
    """The agent holding the conversation after `change`."""
    if not isinstance(change, dict):
        return current
    if isinstance(active := change.get("active_agent"), str):
        return active
    for message in reversed(change.get("messages") or []):
        if isinstance(message, AIMessage) and message.name:
            return message.name
    return current
