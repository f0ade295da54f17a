"""`accord run`: listing and the error for an unknown example (no model needed)."""

from __future__ import annotations

from typer.testing import CliRunner

from accord.app.cli.main import cli
from accord.evals.teams import EXAMPLES


def test_run_list_names_every_example() -> None:
    result = CliRunner().invoke(cli, ["run", "--list"])
    assert result.exit_code == 0
    for name in EXAMPLES:
        assert name in result.output


def test_unknown_example_exits_2_with_the_valid_names() -> None:
    result = CliRunner().invoke(cli, ["run", "nope", "hello"])
    assert result.exit_code == 2
    assert "unknown example 'nope'" in result.output
    assert "credit" in result.output
