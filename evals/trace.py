"""What one case did: the facts evaluators check, read from the final state and the meter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from accord.graphs import Usage, events, events_of


@dataclass(frozen=True)
class Trace:
    """The observable outcome of one case's run.

    Attributes:
        answer: The last agent message's text.
        replies: Every agent message since the user's last message (a handoff team's turn
            may have several speakers).
        path: The agents that acted, in order: the handoff chain, or the routed agent or
            primary, then the consulted specialists, the planned workers and the voters.
        route: The routing choice: the routed agent, else the agent holding the conversation.
        decision: The consensus decision, if the team voted.
        confidence: The decision's or the consultation's overall confidence, if any.
        steps: Graph super-steps, summed over the user turns.
        tokens: Prompt plus completion tokens.
        calls: Model calls.
        latency: Seconds the case took against the real model (recorded, so replays agree).
        failures: Parallel steps that failed (`agent: error`), which the run survived.
        workers: Each planned worker's outcome (delegation): "done", "failed" or "no result".
    """

    answer: str = ""
    replies: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    route: str | None = None
    decision: str | None = None
    confidence: float | None = None
    steps: int = 0
    tokens: int = 0
    calls: int = 0
    latency: float = 0.0
    failures: tuple[str, ...] = field(default=())
    workers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The trace as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Trace:
        """The trace `to_dict` wrote."""
        data = dict(document)
        data["path"] = tuple(data.get("path", ()))
        data["replies"] = tuple(data.get("replies", ()))
        data["failures"] = tuple(data.get("failures", ()))
        data["workers"] = dict(data.get("workers") or {})
        return cls(**data)


def trace_of(state: Mapping[str, Any], usage: Usage, latency: float) -> Trace:
    """Reads a trace from a run's final state values and its metered usage."""
    seen = events_of("", state)
    answers = [e.text for e in seen if isinstance(e, events.MessageEvent)]
    routes = [e.agent for e in seen if isinstance(e, events.RouteEvent) and e.agent]
    handoffs = [e for e in seen if isinstance(e, events.HandoffEvent)]
    decisions = [e for e in seen if isinstance(e, events.DecisionEvent)]
    active = state.get("active_agent")
    path: list[str] = []
    if handoffs:
        path = [handoffs[0].source, *(h.target for h in handoffs)]
    elif routes:
        path = routes
    elif active:
        path = [active]
    path += [e.agent for e in seen if isinstance(e, events.OpinionEvent)]
    path += [e.worker for e in seen if isinstance(e, events.PlanEvent)]
    path += [e.agent for e in seen if isinstance(e, events.VoteEvent)]
    done = {e.worker for e in seen if isinstance(e, events.ResultEvent)}
    failed = {e.agent for e in seen if isinstance(e, events.FailureEvent)}
    workers = {
        e.worker: "done" if e.worker in done else "failed" if e.worker in failed else "no result"
        for e in seen
        if isinstance(e, events.PlanEvent)
    }
    confidence = decisions[0].confidence if decisions else state.get("confidence")
    return Trace(
        answer=answers[-1] if answers else "",
        replies=tuple(_last_turn(state.get("messages") or [])),
        path=tuple(path),
        route=routes[0] if routes else active,
        decision=decisions[0].decision if decisions else None,
        confidence=None if confidence is None else float(confidence),
        steps=usage.steps,
        tokens=usage.tokens,
        calls=usage.model_calls,
        latency=latency,
        failures=tuple(f"{e.agent}: {e.error}" for e in seen if isinstance(e, events.FailureEvent)),
        workers=workers,
    )


def _last_turn(messages: Sequence[Any]) -> list[str]:
    """The agents' replies after the user's last message."""
    replies: list[str] = []
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage) and message.text:
            replies.append(message.text)
    return replies[::-1]
