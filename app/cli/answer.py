"""`accord sessions answer`: answers the question a paused session waits on, on the terminal.

The session's record does not say which graph it ran, so the command is told (`--team`, as
`accord run` takes it); the rest of the run streams as `accord run` shows a turn.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console

from accord.app.cli import teams
from accord.app.cli.run import load_model
from accord.app.cli.show import line
from accord.app.cli.talk import Conversation, answer_hint, check_answered, summary
from accord.graphs import NotPaused, Sessions, User

console = Console(highlight=False)


def answer_session(
    session_id: str,
    answer: Any,
    *,
    team: str,
    db: str,
    user: User,
    model: str | None = None,
    typed_db: str | None = None,
) -> None:
    """Answers the question `session_id` waits on with `answer`; prints the rest of the run.

    Raises:
        SessionNotFound: No such session in `db`.
        NotAuthorized: `user` may not resume it.
        NotPaused: It asks nothing (the message says how to continue it instead).
        UnknownExample, GraphNotFound: `team` names nothing runnable.
    """
    mine = teams.is_path(team)
    graph = teams.team(team, model, option="--team")
    began = time.monotonic()
    with Sessions(graph, db=db) as sessions:
        handle = sessions.resume(session_id, user)
        questions = handle.pending()
        if not questions:  # before the model loads: nothing to answer
            raise NotPaused(
                f"session {session_id!r} asks no question (status "
                f"{sessions.get(session_id, user).status}); continue it with accord run "
                f'{team} "..." --session {session_id} --db {typed_db or db}'
            )
        for question in questions:
            console.print(line(question))
        if not mine and model in (None, "local"):
            load_model(console)
        conversation = Conversation(console)
        reply = conversation.turn(_shown(answer), handle.stream_resume_with(answer))
    console.print(summary(reply, session_id, time.monotonic() - began))
    if reply is not None and reply.paused:
        console.print(answer_hint(session_id, team, typed_db or db))
    check_answered(conversation)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "approve" if value else "reject"
    return value if isinstance(value, str) else json.dumps(value, default=str)
