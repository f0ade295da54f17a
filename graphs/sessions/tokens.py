"""The tokens of an agent's reply as its model streams them, from plain text or a JSON answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.messages import BaseMessage
from langchain_core.utils.json import parse_partial_json

from accord.graphs.events import CorrectionEvent, Event, MessageEvent, TokenEvent


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


@dataclass
class Streamed:
    """The reply text tokens have shown since the last message, to correct it if need be.

    Tokens name the graph step that streamed them (a coordinator's "synthesis", say) and the
    message the agent that wrote it, so the two are matched by order, not by name.
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
