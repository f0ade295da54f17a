"""`accord sessions answer`: a paused session answered from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from accord.app.cli.main import cli

runner = CliRunner()

TEAM = """
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt


def clerk(state: MessagesState) -> dict[str, Any]:
    answer = interrupt({"type": "refund", "question": "Refund 120 EUR?"})
    text = {True: "Refunded.", False: "No refund."}.get(answer, f"Noted: {answer}")
    return {"messages": [AIMessage(text, name="clerk")]}


graph = StateGraph(MessagesState).add_node("clerk", clerk).add_edge(START, "clerk")
graph = graph.add_edge("clerk", END).compile()
"""


def _paused(tmp_path: Path) -> tuple[str, str, str]:
    (tmp_path / "refunds.py").write_text(TEAM)
    team, db = f"{tmp_path / 'refunds.py'}:graph", str(tmp_path / "s.sqlite")
    ran = runner.invoke(cli, ["run", team, "Refund me", "--db", db])
    assert ran.exit_code == 0, ran.output
    assert "Refund 120 EUR?" in ran.output
    assert "accord sessions answer" in ran.output  # how to go on
    listed = runner.invoke(cli, ["sessions", "list", "--db", db, "--status", "paused"])
    [session_id] = [w for w in listed.output.split() if len(w) == 22]
    return team, db, session_id


def test_a_paused_session_is_approved_and_the_reply_printed(tmp_path: Path) -> None:
    team, db, session_id = _paused(tmp_path)
    answered = runner.invoke(
        cli, ["sessions", "answer", session_id, "--team", team, "--db", db, "--approve"]
    )
    assert answered.exit_code == 0, answered.output
    assert "Refund 120 EUR?" in answered.output  # the question, then the answer's run
    assert "clerk: Refunded." in answered.output
    trail = runner.invoke(cli, ["sessions", "audit", session_id, "--db", db])
    assert "answered" in trail.output
    assert "approved=True" in trail.output

    # Answered: asking it again is a typed error, not a traceback.
    again = runner.invoke(cli, ["sessions", "answer", session_id, "--team", team, "--db", db, "x"])
    assert again.exit_code == 2
    assert again.output.startswith("error: session")
    assert "asks no question" in again.output
    assert "Traceback" not in again.output


def test_a_text_answer_and_the_errors_of_a_bad_one(tmp_path: Path) -> None:
    team, db, session_id = _paused(tmp_path)
    args = ["sessions", "answer", session_id, "--team", team, "--db", db]
    neither = runner.invoke(cli, args)
    assert neither.exit_code == 2
    assert "--approve or --reject" in neither.output
    empty = runner.invoke(cli, [*args, "  "])
    assert (empty.exit_code, empty.output.splitlines()[0]) == (
        2,
        "error: the answer is empty: say something, or use --approve / --reject",
    )
    unknown = runner.invoke(cli, ["sessions", "answer", "nope", "--team", team, "--db", db, "ok"])
    assert unknown.exit_code == 2
    assert "no session 'nope' in --db" in unknown.output
    missing = runner.invoke(cli, ["sessions", "answer", session_id, "--db", db, "ok"])
    assert missing.exit_code == 2
    assert "--team" in missing.output

    answered = runner.invoke(cli, [*args, "only half of it"])
    assert answered.exit_code == 0, answered.output
    assert "clerk: Noted: only half of it" in answered.output
