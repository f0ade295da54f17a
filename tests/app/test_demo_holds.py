"""The end of `accord demo`: what its session database holds, shown, on copyable lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rated import unrated_database

from accord.app.cli import demo
from accord.persistence import SessionStore, SQLAlchemySaver


def test_the_demo_shows_what_its_database_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 12: the demo printed the commands only, and a long --db path was wrapped mid-path.
    folder = tmp_path / ("a-long-folder-name-" * 4)
    folder.mkdir()
    db = folder / "sessions.sqlite"
    asyncio.run(unrated_database(db))
    with SQLAlchemySaver.from_url(f"sqlite:///{db}") as saver:
        (record,) = SessionStore(saver).list()

    demo._holds(str(db), record.session_id)

    out = capsys.readouterr().out
    assert "1 session(s)" in out
    assert record.session_id in out.split("$ accord metrics")[0]  # the list's row
    assert "intake" in out.split("$ accord metrics")[1]  # the metrics' agent table
    assert f"$ accord sessions list --db {db}\n" in out
    assert f"$ accord sessions audit {record.session_id} --db {db}\n" in out
