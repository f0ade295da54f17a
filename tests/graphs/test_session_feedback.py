"""Feedback: a user's rating of one answer, audited, attributed to its agent; bad ones refused."""

from __future__ import annotations

import math
from typing import Any

import pytest
from rated import dana_team as _team

from accord.agents import Rating, by_agent, by_session
from accord.graphs import Access, NotAuthorized, Scope, Session, Sessions, User
from accord.graphs.errors import InvalidFeedback, NotAnAnswer


async def _feedback(sessions: Sessions, session_id: str) -> list[Any]:
    return [e for e in await sessions.aaudit(session_id, "alice") if e.kind == "feedback"]


async def test_a_rating_is_audited_and_attributed_to_the_answers_agent(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        history = await session.ahistory()
        welcome = history[1]
        assert welcome.id is not None

        first = await session.afeedback(0, "It did not ask my name.", message_id=welcome.id)
        latest = await session.afeedback(1)  # no id: the latest answer
        again = await session.afeedback(0.5, message_id=welcome.id)  # replaces the first
        trail = await _feedback(sessions, session.id)
        ratings = Rating.load(sessions.audit_trail, [session.id])

    assert (first.agent, first.message_id, first.user, first.score) == (
        "intake",
        welcome.id,
        "alice",
        0.0,
    )
    assert first.comment == "It did not ask my name."
    assert (latest.agent, latest.message_id, latest.score) == ("verification", history[2].id, 1.0)
    assert [(e.actor, e.agent, e.details["score"]) for e in trail] == [
        ("alice", "intake", 0.0),
        ("alice", "verification", 1.0),
        ("alice", "intake", 0.5),
    ]
    assert trail[0].details["message_id"] == welcome.id
    # The latest rating of each answer counts; the trail keeps all three.
    assert [(r.agent, r.score) for r in ratings] == [("verification", 1.0), ("intake", 0.5)]
    assert ratings[1] == again
    agents = by_agent([], ratings=ratings)
    assert {k: (v.ratings, v.satisfaction) for k, v in agents.items()} == {
        "intake": (1, 0.5),
        "verification": (1, 1.0),
    }
    assert by_session([], ratings=ratings)[session.id].satisfaction == 0.75


@pytest.mark.parametrize("score", [1.5, -0.1, math.nan, math.inf, True, "1"])
async def test_a_score_out_of_range_is_refused_and_nothing_is_stored(db: str, score: Any) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        with pytest.raises(InvalidFeedback, match="from 0"):
            await session.afeedback(score)
        assert await _feedback(sessions, session.id) == []


async def test_a_message_that_is_not_an_answer_is_refused(db: str) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        with pytest.raises(NotAnAnswer, match="no answer to rate yet"):
            await session.afeedback(1)
        await session.asend("Hi, I'm Dana")
        question = (await session.ahistory())[0]
        with pytest.raises(NotAnAnswer, match="is a human message, not an answer"):
            await session.afeedback(1, message_id=question.id)
        with pytest.raises(NotAnAnswer, match="has no message 'nope'"):
            await session.afeedback(1, message_id="nope")
        with pytest.raises(InvalidFeedback, match="at most 4000 characters"):
            await session.afeedback(1, "x" * 4001)
        assert await _feedback(sessions, session.id) == []


async def test_only_the_sessions_participants_rate(db: str) -> None:
    scope = Scope(read=Access(users=frozenset({"carol"})))
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice", scope=scope)
        await session.asend("Hi, I'm Dana")
        reader = Session(sessions, session.record, User("carol"))
        with pytest.raises(NotAuthorized, match="may not send"):
            await reader.afeedback(1)
        assert await _feedback(sessions, session.id) == []


def test_the_sync_twin_rates_too(db: str) -> None:
    with Session.open(_team(), user="alice", db=db) as session:
        session.send("Hi, I'm Dana")
        rating = session.feedback(1, "Quick.")
        with pytest.raises(InvalidFeedback):
            session.feedback(2)
    assert (rating.agent, rating.score, rating.comment) == ("verification", 1.0, "Quick.")
