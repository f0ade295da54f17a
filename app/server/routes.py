"""The session endpoints under `/api`: open, list, read, resume, send (SSE), history, audit, end.

Every endpoint acts as the user the bearer token names, and the session runtime checks that
user against the session's scope on every call, so handles are never cached across requests:
any server process can serve any session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from accord.app.errors import Unauthorized, server_extra
from accord.app.server import fleet
from accord.app.server.auth import Tokens
from accord.app.server.prometheus import Metrics
from accord.app.server.responses import ERROR_RESPONSES
from accord.app.server.schemas import (
    AuditOut,
    ErrorBody,
    MessageIn,
    MessageOut,
    NewSession,
    RestoreIn,
    RestoreOut,
    SessionOut,
    UserOut,
)
from accord.app.server.sse import Runs
from accord.graphs import (
    Event,
    Limits,
    Session,
    Sessions,
    Usage,
    User,
)
from accord.persistence import SessionRecord

with server_extra():
    from fastapi import APIRouter, Body, Depends, Path, Query, Request
    from fastapi.responses import StreamingResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer


@dataclass
class Server:
    """What the endpoints share: the sessions, the token map, the runs and the metrics."""

    sessions: Sessions
    tokens: Tokens
    runs: Runs
    metrics: Metrics
    ping: float = 15.0


def server(request: Request) -> Server:
    """The app's `Server` (a dependency)."""
    found: Server = request.app.state.accord
    return found


_bearer = HTTPBearer(auto_error=False, description="A token from the server's token map.")


def user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user the request's bearer token stands for; 401 without a known one."""
    if credentials is None:
        raise Unauthorized()
    found = server(request).tokens.user(credentials.credentials)
    if found is None:
        raise Unauthorized()
    return found


Me = Annotated[User, Depends(user)]
Shared = Annotated[Server, Depends(server)]
SessionId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        # No NUL or control characters: a database would refuse them with its own error.
        pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="The session id.",
    ),
]

api = APIRouter(
    prefix="/api",
    responses={code: {**info, "model": ErrorBody} for code, info in ERROR_RESPONSES.items()},
)

EVENT_KINDS = [
    *("token", "agent", "handoff", "route", "plan", "result", "opinion", "confidence"),
    *("vote", "decision", "failure", "correction", "message", "interrupt", "usage", "done"),
    "error",
]
"""The SSE event names a reply stream may carry (`accord.graphs` event kinds, and `error`)."""

SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "One event: `event` names it, `data` is its JSON fields, `id` counts from 1.",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": EVENT_KINDS},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
    },
}

SEND_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: token, agent, handoff, route, opinion, vote, "
        "message, usage, ..., then done (or error).",
        "content": {"text/event-stream": {"schema": SSE_EVENT}},
    },
    409: {
        "model": ErrorBody,
        "description": "Another run holds the session, it was ended, or it waits for an answer",
    },
    429: {"model": ErrorBody, "description": "The session's budget is spent"},
}


@api.get("/me", response_model=UserOut, summary="Who the token stands for")
async def me(me: Me) -> UserOut:
    return UserOut.of(me)


@api.post("/sessions", status_code=201, response_model=SessionOut, summary="Open a session")
async def open_session(
    me: Me, shared: Shared, spec: Annotated[NewSession | None, Body()] = None
) -> SessionOut:
    """Opens a session owned by the caller, private unless `scope` shares it."""
    spec = spec or NewSession()
    session = await shared.sessions.aopen(
        me,
        scope=spec.scope.to_scope() if spec.scope else None,
        limits=spec.limits.to_limits() if spec.limits else None,
    )
    return SessionOut.of(session.record)


@api.get("/sessions", response_model=list[SessionOut], summary="List the caller's sessions")
async def list_sessions(
    me: Me,
    shared: Shared,
    status: Annotated[str | None, Query(max_length=40, description="open or closed")] = None,
) -> list[SessionOut]:
    """The sessions the caller may read: their own, then those shared with them."""
    return [SessionOut.of(r) for r in await shared.sessions.alist(me, status=status)]


@api.get("/sessions/{session_id}", response_model=SessionOut, summary="Read a session")
async def get_session(session_id: SessionId, me: Me, shared: Shared) -> SessionOut:
    return SessionOut.of(await shared.sessions.aget(session_id, me))


