"""A turn's typed events on the wire between a worker and the process that asked for the turn.

A worker writes each event as the JSON of its `to_dict()` (the SSE stream's fields), plus two
kinds of its own: `error` (the run failed: the error's type and message) and `recovered` (a
delivery after the first streamed otherwise than the one before it: the last `superseded`
entries of its `lane`, an agent's events or, for None, the turn's own, are replaced by what
follows). The asking side reads them back into the same event
types, so a remote turn streams like a local one.
"""

from __future__ import annotations

import json
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


def text_of(value: Any) -> str:
    """A string Redis returned (as bytes unless the client decodes replies)."""
    return value.decode() if isinstance(value, bytes) else str(value)


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
    """What a redelivered turn streams: the re-run from its last checkpoint, less every event
    a dead delivery streamed of it already (`agent`, `message`, tokens, votes: any kind).

    Each agent's events (its lane: the events naming it; the turn's own, like `usage` and
    `done`, are one more lane) come in order even when agents run in parallel, and a re-run
    resumes each lane at a step boundary of what that lane streamed, so within a lane the
    re-run repeats a suffix of it, then goes on. Where that suffix starts is not known here
    (the checkpoint is the database's), so each place in the lane where the re-run's first
    event of the lane stands is a candidate start, followed while the re-run repeats the lane
    from there; its events are dropped (the reader has them) while a candidate still matches,
    and once one reaches the lane's end, the lane's later events are new. If every candidate
    breaks off, a `recovered` entry says how many of the lane's last entries are superseded,
    and the lane streams everything from there on. A deterministic re-run (a cached or
    scripted model) thus streams each event once; one that answers otherwise is marked where
    it diverged.

    `streamed` is the turn's stream so far, earlier `recovered` entries included: what the
    reader holds is that stream less what they superseded.
    """

    def __init__(self, streamed: Sequence[dict[str, Any]], attempt: int) -> None:
        self.lanes: dict[str | None, list[dict[str, Any]]] = {}
        for entry in kept(streamed):
            self.lanes.setdefault(lane(entry), []).append(entry)
        self.attempt = attempt
        # Per lane: the positions its candidates reached; absent before the lane's first
        # event, None once the lane streams everything.
        self.reached: dict[str | None, list[int] | None] = {}

    def entries(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The entries to stream for the re-run's next event `data`."""
        name = lane(data)
        held = self.lanes.get(name, [])
        seen = decode(encode(data))  # as it reads back from the stream
        if name not in self.reached:
            went_on = [k + 1 for k, entry in enumerate(held) if entry == seen]
            if not went_on:  # the lane resumed after all it streamed
                self.reached[name] = None
                return [data]
        else:
            reached = self.reached[name]
            if reached is None:
                return [data]
            went_on = [k + 1 for k in reached if held[k] == seen]
            if not went_on:
                # The latest repeat decides how much of the lane the re-run replaces.
                self.reached[name] = None
                superseded = len(held) - max(reached)
                recovered = {"kind": RECOVERED, "attempt": self.attempt, "lane": name}
                return [{**recovered, "superseded": superseded}, data]
        self.reached[name] = None if max(went_on) == len(held) else went_on
        return []


def lane(entry: dict[str, Any]) -> str | None:
    """Whose events an entry is in order with: its agent's, or the turn's own (None)."""
    for key in ("agent", "worker", "source"):
        if isinstance(entry.get(key), str):
            return str(entry[key])
    return None


def kept(streamed: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a reader of `streamed` holds: each `recovered` entry drops the last entries of
    its lane that it supersedes."""
    held: list[dict[str, Any]] = []
    for entry in streamed:
        if entry.get("kind") == RECOVERED:
            left, name = int(entry["superseded"]), entry.get("lane")
            for k in range(len(held) - 1, -1, -1):
                if not left:
                    break
                if lane(held[k]) == name:
                    del held[k]
                    left -= 1
        elif entry.get("kind") != ERROR:
            held.append(entry)
    return held


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
