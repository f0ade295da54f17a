"""`GET /api/sessions/{id}/messages/{message_id}/events`: a fleet's turn, streamed again.

Only a server started with a broker (`accord serve --broker`) has it: the turn's events are
in Redis, so any replica serves them, from after the client's `Last-Event-ID`.
"""

from __future__ import annotations

from typing import Annotated

from accord.app.errors import server_extra
from accord.app.server import fleet
from accord.app.server.responses import ERROR_RESPONSES
from accord.app.server.routes import Me, SessionId, Shared
from accord.app.server.schemas import ErrorBody
from accord.persistence import SessionNotFound

with server_extra():
    from fastapi import APIRouter, Header, Path
    from fastapi.responses import StreamingResponse

fleet_api = APIRouter(
    prefix="/api",
    responses={code: {**info, "model": ErrorBody} for code, info in ERROR_RESPONSES.items()},
)

MessageId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


@fleet_api.get(
    "/sessions/{session_id}/messages/{message_id}/events",
    response_class=StreamingResponse,
    summary="Stream a turn's events again, after Last-Event-ID (servers with a broker)",
)
async def turn_events(
    session_id: SessionId,
    message_id: MessageId,
    me: Me,
    shared: Shared,
    last_event_id: Annotated[str, Header(pattern=r"^(0|\d+-\d+)$")] = "0",
) -> StreamingResponse:
    """The turn's events after `Last-Event-ID` (all of them without it, or with `0`), ending
    with its `done` or `error`. 404 if the session has no such turn (or it expired)."""
    sessions = shared.sessions
    await sessions.authorize(session_id, me, "read")
    remote = sessions.remote
    if remote is None or not await remote.known(session_id, message_id):
        raise SessionNotFound(f"session {session_id!r} has no queued turn {message_id!r}")
    metrics = shared.metrics
    stream = fleet.relay(
        remote,
        session_id,
        message_id,
        after=last_event_id,
        ping=shared.ping,
        seen=lambda kind: metrics.events.labels(kind).inc(),
    )
    return fleet.response(stream, message_id)
