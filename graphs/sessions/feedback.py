"""The checks a user's rating passes before it is stored: a fair score, and a real answer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage

from accord.graphs.errors import InvalidFeedback, NotAnAnswer

MAX_COMMENT = 4000
"""The longest comment a rating keeps, in characters."""


def check_rating(score: Any, comment: str | None) -> float:
    """The score as a float, if it and the comment are acceptable.

    Raises:
        InvalidFeedback: The score is not a number from 0 to 1, or the comment is too long.
    """
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise InvalidFeedback(f"a feedback score must be a number from 0 to 1, got {score!r}")
    if not 0 <= score <= 1:
        raise InvalidFeedback(
            f"a feedback score must be from 0 (not satisfied) to 1 (satisfied), got {score}; "
            "thumbs up is 1, thumbs down 0"
        )
    if comment is not None and len(comment) > MAX_COMMENT:
        raise InvalidFeedback(
            f"a feedback comment holds at most {MAX_COMMENT} characters, got {len(comment)}"
        )
    return float(score)


def rated_answer(
    session_id: str, messages: Sequence[AnyMessage], message_id: str | None
) -> AIMessage:
    """The answer a rating is about: the message `message_id`, or the last answer if None.

    Raises:
        NotAnAnswer: No such message, or it is not an answer (an AI message with text).
    """
    answers = [m for m in messages if isinstance(m, AIMessage) and m.text and m.id]
    if message_id is None:
        if not answers:
            raise NotAnAnswer(f"session {session_id!r} has no answer to rate yet")
        return answers[-1]
    found = next((m for m in messages if m.id == message_id), None)
    if found is None:
        raise NotAnAnswer(
            f"session {session_id!r} has no message {message_id!r}; rate an answer by the id "
            "its history gives (`session.ahistory()`, GET /api/sessions/ID/messages)"
        )
    if found not in answers:
        raise NotAnAnswer(
            f"message {message_id!r} of session {session_id!r} is a {found.type} message, "
            "not an answer: only the team's answers can be rated"
        )
    return found
