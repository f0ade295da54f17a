"""What a session's run gives back: the reply the user reads, and what the run produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage

from accord.graphs.events import InterruptEvent
from accord.graphs.sessions.budget import Usage


@dataclass(frozen=True, slots=True)
class Reply:
    """The outcome of one message sent to a session.

    Attributes:
        session_id: The session.
        text: The last message the team wrote to the user ("" if it wrote none).
        agent: The agent that wrote it (or, without one, the agent holding the conversation).
        messages: Every message this run added, the user's own first.
        values: The graph's state after the run.
        usage: What the session has spent in all, this run included.
        interrupts: The questions the run stopped on (`interrupt()`): the session is paused
            until `session.aresume_with(answer)`; empty when it ran to its end.
    """

    session_id: str
    text: str
    agent: str | None
    messages: list[AnyMessage] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    interrupts: tuple[InterruptEvent, ...] = ()

    @property
    def paused(self) -> bool:
        """Whether the session waits for a person's answer (see `interrupts`)."""
        return bool(self.interrupts)

    def to_dict(self) -> dict[str, Any]:
        """The reply as JSON-ready data (messages as role, name and text)."""
        return {
            "session_id": self.session_id,
            "text": self.text,
            "agent": self.agent,
            "messages": [
                {"role": m.type, "name": getattr(m, "name", None), "text": m.text, "id": m.id}
                for m in self.messages
            ],
            "usage": self.usage.to_dict(),
            "interrupts": [{"id": i.id, "value": i.value} for i in self.interrupts],
        }


def reply_of(
    session_id: str, messages: list[AnyMessage], values: dict[str, Any], usage: Usage
) -> Reply:
    """The `Reply` of a run that added `messages` and left the state at `values`."""
    last = next((m for m in reversed(messages) if isinstance(m, AIMessage) and m.text), None)
    agent = (last.name if last is not None else None) or values.get("active_agent")
    return Reply(session_id, last.text if last else "", agent, messages, values, usage)
