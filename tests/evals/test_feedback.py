"""Users' ratings exported as evaluation cases, read back by the dataset loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from rated import rated_database, unrated_database

from accord.evals import export_feedback, load_dataset
from accord.evals.errors import DatasetError, NoRatings
from accord.evals.evaluators import ExactAnswer, RegexAnswer
from accord.evals.trace import Trace


async def test_every_rated_answer_becomes_a_case_of_a_loadable_dataset(tmp_path: Path) -> None:
    url = await rated_database(tmp_path / "rated.sqlite")
    out = tmp_path / "labels.yaml"

    written = export_feedback(url, out, team="onboarding")

    assert written == load_dataset(out)
    down, up = written.cases
    assert (down.example, down.input) == ("onboarding", ("Hi, I'm Dana",))
    assert down.tags == ("feedback", "thumbs-down", "agent:intake")
    assert down.judge is not None
    assert "It did not ask my name." in down.judge
    assert up.input == ("Hi, I'm Dana", "12 May 1990")
    assert up.answer.exact == "Thanks, you are verified."
    assert up.tags == ("feedback", "thumbs-up", "agent:verification")
    assert up.judge is None


@pytest.mark.parametrize(
    ("answer", "passes"),
    [
        ("Welcome Dana. Verification will take it from here.", False),
        ("  Welcome Dana. Verification will take it from here.\n", False),
        ("Welcome! Your name?", True),
    ],
)
async def test_a_thumbs_down_case_fails_only_on_the_same_reply(
    tmp_path: Path, answer: str, passes: bool
) -> None:
    url = await rated_database(tmp_path / "rated.sqlite")
    down, up = export_feedback(url, tmp_path / "labels.yaml", team="onboarding").cases

    check = RegexAnswer().evaluate(down, Trace(answer=answer))
    assert check is not None
    assert check.passed is passes
    liked = ExactAnswer().evaluate(up, Trace(answer="Thanks, you are verified."))
    assert liked is not None
    assert liked.passed


async def test_a_database_without_ratings_is_refused_and_nothing_written(tmp_path: Path) -> None:
    url = await unrated_database(tmp_path / "quiet.sqlite")
    out = tmp_path / "labels.yaml"

    with pytest.raises(NoRatings, match="no rated answer"):
        export_feedback(url, out, team="onboarding")
    with pytest.raises(DatasetError, match="unknown team 'bank'"):
        export_feedback(url, out, team="bank")
    assert not out.exists()
