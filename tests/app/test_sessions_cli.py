"""`accord sessions list|show|audit|restore` on a real database, as an operator and as a user."""

from __future__ import annotations

from pathlib import Path

from support import scripted
from typer.testing import CliRunner

from accord.app.cli.main import cli
from accord.graphs import Session, handoff
from accord.persistence import SessionStore, SQLAlchemySaver

runner = CliRunner()


def _db_with_a_session(tmp_path: Path) -> tuple[str, str, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    replies = (
        {"reply": "Hello Dana.", "handoff_to": "none"},
        {"reply": "Noted.", "handoff_to": "none"},
    )
    with Session.open(handoff([scripted("desk", *replies)]), user="alice", db=url) as session:
        session.send("Hi, I'm Dana")
        checkpoint = session.sessions.graph.get_state(session.config).config
        session.send("My birthday is in May")
        return url, session.id, checkpoint["configurable"]["checkpoint_id"]


def test_list_show_and_audit_read_as_tables(tmp_path: Path) -> None:
    url, session_id, _ = _db_with_a_session(tmp_path)

    listed = runner.invoke(cli, ["sessions", "list", "--db", url])
    assert listed.exit_code == 0, listed.output
    assert session_id in listed.output
    assert "alice" in listed.output

    shown = runner.invoke(cli, ["sessions", "show", session_id, "--db", url])
    assert shown.exit_code == 0, shown.output
    assert "Hello Dana." in shown.output
    assert "My birthday is in May" in shown.output
    assert "model_calls=2" in shown.output

    trail = runner.invoke(cli, ["sessions", "audit", session_id, "--db", url])
    assert trail.exit_code == 0, trail.output
    for kind in ("opened", "message_in", "message_out"):
        assert kind in trail.output


def test_a_user_sees_only_what_their_scope_allows(tmp_path: Path) -> None:
    url, session_id, _ = _db_with_a_session(tmp_path)

    own = runner.invoke(cli, ["sessions", "list", "--db", url, "--user", "alice"])
    assert session_id in own.output
    other = runner.invoke(cli, ["sessions", "list", "--db", url, "--user", "mallory"])
    assert session_id not in other.output
    denied = runner.invoke(cli, ["sessions", "show", session_id, "--db", url, "--user", "mallory"])
    assert denied.exit_code == 3
    assert "may not read" in denied.output
    trail = runner.invoke(cli, ["sessions", "audit", session_id, "--db", url])
    assert "denied" in trail.output
    assert "mallory" in trail.output


def test_restore_to_a_checkpoint_keeps_history(tmp_path: Path) -> None:
    url, session_id, checkpoint = _db_with_a_session(tmp_path)

    restored = runner.invoke(
        cli, ["sessions", "restore", session_id, "--db", url, "--checkpoint", checkpoint]
    )
    assert restored.exit_code == 0, restored.output
    assert "new head checkpoint" in restored.output
    shown = runner.invoke(cli, ["sessions", "show", session_id, "--db", url])
    assert "Hello Dana." in shown.output
    assert "My birthday is in May" not in shown.output
    trail = runner.invoke(cli, ["sessions", "audit", session_id, "--db", url])
    assert "restored" in trail.output
    both = runner.invoke(cli, ["sessions", "restore", session_id, "--db", url])
    assert both.exit_code == 2
    assert "exactly one of --at and --checkpoint" in both.output
    missing = runner.invoke(cli, ["sessions", "show", "nope", "--db", url])
    assert missing.exit_code == 2
    assert "no session 'nope'" in missing.output
    assert f"`accord sessions list --db {url}` lists the sessions" in missing.output


def test_list_shows_the_cost_and_fits_80_columns(tmp_path: Path) -> None:
    url, session_id, _ = _db_with_a_session(tmp_path)
    with SQLAlchemySaver.from_url(url) as saver:
        store = SessionStore(saver)
        spent = store.create(owner="alexandra", agent="verification", status="paused")
        usage = {"tokens": 123456, "model_calls": 1234, "cost": 0.01234}
        store.update(spent.session_id, usage=usage)

    listed = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["sessions", "list", "--db", url])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, listed.output
    [row] = [line for line in lines if spent.session_id in line]
    assert row.split()[1:6] == ["alexandra", "verification", "paused", "123456", "0.0123"]
    [free] = [line for line in lines if session_id in line]  # scripted: nothing priced
    assert free.split()[3] == "open"  # then its tokens, a blank cost, the time
    assert len(free.split()) == 6
