"""`POST /api/sessions/{id}/feedback`: a user's rating of one answer (thumbs on the chat page).

The body's schema states the score's range (0 to 1) and the comment's length, so a request
outside them is a 422 like any invalid field; a message id that is not one of the session's
answers is a 404 `NotAnAnswer`. Either way nothing is stored.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from accord.app.errors import server_extra
from accord.app.server.responses import ERROR_RESPONSES
from accord.app.server.routes import Me, SessionId, Shared
from accord.app.server.schemas import ErrorBody
from accord.graphs import Session

with server_extra():
    from fastapi import APIRouter

feedback_api = APIRouter(
    prefix="/api",
    responses={code: {**info, "model": ErrorBody} for code, info in ERROR_RESPONSES.items()},
)


class FeedbackIn(BaseModel):
    """A rating of one answer."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    score: float = Field(
        ge=0, le=1, description="From 0 (not satisfied) to 1 (satisfied); thumbs up is 1."
    )
    comment: str | None = Field(
        default=None, max_length=4000, description="What the user says about the answer."
    )
    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The answer's id, as the history lists it; none rates the latest answer.",
    )


class FeedbackOut(BaseModel):
    """The stored rating, attributed to the agent that wrote the answer."""

    session: str
    agent: str
    message_id: str
    user: str | None
    score: float
    comment: str | None
    at: datetime


@feedback_api.post(
    "/sessions/{session_id}/feedback",
    status_code=201,
    response_model=FeedbackOut,
    responses={404: {"model": ErrorBody, "description": "No such session, or no such answer"}},
    summary="Rate an answer",
)
async def feedback(
    session_id: SessionId, rating: FeedbackIn, me: Me, shared: Shared
) -> FeedbackOut:
    """Stores the caller's rating of one answer (their latest rating of it counts), audited as
    `feedback` and attributed to the answer's agent; `accord metrics` shows the satisfaction."""
    record = await shared.sessions.authorize(session_id, me, "send")
    stored = await Session(shared.sessions, record, me).afeedback(
        rating.score, rating.comment, message_id=rating.message_id
    )
    return FeedbackOut(**{**stored.to_dict(), "at": stored.at})