@api.post("/sessions/{session_id}/resume", response_model=SessionOut, summary="Resume a session")
async def resume_session(session_id: SessionId, me: Me, shared: Shared) -> SessionOut:
    """Checks the caller may resume the session (on any server) and returns it."""
    session = await shared.sessions.aresume(session_id, me)
    return SessionOut.of(session.record)


@api.post(
    "/sessions/{session_id}/messages",
    response_class=StreamingResponse,
    responses=SEND_RESPONSES,
    summary="Send a message; stream the reply",
)
async def send(
    session_id: SessionId, message: MessageIn, me: Me, shared: Shared
) -> StreamingResponse:
    """Sends the message and streams what the team does as Server-Sent Events.

    Refusals that can be known up front are HTTP errors (403, 404, 409 busy or ended, 429
    budget spent); anything that happens once the run started is an `error` event.
    """
    sessions = shared.sessions
    if sessions.remote is not None:  # a fleet's worker runs it; a busy session's turn queues
        return await fleet.send(
            sessions,
            session_id,
            me,
            message.text,
            message.message_id,
            ping=shared.ping,
            seen=counter(shared),
        )
    # The run's first transaction reads the record and checks access, status, budget and
    # lease: the refusals are statuses, awaited before any byte is streamed.
    started = asyncio.get_running_loop().create_future()
    events = sessions.astream(
        session_id, me, message.text, message_id=message.message_id, started=started
    )
    response = relay(shared, events)
    await started
    return response


def counter(shared: Server) -> Callable[[str], None]:
    """Counts each event kind a run streams (and runs by how they end) in the server's metrics."""
    metrics = shared.metrics

    def seen(kind: str) -> None:
        metrics.events.labels(kind).inc()
        if kind in ("done", "error"):
            metrics.runs.labels(kind).inc()

    return seen


def relay(shared: Server, events: AsyncIterator[Event]) -> StreamingResponse:
    """A run's events as the SSE response, counted in the server's metrics."""
    stream = shared.runs.relay(events, ping=shared.ping, seen=counter(shared))
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@api.get("/sessions/{session_id}/messages", response_model=list[MessageOut], summary="The history")
async def history(session_id: SessionId, me: Me, shared: Shared) -> list[MessageOut]:
    values = await shared.sessions.astate(session_id, me)
    return [MessageOut.of(m) for m in values.get("messages", [])]


@api.get("/sessions/{session_id}/audit", response_model=list[AuditOut], summary="Audit trail")
async def audit(session_id: SessionId, me: Me, shared: Shared) -> list[AuditOut]:
    return [AuditOut.of(e) for e in await shared.sessions.aaudit(session_id, me)]


@api.post(
    "/sessions/{session_id}/restore",
    response_model=RestoreOut,
    responses={409: {"model": ErrorBody, "description": "A run holds the session"}},
    summary="Go back to an earlier state",
)
async def restore(session_id: SessionId, moment: RestoreIn, me: Me, shared: Shared) -> RestoreOut:
    """Makes the session's state at a time (or checkpoint) current again; later history is kept
    in its checkpoints. Needs the scope's restore access; 404 if it had no state then."""
    head = await shared.sessions.arestore(
        session_id, me, at=moment.at, checkpoint_id=moment.checkpoint_id
    )
    return RestoreOut(checkpoint_id=head["configurable"]["checkpoint_id"])


@api.post(
    "/sessions/{session_id}/end",
    response_model=SessionOut,
    summary="End a session",
)
async def end_session(session_id: SessionId, me: Me, shared: Shared) -> SessionOut:
    """Ends the session: it stays readable but takes no more messages."""
    record = await shared.sessions.authorize(session_id, me, "send")
    session = Session(shared.sessions, record, me)
    await session.aend()
    return SessionOut.of(session.record)


def check_budget(record: SessionRecord) -> None:
    """Refuses a run on a session that has spent one of its limits (HTTP 429, up front).

    Raises:
        BudgetExceeded: Which limit, with what the session used.
    """
    Limits.from_dict(record.limits).check(Usage.from_dict(record.usage), record.session_id)
