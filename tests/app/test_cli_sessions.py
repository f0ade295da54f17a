"""`accord sessions show` lists checkpoints that `sessions restore` takes; replies stream."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console
from support import scripted
from typer.testing import CliRunner

from accord.app.cli.main import cli
from accord.app.cli.talk import Conversation
from accord.graphs import Session, events, handoff

runner = CliRunner(env={"COLUMNS": "200"})
ROW = re.compile(r"│ ([0-9a-f-]{36}) │ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) │ (-?\d+) +│")


def _two_turns(tmp_path: Path) -> tuple[str, str]:
    db = str(tmp_path / "chats.sqlite")  # a plain path, as every --db takes
    replies = (
        {"reply": "Hello Dana.", "handoff_to": "none"},
        {"reply": "Noted.", "handoff_to": "none"},
    )
    team = handoff([scripted("desk", *replies)])
    with Session.open(team, user="alice", db=f"sqlite:///{db}") as session:
        session.send("Hi, I'm Dana")
        session.send("My birthday is in May")
        return db, session.id


def _checkpoints(output: str) -> list[tuple[str, str, int]]:
    return [(found, at, int(step)) for found, at, step in ROW.findall(output)]


def test_show_lists_checkpoints_that_restore_takes_by_id(tmp_path: Path) -> None:
    db, session_id = _two_turns(tmp_path)
    shown = runner.invoke(cli, ["sessions", "show", session_id, "--db", db])
    assert shown.exit_code == 0, shown.output
    points = _checkpoints(shown.output)
    assert len(points) >= 4
    assert [step for *_, step in points] == sorted((step for *_, step in points), reverse=True)
    assert f"accord sessions restore {session_id} --db {db} --checkpoint ID" in shown.output
    # The checkpoint at the end of the first turn: the latest one before the second began.
    first_turn_end = next(p for p in points if p[2] == 1)

    restored = runner.invoke(
        cli, ["sessions", "restore", session_id, "--db", db, "--checkpoint", first_turn_end[0]]
    )
    assert restored.exit_code == 0, restored.output
    again = runner.invoke(cli, ["sessions", "show", session_id, "--db", db])
    assert "Hello Dana." in again.output
    assert "My birthday is in May" not in again.output


def test_restore_takes_a_time_as_show_prints_it(tmp_path: Path) -> None:
    db, session_id = _two_turns(tmp_path)
    points = _checkpoints(runner.invoke(cli, ["sessions", "show", session_id, "--db", db]).output)
    first_turn_end = next(p for p in points if p[2] == 1)

    restored = runner.invoke(
        cli, ["sessions", "restore", session_id, "--db", db, "--at", first_turn_end[1]]
    )
    assert restored.exit_code == 0, restored.output
    shown = runner.invoke(cli, ["sessions", "show", session_id, "--db", db])
    assert "My birthday is in May" not in shown.output
    too_early = runner.invoke(
        cli, ["sessions", "restore", session_id, "--db", db, "--at", "2001-01-01 00:00:00"]
    )
    assert too_early.exit_code == 2
    assert f"accord sessions show {session_id} --db {db}` lists its checkpoints" in (
        " ".join(too_early.output.split())
    )


def test_audit_times_follow_the_order_of_events(tmp_path: Path) -> None:
    db, session_id = _two_turns(tmp_path)
    trail = runner.invoke(cli, ["sessions", "audit", session_id, "--db", db])
    moments = re.findall(r"│ \d+ +│ (\S+ \S+) │", trail.output)
    assert len(moments) >= 7, trail.output
    assert moments == sorted(moments)
    assert re.search(r"│ step +│ alice │ desk +│ ok, \d+\.\d\d s", trail.output), trail.output


def test_tokens_are_printed_as_they_come_after_the_speakers_name() -> None:
    screen = io.StringIO()
    conversation = Conversation(Console(file=screen, width=200))
    seen: list[str] = []

    def stream() -> object:
        yield events.TokenEvent("desk", "Hello")
        seen.append(screen.getvalue())
        yield events.TokenEvent("desk", " Dana.")
        seen.append(screen.getvalue())
        yield events.MessageEvent("desk", "Hello Dana.")
        yield events.HandoffEvent("desk", "setup", "Hello Dana.")
        yield events.TokenEvent("setup", "Next.")
        yield events.MessageEvent("setup", "Next.")

    conversation.turn("Hi", stream())  # type: ignore[arg-type]
    # Each piece is on screen before the next arrives, after the speaker's name.
    assert seen[0].endswith("desk: Hello")
    assert seen[1].endswith("desk: Hello Dana.")
    assert screen.getvalue().splitlines() == [
        "",
        "you: Hi",
        "desk: Hello Dana.",
        "  -> handoff desk -> setup",
        "setup: Next.",
    ]


def _screen(written: str, width: int) -> list[str]:
    """The rows a terminal shows after `written`: text wrapping at `width`, and the few
    controls the command line uses (cursor up, erase line, column); others are dropped."""
    rows: list[list[str]] = [[]]
    row = col = 0
    for token in re.findall(r"\x1b\[\??(\d*)([A-Za-z])|(\n)|(\r)|(.)", written, re.DOTALL):
        count, code, newline, back, char = token
        if newline:
            row, col = row + 1, 0
        elif back:
            col = 0
        elif char:
            if col == width:
                row, col = row + 1, 0
            while len(rows) <= row:
                rows.append([])
            rows[row][col:] = [char]
            rows[row] = rows[row][: col + 1]
            col += 1
        elif code == "A":
            row -= int(count or 1)
        elif code == "K":
            rows[row] = []
        elif code == "G":
            col = int(count or 1) - 1
        while len(rows) <= row:
            rows.append([])
    return ["".join(cells) for cells in rows]


def _gated() -> object:
    attempt = "Great, passing you to verification now."
    kept = "Before we go on, could you tell me your account type?"
    for word in attempt.split(" "):
        yield events.TokenEvent("intake", word + " ")
    yield events.CorrectionEvent("intake", kept)
    yield events.MessageEvent("intake", kept)
    yield events.TokenEvent("intake", "Thanks.")
    yield events.MessageEvent("intake", "Thanks.")


def test_a_corrected_reply_replaces_the_streamed_one_on_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen, width=30, force_terminal=True, color_system=None)

    Conversation(console).turn("Hi", _gated())  # type: ignore[arg-type]

    # The model's attempt filled two rows; the kept reply is written over them, whole.
    rows = [row for row in _screen(screen.getvalue(), 30) if row]
    assert rows == [
        "you: Hi",
        "intake: Before we go on, could",
        " you tell me your account type",
        "?",
        "intake: Thanks.",
    ]


def test_a_corrected_reply_follows_on_its_own_line_in_a_pipe() -> None:
    screen = io.StringIO()

    Conversation(Console(file=screen, width=200)).turn("Hi", _gated())  # type: ignore[arg-type]

    assert [line.rstrip() for line in screen.getvalue().splitlines()[2:]] == [
        "intake: Great, passing you to verification now.",
        "intake (corrected): Before we go on, could you tell me your account type?",
        "intake: Thanks.",
    ]


def test_a_reply_streamed_by_a_step_is_shown_under_its_agents_name() -> None:
    screen = io.StringIO()
    console = Console(file=screen, width=30, force_terminal=True, color_system=None)

    def stream() -> object:
        yield events.TokenEvent("synthesis", "Update the driver.")
        yield events.MessageEvent("support", "Update the driver.")

    Conversation(console).turn("Hi", stream())  # type: ignore[arg-type]

    rows = [row for row in _screen(screen.getvalue(), 30) if row]
    assert rows == ["you: Hi", "support: Update the driver."]
