"""A turn run by a fleet's worker, streamed as SSE from Redis by whichever replica is asked.

The SSE `id:` of each event is its Redis Stream entry id, so a client that lost the stream
reconnects to any replica with `Last-Event-ID` (`GET .../messages/{message_id}/events`) and
gets every later event, none twice. The send's response names the turn in the
`X-Accord-Message-Id` header (the client's `message_id`, or a new one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from accord.app.errors import server_extra
from accord.app.server.sse import PING, frame
from accord.graphs import User

with server_extra():
    from fastapi.responses import StreamingResponse

HEADER = "X-Accord-Message-Id"
ENDS = ("done", "error")


def response(stream: AsyncIterator[bytes], message_id: str) -> StreamingResponse:
    """The SSE response of a turn."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", HEADER: message_id}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def relay(
    remote: Any,
    session_id: str,
    message_id: str,
    *,
    after: str,
    ping: float,
    seen: Callable[[str], None],
    fresh: bool = False,
) -> AsyncIterator[bytes]:
    """The turn's events after the entry id `after`, framed, until its `done` or `error`;
    `fresh`: this process enqueued the turn just now (its worker announces its entries)."""
    entries = remote.entries(session_id, message_id, after=after, beat=ping, announced=fresh)
    async for entry in entries:
        if entry is None:
            yield PING
            continue
        entry_id, data = entry
        kind = data.pop("kind")
        seen(kind)
        yield frame(kind, data, entry_id)
        if kind in ENDS:
            return


async def send(
    sessions: Any,
    session_id: str,
    user: User,
    text: str,
    message_id: str | None,
    *,
    ping: float,
    seen: Callable[[str], None],
) -> StreamingResponse:
    """Enqueues the message (answered only once RabbitMQ holds it) and streams its turn."""
    remote = sessions.remote
    queued = await remote.submit(sessions, session_id, user, text, message_id)
    stream = relay(
        remote, session_id, queued.message_id, after="0", ping=ping, seen=seen, fresh=queued.fresh
    )
    return response(stream, queued.message_id)
