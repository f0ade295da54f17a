"""Server-Sent Events: a session's typed events framed for the wire, with keep-alive pings.

Each event is `event: <kind>` (token, agent, handoff, route, opinion, vote, message, usage,
done, and the other kinds of `accord.graphs.events`), an `id:` counting from 1, and one
`data:` line of JSON (the event's fields). A failure after the stream started is an `error`
event, `{"type", "message", "status"}`, and ends the stream.

The run is a task of its own, not the response's: a client that goes away does not cancel it,
so the message it sent is answered and stored, and the session stays consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from accord.app.server.responses import error_body, status_of
from accord.graphs import Event

log = logging.getLogger("accord.app")

PING = b": ping\n\n"
"""A comment line: keeps proxies from closing a quiet stream; clients ignore it."""


def frame(kind: str, data: Mapping[str, Any], event_id: int | str | None = None) -> bytes:
    """One SSE event: its name, id and JSON data (one line: JSON escapes newlines)."""
    head = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {json.dumps(data, default=str, ensure_ascii=False)}\n\n".encode()


def fields(event: Event) -> dict[str, Any]:
    """An event's data: `to_dict()` without the `kind` (the SSE event name carries it)."""
    data = event.to_dict()
    data.pop("kind", None)
    return data


def error_fields(error: BaseException) -> dict[str, Any]:
    """The data of an `error` event: the JSON error body's fields and the HTTP status."""
    return {**error_body(error)["error"], "status": status_of(error)}


class Runs:
    """The runs in progress, so the server can let them finish (or stop them) when it stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def relay(
        self,
        events: AsyncIterator[Event],
        *,
        ping: float = 15.0,
        seen: Callable[[str], None] = lambda kind: None,
    ) -> AsyncIterator[bytes]:
        """Starts the run and returns its SSE byte stream.

        Args:
            events: The session's event stream (`session.astream(text)`).
            ping: Seconds of silence after which a keep-alive comment is sent.
            seen: Called with each event kind sent (`"error"` for a failure), for metrics.
        """
        queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()
        task = asyncio.create_task(_pump(events, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return _stream(queue, ping, seen)

    async def aclose(self, grace: float) -> None:
        """Waits up to `grace` seconds for the runs to end, then cancels the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _pump(
    events: AsyncIterator[Event], queue: asyncio.Queue[Event | BaseException | None]
) -> None:
    try:
        async for event in events:
            queue.put_nowait(event)
    except asyncio.CancelledError:
        queue.put_nowait(None)
        raise
    except Exception as error:  # it goes to the client as an `error` event
        if status_of(error) == 500:
            log.exception("a session run failed")
        queue.put_nowait(error)
    else:
        queue.put_nowait(None)


async def _stream(
    queue: asyncio.Queue[Event | BaseException | None],
    ping: float,
    seen: Callable[[str], None],
) -> AsyncIterator[bytes]:
    number = 0
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), ping)
        except TimeoutError:
            yield PING
            continue
        if item is None:
            return
        number += 1
        if isinstance(item, BaseException):
            seen("error")
            yield frame("error", error_fields(item), number)
            return
        seen(item.kind)
        yield frame(item.kind, fields(item), number)
