"""`accord run` on recorded traffic of the embedded model: replies streamed into a session.

`accord run onboarding "Hello!"` makes the very requests `accord serve` makes for that message
(both stream through `Sessions`), so it replays `serve_onboarding.yaml`, which
`tests/app/test_server_replay.py` records. `run_ecommerce.yaml` is this file's own; record it:
`ACCORD_RECORD=1 .venv/bin/python -m pytest tests/app/test_cli_replay.py`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from support import ONBOARDING_GREETING
from typer.testing import CliRunner

from accord.app.cli.main import cli
from accord.evals.cassette import cassette

CASSETTES = Path(__file__).parent / "cassettes"
runner = CliRunner()


@pytest.fixture
def record_mode(monkeypatch: pytest.MonkeyPatch) -> bool:
    """True when `ACCORD_RECORD=1` asks to re-record the cassette against the embedded model."""
    record = os.environ.get("ACCORD_RECORD") == "1"
    if record:
        monkeypatch.delenv("ACCORD_OFFLINE", raising=False)
    return record


def _flat(text: str) -> str:
    """`text` with every run of whitespace as one space (rich wraps at the console's width)."""
    return " ".join(text.split())


def _session_id(output: str) -> str:
    found = re.search(r"session (\S+) ·", output)
    assert found, output
    return found.group(1)


def test_run_streams_the_recorded_reply_into_a_session(record_mode: bool, tmp_path: Path) -> None:
    if record_mode:
        pytest.skip("serve_onboarding.yaml is recorded by tests/app/test_server_replay.py")
    db = tmp_path / "run.sqlite"
    with cassette(CASSETTES / "serve_onboarding.yaml"):
        ran = runner.invoke(cli, ["run", "onboarding", ONBOARDING_GREETING, "--db", str(db)])
    assert ran.exit_code == 0, ran.output
    session_id = _session_id(ran.output)

    shown = runner.invoke(cli, ["sessions", "show", session_id, "--db", str(db)])
    replies = re.findall(r"│ intake +│ (.+?) +│", shown.output)
    assert replies, shown.output
    assert f"intake: {replies[0]}" in _flat(ran.output)
    measured = runner.invoke(cli, ["metrics", "--db", str(db), "--json", "--by", "agent"])
    assert json.loads(measured.output)["agent"]["intake"]["steps"] == 1


def test_run_a_routed_example(record_mode: bool, tmp_path: Path) -> None:
    path = CASSETTES / "run_ecommerce.yaml"
    if not record_mode and not path.exists():
        pytest.skip(f"record {path.name}: ACCORD_RECORD=1 pytest {Path(__file__).name}")
    text = "I want to return the shoes I bought last week, they are too small."
    db = tmp_path / "run.sqlite"
    with cassette(path, record=record_mode):
        ran = runner.invoke(cli, ["run", "ecommerce", text, "--db", str(db)])
    assert ran.exit_code == 0, ran.output
    printed = _flat(ran.output)
    assert f"you: {text}" in printed
    assert "-> routed to returns:" in printed
    assert re.search(r"returns: \S", printed), printed
    session_id = _session_id(ran.output)
    trail = runner.invoke(cli, ["sessions", "audit", session_id, "--db", str(db)])
    assert re.search(r"│ step +│ \S+ +│ returns", trail.output), trail.output
