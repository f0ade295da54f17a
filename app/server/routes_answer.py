"""A paused session's questions and their answer: human in the loop over HTTP.

A graph that calls `interrupt(value)` (an agent's `approve` tools do) ends its reply stream
with an `interrupt` event and leaves the session `paused`. `GET .../questions` lists what it
waits on (the chat page shows it after a reload); `POST .../answer` answers and streams the
rest of the run as `POST .../messages` does. An answer to a session that is not paused is a
409 `NotPaused`, and nothing changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accord.app.errors import server_extra
from accord.app.server.responses import ERROR_RESPONSES
from accord.app.server.routes import (
    SEND_RESPONSES,
    Me,
    SessionId,
    Shared,
    check_budget,
    relay,
)
from accord.app.server.schemas import ErrorBody
from accord.graphs import NotPaused, Session, SessionClosed, Sessions
from accord.persistence import SessionBusy, SessionRecord

with server_extra():
    from fastapi import APIRouter
    from fastapi.responses import StreamingResponse

answer_api = APIRouter(
    prefix="/api",
    responses={code: {**info, "model": ErrorBody} for code, info in ERROR_RESPONSES.items()},
)


class QuestionOut(BaseModel):
    """A question the session waits on: what its graph passed to `interrupt()`."""

    id: str = Field(description="The interrupt's id; name it when several are pending.")
    value: Any = Field(
        description='What was asked; an approval is {"type": "approval", "agent", "tool", "args"}.'
    )


class AnswerIn(BaseModel):
    """The answer to the session's question."""

    model_config = ConfigDict(extra="forbid")

    answer: Any = Field(
        description="What `interrupt()` returns in the graph: true or false for an approval, "
        "any JSON value otherwise; {interrupt_id: answer} when several questions are pending."
    )


@answer_api.get(
    "/sessions/{session_id}/questions",
    response_model=list[QuestionOut],
    summary="The questions a paused session waits on",
)
async def questions(session_id: SessionId, me: Me, shared: Shared) -> list[QuestionOut]:
    """Empty unless the session is paused; needs read access."""
    record = await shared.sessions.authorize(session_id, me, "read")
    pending = await Session(shared.sessions, record, me).apending()
    return [QuestionOut(id=question.id, value=question.value) for question in pending]


@answer_api.post(
    "/sessions/{session_id}/answer",
    response_class=StreamingResponse,
    responses=SEND_RESPONSES,
    summary="Answer a paused session's question; stream the rest of the run",
)
async def answer(
    session_id: SessionId, body: AnswerIn, me: Me, shared: Shared
) -> StreamingResponse:
    """Resumes the session with the answer (audited as `answered`: who, when) and streams
    what the team does next as Server-Sent Events; 409 if it is not paused."""
    sessions = shared.sessions
    record = await sessions.authorize(session_id, me, "send")
    await check_can_answer(sessions, record)
    return relay(shared, Session(sessions, record, me).astream_resume_with(body.answer))


async def check_can_answer(sessions: Sessions, record: SessionRecord) -> None:
    """Refuses, before streaming starts, an answer that could not run: to a session that asked
    nothing, ended, spent or busy.

    The runtime checks all of this again under the session's lease; these checks only turn
    the common cases into HTTP statuses instead of an `error` event. (A message needs none:
    its run reads nothing first, so its refusals come from the run's first transaction.)
    """
    session_id = record.session_id
    if record.status == "open":
        raise NotPaused(f"session {session_id!r} asked no question: it is not paused")
    if record.status != "paused":
        raise SessionClosed(f"session {session_id!r} is {record.status}; open a new one")
    check_budget(record)
    lease = await sessions.leases.aholder(session_id)
    if lease is not None and lease.expires_at > datetime.now(UTC):
        raise SessionBusy(session_id, lease.holder, lease.expires_at)
