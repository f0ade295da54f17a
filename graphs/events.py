"""Typed events of a team's run: what a chat app shows while a team works.

`events_of` is the one reader of what a node wrote to the state (LangGraph's
`stream_mode="updates"`): sessions stream its events, the command line prints them and the
evaluations trace them, for every accord pattern and for plain graphs (their AI messages).
Each event's `kind` names it, as the server's SSE stream does; `from accord.graphs import
events` reaches every type (`events.VoteEvent`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from langchain_core.messages import AIMessage

INTERRUPT = "__interrupt__"
"""The node name under which LangGraph streams a paused graph's interrupts."""

if TYPE_CHECKING:
    from accord.graphs.sessions.budget import Usage
    from accord.graphs.sessions.reply import Reply

__all__ = [
    "AgentEvent",
    "ConfidenceEvent",
    "CorrectionEvent",
    "DecisionEvent",
    "DoneEvent",
    "Event",
    "FailureEvent",
    "GraphChunk",
    "HandoffEvent",
    "InterruptEvent",
    "MessageEvent",
    "OpinionEvent",
    "PlanEvent",
    "ResultEvent",
    "RouteEvent",
    "TokenEvent",
    "UsageEvent",
    "VoteEvent",
    "events_of",
]


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
class CorrectionEvent(Event):
    """The reply an agent's tokens streamed was replaced: `text` is the reply as kept.

    Sent just before that reply's `MessageEvent` when the two differ (a gate asked for what
    the next step needs instead, or a long reply was ended at a sentence), so a screen that
    showed the tokens can show the kept reply in their place.
    """

    kind: ClassVar[str] = "correction"
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
class GraphChunk(Event):
    """One item of LangGraph's own stream (`mode`: values, updates, messages, custom), for a run
    that asked for those modes (`Session.arun`; the Agent Server API relays them)."""

    kind: ClassVar[str] = "chunk"
    mode: str
    data: Any

    def to_dict(self) -> dict[str, Any]:
        # Not `asdict`: that would deep-copy the graph's state.
        return {"kind": self.kind, "mode": self.mode, "data": self.data}


@dataclass(frozen=True, slots=True)
class InterruptEvent(Event):
    """The graph called `interrupt(value)`: the session is paused until a person answers.

    Answer with `session.aresume_with(answer)`; `id` names this question when several are
    pending (`aresume_with({id: answer, ...})`). An agent's `approve` tools ask with a `value`
    of `{"type": "approval", "agent", "tool", "args"}`, answered with True or False.
    """

    kind: ClassVar[str] = "interrupt"
    id: str
    value: Any


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

    Read from a whole state (`stream_mode="values"`, a final state), they are everything the
    state holds. Reducer resets (a field written as None when a round starts) make no event.
    """
    if node == INTERRUPT:
        # LangGraph's own update for a paused graph: a tuple of `Interrupt`s, not a dict.
        return [InterruptEvent(str(i.id), i.value) for i in change or () if hasattr(i, "value")]
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
