"""The tokens of an agent's reply as its model streams them, from plain text or a JSON answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.utils.json import parse_partial_json

from accord.graphs.events import CorrectionEvent, Event, MessageEvent, TokenEvent
from accord.graphs.node import AgentNode


def speakers(nodes: Mapping[str, Any]) -> dict[str, str]:
    """The agent each of a compiled graph's `nodes` runs, by node name.

    A token is streamed by a graph step, and some steps run an agent under another name (a
    consultation's primary answers in the step "synthesis"): a person reading the reply
    expects the agent's name, not the step's.
    """
    return {
        name: node.bound.agent.name
        for name, node in nodes.items()
        if isinstance(getattr(node, "bound", None), AgentNode)
    }


@dataclass
class ReplyText:
    """Follows streamed model chunks and yields the new text of each agent's reply.

    A plain model streams its reply as text. An accord agent streams a JSON answer; its
    `reply` field is what the user reads, so the growing JSON is parsed leniently and the new
    part of that field is what comes out. Answers without a `reply` (a vote, a route) stay
    silent, and so does an answer that hands the conversation on (see `_hands_off`).
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
            if not isinstance(reply, str) or _hands_off(parsed):
                return ""
        else:
            reply = text
        shown = self._shown.get(key, 0)
        self._shown[key] = len(reply)
        return reply[shown:]


def _hands_off(answer: dict[str, Any]) -> bool:
    """Whether a handoff answer passes the conversation on: its reply is then replaced (the
    receiver speaks next) or waits for facts, so it is shown whole, once decided."""
    target = answer.get("handoff_to")
    return isinstance(target, str) and target not in ("", "none")


@dataclass
class Streamed:
    """The reply text tokens have shown since the last message, to correct it if need be.

    Tokens and messages are matched by order, not by name: a step may stream under a name
    other than its message's (a custom graph's node that runs no `AgentNode`).
    """

    _shown: str | None = None

    def check(self, event: Event) -> CorrectionEvent | None:
        """Notes `event`; for a message unlike the tokens that streamed it, the correction."""
        if isinstance(event, TokenEvent):
            self._shown = (self._shown or "") + event.text
        elif isinstance(event, MessageEvent):
            shown, self._shown = self._shown, None
            if shown is not None and shown.strip() != event.text.strip():
                return CorrectionEvent(event.agent, event.text)
        return None
