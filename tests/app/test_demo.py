"""`accord demo` for real: the embedded model, an SQLite file, a resume in a second process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.live
def test_demo_runs_persists_and_resumes_in_a_new_process(tmp_path: Path) -> None:
    db = tmp_path / "sessions.sqlite"
    env = {k: v for k, v in os.environ.items() if k not in ("ACCORD_OFFLINE", "ACCORD_LOCAL_URL")}
    env["COLUMNS"] = "200"  # one line per message, whatever the terminal

    done = subprocess.run(
        [sys.executable, "-m", "accord.app", "demo", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "intake:" in out
    assert "-> handoff intake -> verification" in out
    assert "a new process resumes the session from its checkpoint" in out
    assert "restored session" in out
    # The resumed process talks to the first one's model server instead of loading another.
    assert out.count("model ready in") == 1
    assert db.is_file()
    # What the database holds is shown, not only the commands that would show it, and every
    # command is on one line, to be copied whole.
    assert "1 session(s)" in out
    assert f"$ accord sessions list --db {db}\n" in out
    assert f"--db {db}\n" in out.split("a new process resumes")[1]
