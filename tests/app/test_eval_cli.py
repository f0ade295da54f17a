"""`accord eval`: replays a shipped dataset with no model and writes the reports asked for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from accord.app.cli.main import cli

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"
FINANCE = DATASETS / "finance.yaml"


def test_eval_replays_and_writes_json_and_html(tmp_path: Path) -> None:
    out, page = tmp_path / "run.json", tmp_path / "run.html"
    result = CliRunner().invoke(
        cli, ["eval", str(FINANCE), "--json", str(out), "--html", str(page), "--label", "base"]
    )
    assert result.exit_code == 0, result.output
    assert "finance: base, replayed from recordings" in result.output
    assert "card-fraud" in result.output
    document = json.loads(out.read_text())
    assert document["mode"] == "replay"
    assert document["scores"]["overall"]["error_rate"] == 0.0
    assert {case["case"] for case in document["cases"]} >= {"card-fraud", "phishing"}
    # outcomes, latency, and the two routing plots: finance is a routed team
    assert page.read_text().count("data:image/png;base64,") == 4

    again = CliRunner().invoke(
        cli, ["eval", str(FINANCE), "--compare", str(out), "--label", "again"]
    )
    assert again.exit_code == 0, again.output
    assert "base vs again" in again.output


def test_strict_fails_when_a_case_fails(tmp_path: Path) -> None:
    # The shipped datasets all pass on their recordings, so one is copied with a decision the
    # recorded panel did not reach (its recordings replayed as they are).
    shutil.copytree(DATASETS / "credit.yaml.cassettes", tmp_path / "credit.yaml.cassettes")
    text = (DATASETS / "credit.yaml").read_text()
    (tmp_path / "credit.yaml").write_text(text.replace("decision: refer", "decision: approve"))
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "credit.yaml"), "--strict"])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output


def test_a_malformed_dataset_exits_2_with_the_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "example": "finance"}\n')
    result = CliRunner().invoke(cli, ["eval", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ")  # as every other command says it
    assert "bad.jsonl:1 (a): field 'input'" in result.output


def test_the_options_name_what_they_take() -> None:
    result = CliRunner(env={"COLUMNS": "100"}).invoke(cli, ["eval", "--help"])
    assert result.exit_code == 0
    for shown in ("--model ID", "--judge ID", "--label NAME", "--json FILE", "--compare FILE"):
        assert shown in result.output
    assert "<str>" not in result.output


def test_a_model_without_recordings_exits_2_and_says_what_to_do() -> None:
    result = CliRunner().invoke(cli, ["eval", str(FINANCE), "--model", "openai:gpt-4o-mini"])
    assert result.exit_code == 2
    assert result.output.lstrip().startswith("error: dataset ")
    assert "has no recording of model 'gpt-4o-mini'" in result.output
    assert "--record --model openai:gpt-4o-mini" in result.output
    assert "API key" not in result.output


def test_an_output_in_a_missing_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    """Not after every case ran (with --record, after every model call) as a traceback."""
    for option in ("--json", "--html"):
        page = tmp_path / "no" / "such" / "run.out"
        result = CliRunner().invoke(cli, ["eval", str(FINANCE), option, str(page)])
        assert result.exit_code == 2, result.output
        assert result.output.splitlines() == [
            f"error: {option} {page}: the folder {page.parent} does not exist; "
            "create it, or write the file elsewhere"
        ]
    out = tmp_path / "no" / "labels.yaml"
    feedback = CliRunner().invoke(
        cli,
        ["eval", "--from-feedback", "--db", "x.sqlite", "--out", str(out), "--team", "onboarding"],
    )
    assert feedback.exit_code == 2, feedback.output
    assert feedback.output.startswith(f"error: --out {out}: the folder {out.parent} does not")
