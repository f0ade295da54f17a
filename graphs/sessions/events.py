"""Typed events of a session's run: what a chat app shows while a team works.

`events_of` turns what one node wrote (LangGraph's `stream_mode="updates"`) into events, for
every accord pattern and for plain graphs (their AI messages); `ReplyText` turns the streamed
chunks of an agent's structured answer into the tokens of its reply as they arrive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.utils.json import parse_partial_json

if TYPE_CHECKING:
    from accord.graphs.sessions.budget import Usage
    from accord.graphs.sessions.reply import Reply


@dataclass(frozen=True, slots=True)
class Event:
    """Base of the events; `kind` names it (the SSE event name)."""

    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data, with its `kind`."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, slots=True)
class TokenEvent(Event):
    """A piece of the reply an agent is writing, as it is generated."""

    kind: ClassVar[str] = "token"
    agent: str
    text: str


@dataclass(frozen=True, slots=True)
class AgentEvent(Event):
    """Another agent now holds the conversation."""

    kind: ClassVar[str] = "agent"
    agent: str


@dataclass(frozen=True, slots=True)
class MessageEvent(Event):
    """A complete message an agent wrote to the user."""

    kind: ClassVar[str] = "message"
    agent: str
    text: str


@dataclass(frozen=True, slots=True)
class HandoffEvent(Event):
    """Control passed from one agent to another."""

    kind: ClassVar[str] = "handoff"
    source: str
    target: str
    reason: str


@dataclass(frozen=True, slots=True)
class RouteEvent(Event):
    """The router chose who answers the user's message."""

    kind: ClassVar[str] = "route"
    agent: str
    reason: str


@dataclass(frozen=True, slots=True)
class PlanEvent(Event):
    """A coordinator gave a worker a subtask."""

    kind: ClassVar[str] = "plan"
    worker: str
    task: str


@dataclass(frozen=True, slots=True)
class ResultEvent(Event):
    """A worker finished its subtask."""

    kind: ClassVar[str] = "result"
    worker: str
    task: str
    result: str


@dataclass(frozen=True, slots=True)
class OpinionEvent(Event):
    """A consulted specialist answered, with its confidence."""

    kind: ClassVar[str] = "opinion"
    agent: str
    confidence: float
    answer: str


@dataclass(frozen=True, slots=True)
class ConfidenceEvent(Event):
    """The overall confidence of a consultation's synthesis."""

    kind: ClassVar[str] = "confidence"
    confidence: float
    low: bool


@dataclass(frozen=True, slots=True)
class VoteEvent(Event):
    """An agent voted."""

    kind: ClassVar[str] = "vote"
    agent: str
    option: str
    confidence: float
    weight: float
    rationale: str


@dataclass(frozen=True, slots=True)
class DecisionEvent(Event):
    """A vote was tallied; `decision` is None when there was no quorum."""

    kind: ClassVar[str] = "decision"
    decision: str | None
    confidence: float
    tally: dict[str, float]
    reason: str


@dataclass(frozen=True, slots=True)
class FailureEvent(Event):
    """A parallel step failed after its retries; its siblings went on."""

    kind: ClassVar[str] = "failure"
    agent: str
    error: str
    message: str
    attempts: int


@dataclass(frozen=True, slots=True)
class UsageEvent(Event):
    """What the session has spent so far."""

    kind: ClassVar[str] = "usage"
    usage: Usage

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "usage": self.usage.to_dict()}


@dataclass(frozen=True, slots=True)
class DoneEvent(Event):
    """The run finished; the last event of every stream."""

    kind: ClassVar[str] = "done"
    reply: Reply

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reply": self.reply.to_dict()}


def events_of(node: str, change: Any) -> list[Event]:
    """The events in what `node` wrote to the state (one `stream_mode="updates"` item).

    Reducer resets (a field written as None when a round starts) make no event.
    """
    if not isinstance(change, dict):
        return []
    found: list[Event] = []
    found += [PlanEvent(s["worker"], s["task"]) for s in change.get("plan") or []]
    found += [
        OpinionEvent(c["specialist"], c["confidence"], c["answer"])
        for c in change.get("consultations") or []
    ]
    found += [
        VoteEvent(v["agent"], v["choice"], v["confidence"], v["weight"], v["rationale"])
        for v in change.get("votes") or []
    ]
    found += [ResultEvent(r["worker"], r["task"], r["result"]) for r in change.get("results") or []]
    found += [
        FailureEvent(f["agent"], f["error"], f["message"], f["attempts"])
        for f in change.get("failures") or []
    ]
    if route := change.get("route"):
        found.append(RouteEvent(route["agent"], route["reason"]))
    found += [
        MessageEvent(m.name or node, m.text)
        for m in change.get("messages") or []
        if isinstance(m, AIMessage) and m.text
    ]
    found += [
        HandoffEvent(h["source"], h["target"], h["reason"]) for h in change.get("handoffs") or []
    ]
    if "confidence" in change and "low_confidence" in change:
        found.append(ConfidenceEvent(change["confidence"], bool(change["low_confidence"])))
    if outcome := change.get("outcome"):
        found.append(
            DecisionEvent(
                outcome["decision"],
                outcome["confidence"],
                dict(outcome["tally"]),
                outcome["reason"],
            )
        )
    return found


@dataclass
class ReplyText:
    """Follows streamed model chunks and yields the new text of each agent's reply.

    A plain model streams its reply as text. An accord agent streams a JSON answer; its
    `reply` field is what the user reads, so the growing JSON is parsed leniently and the new
    part of that field is what comes out. Answers without a `reply` (a vote, a route) stay
    silent.
    """

    _texts: dict[str, str] = field(default_factory=dict)
    _shown: dict[str, int] = field(default_factory=dict)

    def feed(self, chunk: BaseMessage) -> str:
        """The reply text that `chunk` adds (often empty)."""
        key = chunk.id or ""
        text = self._texts.get(key, "") + chunk.text
        self._texts[key] = text
        stripped = text.lstrip()
        if not stripped:
            return ""
        if stripped[0] == "{":
            parsed = parse_partial_json(stripped)
            reply = parsed.get("reply") if isinstance(parsed, dict) else None
            if not isinstance(reply, str):
                return ""
        else:
            reply = text
        shown = self._shown.get(key, 0)
        self._shown[key] = len(reply)
        return reply[shown:]
