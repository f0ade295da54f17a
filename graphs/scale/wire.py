"""A turn's typed events on the wire between a worker and the process that asked for the turn.

A worker writes each event as the JSON of its `to_dict()` (the SSE stream's fields), plus two
kinds of its own: `error` (the run failed: the error's type and message) and `recovered` (a
delivery after the first streamed otherwise than the one before it: the last `superseded`
tokens are replaced by what follows). The asking side reads them back into the same event
types, so a remote turn streams like a local one.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from accord.graphs import events
from accord.graphs.errors import TurnFailed
from accord.graphs.sessions.budget import Usage
from accord.graphs.sessions.reply import Reply

KINDS: dict[str, type[events.Event]] = {
    cls.kind: cls
    for cls in (getattr(events, name) for name in events.__all__)
    if isinstance(cls, type) and issubclass(cls, events.Event) and cls is not events.Event
}
"""Every event type by its `kind`."""

ERROR = "error"
RECOVERED = "recovered"


def encode(data: dict[str, Any]) -> str:
    """One stream entry's JSON."""
    return json.dumps(data, default=str, ensure_ascii=False)


def error_entry(error: BaseException, *, dead_lettered: bool = False) -> dict[str, Any]:
    """The `error` entry of a failed turn (never its traceback: it may hold message text)."""
    return {
        "kind": ERROR,
        "type": type(error).__name__,
        "message": str(error),
        "dead_lettered": dead_lettered,
    }


def decode(text: str | bytes) -> dict[str, Any]:
    """One stream entry's data."""
    data: dict[str, Any] = json.loads(text)
    return data


def event_of(data: dict[str, Any]) -> events.Event | None:
    """The typed event of an entry; None for `recovered`.

    Raises:
        TurnFailed: The entry is the turn's `error`.
    """
    kind = data.get("kind")
    if kind == ERROR:
        raise TurnFailed(
            data["type"], data["message"], dead_lettered=bool(data.get("dead_lettered"))
        )
    if kind == RECOVERED:
        return None
    fields = {key: value for key, value in data.items() if key != "kind"}
    if kind == "usage":
        return events.UsageEvent(Usage.from_dict(fields["usage"]))
    if kind == "done":
        return events.DoneEvent(_reply(fields["reply"]))
    return KINDS[str(kind)](**fields)


class Replay:
    """What a redelivered turn streams: the re-run of the interrupted step, less the tokens a
    dead delivery streamed of it already.

    `streamed` is the turn's stream so far; its tokens after its last other entry are the
    interrupted step's. While the re-run's tokens repeat them one for one they are dropped
    (the reader has them); at the first difference a `recovered` entry says how many of them
    are superseded, and everything from there on is streamed. A deterministic step (a cached
    or scripted model) thus streams each token once; a step that answers otherwise the second
    time is marked where it diverged.
    """

    def __init__(self, streamed: Sequence[dict[str, Any]], attempt: int) -> None:
        start = len(streamed)
        while start and streamed[start - 1].get("kind") == "token":
            start -= 1
        self.pending = deque(streamed[start:])
        self.attempt = attempt

    def entries(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The entries to stream for the re-run's next event `data`."""
        if not self.pending:
            return [data]
        if data.get("kind") == "token" and decode(encode(data)) == self.pending[0]:
            self.pending.popleft()
            return []
        superseded, self.pending = len(self.pending), deque()
        return [{"kind": RECOVERED, "attempt": self.attempt, "superseded": superseded}, data]


def _reply(data: dict[str, Any]) -> Reply:
    """The `Reply` of a done entry: its messages as role, name and text; no state values."""
    messages: list[AnyMessage] = [
        (HumanMessage if m["role"] == "human" else AIMessage)(m["text"], name=m["name"], id=m["id"])
        for m in data["messages"]
    ]
    return Reply(
        data["session_id"],
        data["text"],
        data["agent"],
        messages,
        {},
        Usage.from_dict(data["usage"]),
    )
