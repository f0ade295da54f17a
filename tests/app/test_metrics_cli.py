"""`accord metrics`: the reliability table from an events file or the session database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import RetryPolicy
from support import scripted, thread
from typer.testing import CliRunner

from accord.agents import MetricsRecorder, StepEvent, by_agent, by_session, save_steps
from accord.app.cli.main import cli
from accord.graphs import delegation
from accord.persistence import AuditTrail, SessionStore, SQLAlchemySaver

WIDE = {"COLUMNS": "200"}


def _project() -> Any:
    """A coordinator, worker `a` that answers and worker `b` whose model is down."""
    plan = {"subtasks": [{"worker": "a", "task": "one"}, {"worker": "b", "task": "two"}]}
    down = ConnectionError("endpoint down")
    boss = scripted("boss", plan, {"reply": "Half done."})
    workers = [scripted("a", {"result": "ok"}), scripted("b", down)]
    fast = RetryPolicy(max_attempts=1)
    return delegation(boss, workers, retry=fast, checkpointer=InMemorySaver())


async def _recorded(*sessions: str) -> list[StepEvent]:
    recorder = MetricsRecorder()
    for session in sessions:
        config = {**thread(session), "callbacks": [recorder]}
        await _project().ainvoke({"messages": [HumanMessage("Do both parts")]}, config)
    return recorder.log.snapshot()


def _json(output: str) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads(output)
    return figures


async def test_the_table_of_a_recorded_run(tmp_path: Path) -> None:
    recorder = MetricsRecorder()
    config = {**thread("s1"), "callbacks": [recorder]}
    await _project().ainvoke({"messages": [HumanMessage("Do both parts")]}, config)
    path = tmp_path / "events.jsonl"
    recorder.log.dump(path)

    result = CliRunner().invoke(cli, ["metrics", "--events", str(path), "--wide"], env=WIDE)

    assert result.exit_code == 0, result.output
    assert "MTTR" in result.output
    rows = {line.split()[1]: line.split()[2:] for line in result.output.splitlines() if "│" in line}
    assert "per agent" in result.output
    assert "per session" in result.output
    # steps, errors, done %; b failed its only step, so it is down at the end (uptime < 100).
    assert rows["a"][:6] == ["│", "1", "│", "0", "│", "100.0"]
    assert rows["b"][:6] == ["│", "1", "│", "1", "│", "0.0"]
    assert rows["s1"][:6] == ["│", "4", "│", "1", "│", "75.0"]


async def test_the_default_table_fits_80_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(event.to_json() + "\n" for event in await _recorded("s1" * 11)))

    result = CliRunner().invoke(cli, ["metrics", "--events", str(path)], env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "…" not in result.output  # no cell cut short
    header = next(line for line in lines if "steps" in line).split()
    assert header == ["agent", "steps", "errors", "p50", "p95", "uptime", "%", "satisfied", "%"]
    # A 22-character session id stays on one line, whole.
    assert any(line.split()[:3] == ["s1" * 11, "4", "1"] for line in lines)
    assert "--wide for every column" in result.output


def test_minutes_long_steps_keep_a_session_id_on_one_line(tmp_path: Path) -> None:
    session = "4WKyArJn5PpfyoRbBQiuBg"  # 22 characters, as Sessions makes them
    slow = [StepEvent("setup", session, 0.0, end, True) for end in (96.76, 132.61, 0.25)]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(event.to_json() + "\n" for event in slow))

    result = CliRunner().invoke(cli, ["metrics", "--events", str(path)], env={"COLUMNS": "80"})

    row = next(line for line in result.output.splitlines() if line.split()[:1] == [session])
    assert row.split()[1:7] == ["3", "0", "96.8", "s", "129", "s"]


async def test_json_figures_match_the_library(tmp_path: Path) -> None:
    events = await _recorded("s1", "s2")
    path = tmp_path / "events.jsonl"
    path.write_text("".join(event.to_json() + "\n" for event in events))

    args = ["metrics", "--events", str(path), "--json", "--capacity", "b=2"]
    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 0, result.output
    figures = _json(result.output)
    capacities = {"b": 2.0}
    expected = {name: f.to_dict() for name, f in by_agent(events, capacities=capacities).items()}
    assert figures["agent"] == expected
    assert figures["agent"]["b"]["errors"] == 2
    assert figures["session"] == {k: f.to_dict() for k, f in by_session(events).items()}


async def test_steps_saved_in_the_session_database(tmp_path: Path) -> None:
    events = await _recorded("s1", "s2")
    url = f"sqlite:///{tmp_path / 'sessions.sqlite'}"
    with SQLAlchemySaver.from_url(url) as saver:
        for session in ("s1", "s2"):
            SessionStore(saver).create(owner="alice", session_id=session)
        save_steps(AuditTrail(saver), events)

    every = CliRunner().invoke(cli, ["metrics", "--db", url, "--json", "--by", "agent"])
    one = CliRunner().invoke(cli, ["metrics", "--db", url, "--session", "s2", "--json"])

    assert every.exit_code == 0, every.output
    assert _json(every.output) == {
        "agent": {name: f.to_dict() for name, f in by_agent(events).items()}
    }
    assert one.exit_code == 0, one.output
    assert list(_json(one.output)["session"]) == ["s2"]
    assert _json(one.output)["agent"]["boss"]["steps"] == 1
    # A mistyped id is an error, not an empty table that looks like an idle session.
    typo = CliRunner().invoke(cli, ["metrics", "--db", url, "--session", "s2", "--session", "s3"])
    assert typo.exit_code == 2, typo.output
    assert typo.output.splitlines() == [
        f"error: no session 's3' in --db {url}; `accord sessions list --db {url}` lists the "
        "sessions there"
    ]


def test_no_source_or_a_bad_file_exits_2_saying_what_to_do(tmp_path: Path) -> None:
    nothing = CliRunner().invoke(cli, ["metrics"])
    assert nothing.exit_code == 2
    assert "give --events FILE" in nothing.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    broken = CliRunner().invoke(cli, ["metrics", "--events", str(bad)])
    assert broken.exit_code == 2
    assert "bad.jsonl:1 is not a step event" in broken.output
    events = tmp_path / "events.jsonl"
    events.write_text("")
    capacity = CliRunner().invoke(cli, ["metrics", "--events", str(events), "--capacity", "b"])
    assert capacity.exit_code == 2
    assert "must be AGENT=N with N > 0" in capacity.output
