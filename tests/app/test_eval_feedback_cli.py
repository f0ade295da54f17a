"""`accord eval --from-feedback`: the answers users rated, written as a dataset to run."""

from __future__ import annotations

from pathlib import Path

from rated import rated_database, unrated_database
from typer.testing import CliRunner

from accord.app.cli.main import cli
from accord.evals import load_dataset


async def test_from_feedback_writes_the_rated_answers(tmp_path: Path) -> None:
    db = tmp_path / "rated.sqlite"
    await rated_database(db)
    out = tmp_path / "labels.yaml"
    args = ["eval", "--from-feedback", "--db", str(db), "--out", str(out), "--team", "onboarding"]

    result = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "2 rated answer(s) written" in result.output
    assert "1 thumbs up, 1 thumbs down" in result.output
    assert [case.tags[1] for case in load_dataset(out).cases] == ["thumbs-down", "thumbs-up"]


async def test_no_ratings_or_missing_options_exit_2_and_write_nothing(tmp_path: Path) -> None:
    db = tmp_path / "quiet.sqlite"
    await unrated_database(db)
    out = tmp_path / "labels.yaml"
    base = ["eval", "--from-feedback", "--db", str(db), "--out", str(out)]

    empty = CliRunner().invoke(cli, [*base, "--team", "onboarding"])
    no_team = CliRunner().invoke(cli, base)
    nothing = CliRunner().invoke(cli, ["eval"])

    assert empty.exit_code == 2
    assert empty.output.startswith("error: ")
    assert "no rated answer" in empty.output
    assert no_team.exit_code == 2
    assert "--team NAME" in no_team.output
    assert nothing.exit_code == 2
    assert "--from-feedback" in nothing.output
    assert not out.exists()
