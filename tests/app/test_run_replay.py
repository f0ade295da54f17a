"""`accord run <example> "<input>"` on recorded traffic of the embedded model.

The command's printed conversation is checked against the session it persisted, read back
from its SQLite file. Re-record:
`ACCORD_RECORD=1 .venv/bin/python -m pytest tests/app/test_run_replay.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import thread
from typer.testing import CliRunner

from accord.app.cli.main import cli
from accord.evals.cassette import cassette
from accord.evals.teams import EXAMPLES
from accord.persistence import SQLAlchemySaver

CASSETTE = Path(__file__).parent / "cassettes" / "run_ecommerce.yaml"
TEXT = "I want to return the shoes I bought last week, they are too small."


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


def test_run_prints_the_recorded_conversation(record_mode: bool, tmp_path: Path) -> None:
    db = tmp_path / "run.sqlite"
    args = ["run", "ecommerce", TEXT, "--db", str(db), "--session", "shoes-1"]
    with cassette(CASSETTE, record=record_mode):
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output

    with SQLAlchemySaver.from_url(f"sqlite:///{db}") as saver:
        state = EXAMPLES["ecommerce"].build(checkpointer=saver).get_state(thread("shoes-1"))
    route = state.values["route"]
    user, reply = state.values["messages"]
    assert user.text == TEXT
    assert reply.name == route["agent"]
    assert route["agent"] == "returns"

    printed = _flat(result.output)
    expected = [
        f"you: {TEXT}",
        f"-> routed to {route['agent']}: {route['reason']}",
        f"{reply.name}: {reply.text}",
        "session shoes-1",
    ]
    positions = [printed.find(_flat(line)) for line in expected]
    assert -1 not in positions, (expected, printed)
    assert positions == sorted(positions)
