"""Users' ratings as evaluation labels: every rated answer of a session database, as a case.

A thumbs-up answer (score of at least 0.5) becomes the case's expected reply (`answer.exact`);
a thumbs-down one becomes a case whose reply must not be that answer again (an `answer.regex`
that matches any other text). A rating's comment becomes the case's `judge` criterion, so a run
with `--judge` checks what the user said. The inputs are the user turns of the session up to
the rated answer, sent to the example team the export names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from accord.agents import Rating
from accord.evals.dataset import AnswerChecks, Case, Dataset, load_dataset
from accord.evals.errors import DatasetError, NoRatings
from accord.evals.teams import EXAMPLES
from accord.persistence import AuditTrail, SessionStore, SQLAlchemySaver

SATISFIED = 0.5
"""The lowest score that counts as thumbs up."""


def export_feedback(db: str, out: str | Path, *, team: str) -> Dataset:
    """Writes every rated answer in the session database `db` as a case of a YAML dataset.

    Args:
        db: The database URL (`sqlite:///file`, `postgresql+psycopg://...`).
        out: The dataset file to write (`.yaml`); `accord eval` runs it.
        team: The example team the cases run on (`onboarding`, `finance`...).

    Returns:
        The dataset as read back from `out`.

    Raises:
        NoRatings: The database holds no rating of an answer still in its history; nothing
            was written.
        DatasetError: `team` is not an example team.
    """
    out = Path(out)
    cases = feedback_cases(db, team=team)
    document = {
        "name": out.stem,
        "cases": [case.model_dump(mode="json", exclude_defaults=True) for case in cases],
    }
    out.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
    return load_dataset(out)


def feedback_cases(db: str, *, team: str) -> list[Case]:
    """One case per rating in the database `db` (see `export_feedback`)."""
    if team not in EXAMPLES:
        raise DatasetError(f"unknown team {team!r}; choose one of: {', '.join(EXAMPLES)}")
    with SQLAlchemySaver.from_url(db) as saver:
        ratings = Rating.load(AuditTrail(saver), store=SessionStore(saver))
        histories = {r.session: _messages(saver, r.session) for r in ratings}
    cases: list[Case] = []
    for rating in ratings:
        turns = _turns(histories[rating.session], rating.message_id)
        if turns is None:  # the answer left the history (a restore): nothing to label
            continue
        inputs, answer = turns
        cases.append(_case(rating, inputs, answer, team, len(cases) + 1))
    if not cases:
        raise NoRatings(
            f"{db}: no rated answer found; users rate answers with session.afeedback(...), "
            "POST /api/sessions/ID/feedback or the thumbs on the page"
        )
    return cases


def _messages(saver: SQLAlchemySaver, session: str) -> Sequence[BaseMessage]:
    found = saver.get_tuple({"configurable": {"thread_id": session}})
    if found is None:
        return ()
    messages: Sequence[BaseMessage] = found.checkpoint["channel_values"].get("messages", ())
    return messages


def _turns(messages: Sequence[BaseMessage], message_id: str) -> tuple[list[str], str] | None:
    """The user turns before the answer `message_id`, and the answer's text."""
    for index, message in enumerate(messages):
        if message.id == message_id and isinstance(message, AIMessage):
            before = messages[:index]
            inputs = [str(m.text) for m in before if isinstance(m, HumanMessage) and m.text]
            return (inputs, str(message.text)) if inputs else None
    return None


def _case(rating: Rating, inputs: list[str], answer: str, team: str, number: int) -> Case:
    liked = rating.score >= SATISFIED
    checks = (
        AnswerChecks(exact=answer.strip())
        if liked
        # Matches at the start of any reply except this one (spaces around it ignored).
        else AnswerChecks(regex=rf"\A(?!\s*{re.escape(answer.strip())}\s*\Z)")
    )
    judge = None
    if rating.comment:
        verb = "liked" if liked else "disliked"
        judge = f"A user {verb} an earlier reply here, saying: {rating.comment}"
    document: dict[str, Any] = {
        "id": f"feedback-{number}",
        "example": team,
        "input": inputs,
        "answer": checks,
        "judge": judge,
        "tags": ["feedback", "thumbs-up" if liked else "thumbs-down", f"agent:{rating.agent}"],
    }
    return Case.model_validate(document)
