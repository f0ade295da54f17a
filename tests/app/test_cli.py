"""The `accord` command as a user meets it: the real entry point (typer's runner, or a child
process where start-up itself is tested), on scripted teams given as `file.py:attr`."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from accord.agents import Agent, ScriptedModel
from accord.app.cli.main import LAZY, cli
from accord.app.cli.talk import Conversation
from accord.evals.teams import EXAMPLES
from accord.graphs import Sessions, handoff
from accord.persistence import AuditTrail, LeaseStore, SQLAlchemySaver

runner = CliRunner()
TEAM = """
from accord.agents import Agent, ScriptedModel
from accord.graphs import handoff

intake = ScriptedModel([{"reply": "Welcome Dana.", "handoff_to": "desk"}], cycle=True)
desk = ScriptedModel([{"reply": "Noted, thank you.", "handoff_to": "none"}], cycle=True)
team = handoff([
    Agent(name="intake", description="Greets.", models=(intake,)),
    Agent(name="desk", description="Answers.", models=(desk,)),
])

def broken():
    raise RuntimeError("the team's own bug")

def sized(size, *, desk="desk"):
    return team
"""


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user's team in a file of its own, and a working folder to run it from."""
    (tmp_path / "my_team.py").write_text(TEAM)
    monkeypatch.chdir(tmp_path)
    return "my_team.py:team"


def _session_id(output: str) -> str:
    found = re.search(r"session (\S+) ·", output)
    assert found, output
    return found.group(1)


def test_version_and_help_list_every_command() -> None:
    assert runner.invoke(cli, ["--version"]).output.strip() == f"accord {version('accord')}"
    shown = runner.invoke(cli, ["--help"])
    assert shown.exit_code == 0
    for name in ("demo", "run", "serve", "graph", *LAZY):
        assert f"  {name} " in shown.output
    assert "examples" not in shown.output  # an alias of `run --list`, not a second listing


def test_flags_show_no_type_and_db_is_the_same_everywhere() -> None:
    commands = [
        [],
        ["run"],
        ["demo"],
        ["serve"],
        ["graph", "show"],
        ["metrics"],
        ["eval"],
        ["sessions", "list"],
        ["sessions", "show"],
        ["sessions", "audit"],
        ["sessions", "restore"],
    ]
    for command in commands:
        shown = runner.invoke(cli, [*command, "--help"])
        assert shown.exit_code == 0, (command, shown.output)
        assert "<bool>" not in shown.output, (command, shown.output)
        assert "session_id" not in shown.output, (command, shown.output)  # ID, as README says
        if command[:1] in (["run"], ["serve"], ["sessions"], ["metrics"]):
            assert "--db PATH|URL" in shown.output, (command, shown.output)


def test_help_loads_no_model_database_or_server_library() -> None:
    heavy = ["sqlalchemy", "alembic", "langchain_core", "langgraph", "httpx", "fastapi"]
    heavy += ["langchain_openai", "matplotlib", "xllamacpp"]
    probe = (
        "import sys\nfrom accord.app.cli.main import main\nsys.argv = ['accord', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_sessions_list_loads_no_orm_asyncio_package_nor_langgraph(tmp_path: Path) -> None:
    # A read command runs on a sync engine of its own: SQLAlchemy's asyncio package loads its
    # ORM, and the checkpoint saver loads LangGraph and LangChain.
    url = f"sqlite:///{tmp_path / 'listed.db'}"
    with SQLAlchemySaver(url) as saver:
        saver.setup()
    heavy = ("sqlalchemy.orm", "sqlalchemy.ext.asyncio", "langgraph", "langchain_core")
    probe = (
        "import sys\nfrom accord.app.cli.main import main\n"
        f"sys.argv = ['accord', 'sessions', 'list', '--db', {url!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_examples_is_an_alias_of_run_list() -> None:
    listed = runner.invoke(cli, ["run", "--list"])
    assert listed.exit_code == 0
    for name in EXAMPLES:
        assert name in listed.output
    assert runner.invoke(cli, ["examples"]).output == listed.output


def test_run_streams_a_users_team_into_a_session_that_sessions_and_metrics_show(
    team: str, tmp_path: Path
) -> None:
    ran = runner.invoke(cli, ["run", team, "Hi, I'm Dana", "--db", "chats.sqlite"])
    assert ran.exit_code == 0, ran.output
    lines = ran.output.splitlines()
    assert "you: Hi, I'm Dana" in lines
    assert "intake: Welcome Dana. Desk will take it from here." in lines
    assert "  -> handoff intake -> desk" in lines
    assert "desk: Noted, thank you." in lines
    session_id = _session_id(ran.output)

    # The plain path and its URL are the same database.
    url = f"sqlite:///{tmp_path / 'chats.sqlite'}"
    listed = runner.invoke(cli, ["sessions", "list", "--db", url])
    assert session_id in listed.output, listed.output
    trail = runner.invoke(cli, ["sessions", "audit", session_id, "--db", "chats.sqlite"])
    kinds = re.findall(r"│ (opened|message_in|step|message_out|handoff) ", trail.output)
    assert kinds == [
        "opened",
        "message_in",
        "step",
        "message_out",
        "handoff",
        "step",
        "message_out",
    ]
    measured = runner.invoke(cli, ["metrics", "--db", "chats.sqlite", "--by", "agent", "--json"])
    assert measured.exit_code == 0, measured.output
    figures = json.loads(measured.output)["agent"]
    assert {agent: f["steps"] for agent, f in figures.items()} == {"intake": 1, "desk": 1}


def test_run_continues_a_session(team: str) -> None:
    first = runner.invoke(cli, ["run", team, "Hi", "--db", "chats.sqlite"])
    session_id = _session_id(first.output)
    again = runner.invoke(
        cli, ["run", team, "Thanks", "--db", "chats.sqlite", "--session", session_id]
    )
    assert again.exit_code == 0, again.output
    assert _session_id(again.output) == session_id
    shown = runner.invoke(cli, ["sessions", "show", session_id, "--db", "chats.sqlite"])
    assert "conversation (5 messages)" in shown.output
    missing = runner.invoke(cli, ["run", team, "Hi", "--db", "chats.sqlite", "--session", "no"])
    assert missing.exit_code == 2
    assert missing.output.strip() == "error: no session 'no'; check the id or create it first"


def test_a_session_is_continued_only_by_a_team_with_its_agent(team: str, tmp_path: Path) -> None:
    first = runner.invoke(cli, ["run", team, "Hi", "--db", "chats.sqlite"])
    session_id = _session_id(first.output)  # held by desk, after intake's handoff
    other = TEAM.replace('"desk"', '"clerk"').replace('name="desk"', 'name="clerk"')
    (tmp_path / "other_team.py").write_text(other)
    refused = runner.invoke(
        cli, ["run", "other_team.py:team", "Hi", "--db", "chats.sqlite", "--session", session_id]
    )
    assert refused.exit_code == 2, refused.output
    assert f"session {session_id!r} is held by the agent 'desk'" in refused.output
    assert "Traceback" not in refused.output
    shown = runner.invoke(cli, ["sessions", "show", session_id, "--db", "chats.sqlite"])
    assert "conversation (3 messages)" in shown.output  # nothing of the refused message


def test_empty_input_is_an_error_not_a_sample(team: str) -> None:
    empty = runner.invoke(cli, ["run", "credit", "  ", "--db", "chats.sqlite"])
    assert (empty.exit_code, empty.output.strip()) == (
        2,
        "error: the message is empty: say something to the team",
    )
    none = runner.invoke(cli, ["run", team, "--db", "chats.sqlite"])
    assert none.exit_code == 2
    assert "give the message for your graph" in none.output
    assert not Path("chats.sqlite").exists()  # nothing ran


def test_model_option_is_checked(team: str) -> None:
    mine = runner.invoke(cli, ["run", team, "hi", "--model", "local"])
    assert mine.exit_code == 2
    assert "--model applies to the examples" in mine.output
    unknown = runner.invoke(cli, ["run", "credit", "hi", "--model", "nope:x", "--db", "c.sqlite"])
    assert unknown.exit_code == 2
    assert unknown.output.startswith("error: unknown model id 'nope:x'; use one of:")


def test_unknown_team_names_the_examples_and_the_user_forms(team: str) -> None:
    result = runner.invoke(cli, ["run", "nope", "hello"])
    assert result.exit_code == 2
    assert "unknown example 'nope'" in result.output
    assert "credit" in result.output
    assert "module:attr or file.py:attr" in result.output
    factory = runner.invoke(cli, ["run", "my_team.py:sized", "hello"])
    assert factory.exit_code == 2  # not a TypeError from calling it
    assert factory.output.strip() == (
        "error: graph 'my_team.py:sized' is a function that needs size; point it at a graph or "
        "a function of no arguments that returns one"
    )
    no_attr = runner.invoke(cli, ["run", "my_team.py:nope", "hello"])
    assert (
        no_attr.output.strip()
        == "error: graph 'my_team.py:nope': 'my_team.py' has no attribute 'nope'"
    )


def test_read_commands_never_create_a_database(tmp_path: Path) -> None:
    typo = tmp_path / "tpyo.sqlite"
    for command in (
        ["sessions", "list", "--db", str(typo)],
        ["sessions", "show", "x", "--db", f"sqlite:///{typo}"],
        ["metrics", "--db", str(typo)],
    ):
        result = runner.invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: --db {command[-1]!r}: no database file there")
        assert "Traceback" not in result.output
    assert not typo.exists()


def test_an_in_memory_database_is_refused_where_sessions_must_outlive_the_command(
    team: str,
) -> None:
    """`run` would lose the session at exit (and print a hint to read it back that cannot
    work); `sessions` and `metrics` would read an empty database."""
    for command in (
        ["run", team, "hi", "--db", "sqlite://"],
        ["sessions", "list", "--db", "sqlite:///:memory:"],
        ["metrics", "--db", "sqlite+aiosqlite://"],
    ):
        result = runner.invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert result.output.splitlines() == [
            f"error: --db {command[-1]!r} is an in-memory database: it is empty to every new "
            "process and its sessions go when this one exits; give a file (accord.sqlite) or a "
            "server's URL"
        ]


def test_offline_mode_is_one_line_naming_it(tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["run", "credit", "--db", str(tmp_path / "c.sqlite")], env={"ACCORD_OFFLINE": "1"}
    )
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: offline mode is on (ACCORD_OFFLINE=1), so accord will not start the embedded "
        "model server. Use a ScriptedModel or recorded responses, or unset ACCORD_OFFLINE to "
        "allow it."
    ]


@pytest.mark.allow_network_models
@pytest.mark.parametrize("example", ["onboarding", "credit"])
def test_a_dead_local_url_is_named(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handoff team raises; a consensus team records each agent's failure: both are named."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    monkeypatch.delenv("ACCORD_OFFLINE", raising=False)
    monkeypatch.setenv("ACCORD_LOCAL_URL", url)
    result = runner.invoke(cli, ["run", example, "hello", "--db", str(tmp_path / "c.sqlite")])
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith(("error:", "hint:"))]
    assert len(errors) == 2, result.output
    assert url in errors[0]  # the parallel team's failures name it too, not only "Connection"
    assert errors[1].startswith(f"hint: ACCORD_LOCAL_URL={url} says the model server runs there")
    assert "Traceback" not in result.output


def test_other_errors_are_one_line_and_debug_shows_the_traceback(team: str) -> None:
    plain = runner.invoke(cli, ["run", "my_team.py:broken", "hi"])
    assert plain.exit_code == 1
    assert plain.output.splitlines() == [
        "error: RuntimeError: the team's own bug",
        "(run with --debug for the traceback)",
    ]
    debug = runner.invoke(cli, ["--debug", "run", "my_team.py:broken", "hi"])
    assert isinstance(debug.exception, RuntimeError)


def test_graph_show_prints_mermaid(team: str) -> None:
    credit = runner.invoke(cli, ["graph", "show", "credit"])
    assert credit.exit_code == 0, credit.output
    assert "graph TD;" in credit.output
    for node in ("credit_history", "market", "compliance", "tally"):
        assert f"\t{node}({node})" in credit.output
    mine = runner.invoke(cli, ["graph", "show", team])
    assert "\tdesk(desk)" in mine.output


@pytest.mark.skipif(
    bool(shutil.which("mmdc")) or bool(__import__("importlib").util.find_spec("pygraphviz")),
    reason="a renderer is installed here",
)
def test_graph_png_without_a_renderer_says_how_to_get_one(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["graph", "show", "credit", "--png", str(tmp_path / "g.png")])
    assert result.exit_code == 2
    assert "graph TD;" in result.output  # the text still comes first
    assert "error: drawing a PNG needs a local renderer" in result.output
    assert not (tmp_path / "g.png").exists()


def test_a_session_id_never_starts_with_a_dash(team: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`accord sessions show -Gx...` would read the id as an option."""
    tokens = iter(["-Gx4PqNotAnOption00000", "Gx4PqFine000000000000"])
    monkeypatch.setattr("secrets.token_urlsafe", lambda _: next(tokens))
    ran = runner.invoke(cli, ["run", team, "hi", "--db", "chats.sqlite"])
    assert _session_id(ran.output) == "Gx4PqFine000000000000"


def test_the_accord_script_is_installed() -> None:
    script = Path(sys.executable).parent / "accord"
    done = subprocess.run(
        [str(script), "sessions", "list", "--db", "no/such/dir.sqlite"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: --db 'no/such/dir.sqlite': no database file there")


def test_demo_resume_needs_an_existing_database(tmp_path: Path) -> None:
    no_db = runner.invoke(cli, ["demo", "--resume", "abc"])
    assert no_db.exit_code == 2
    assert "--resume needs the --db the session was stored in" in no_db.output
    missing = runner.invoke(cli, ["demo", "--resume", "abc", "--db", str(tmp_path / "x.sqlite")])
    assert missing.exit_code == 2
    assert "no database file there" in missing.output
    assert not (tmp_path / "x.sqlite").exists()


def test_ctrl_c_mid_turn_stops_cleanly_and_keeps_the_session(team: str, tmp_path: Path) -> None:
    """SIGINT while an agent's model call is in flight: one line, exit 130, the run ended
    (audited, its lease given back), and the session goes on at once from what it had."""
    slow = TEAM.replace(
        '"handoff_to": "none"}], cycle=True)', '"handoff_to": "none"}], latency=60)'
    )
    (tmp_path / "slow_team.py").write_text(slow)
    child = subprocess.Popen(
        [sys.executable, "-m", "accord.app", "run", "slow_team.py:team", "Hi", "--db", "c.sqlite"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    assert child.stdout is not None
    shown = ""
    while "-> handoff intake -> desk" not in shown:  # desk's call (60 s) is now in flight
        read = child.stdout.readline()
        assert read, shown
        shown += read
    time.sleep(1)  # in desk's model call, not between two events
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert err.strip() == "interrupted", err
    session_id = re.search(r"session (\S+) keeps what was said", out)
    assert session_id, out
    assert f'accord run slow_team.py:team "..." --session {session_id[1]}' in out
    with SQLAlchemySaver.from_url(f"sqlite:///{tmp_path / 'c.sqlite'}") as saver:
        ended = AuditTrail(saver).events(session_id[1], kinds=["error"])
    assert [event.details for event in ended] == [{"error": "CancelledError"}]
    again = runner.invoke(
        cli, ["run", team, "Still there?", "--db", "c.sqlite", "--session", session_id[1]]
    )
    assert again.exit_code == 0, again.output
    shown_now = runner.invoke(cli, ["sessions", "show", session_id[1], "--db", "c.sqlite"])
    assert "conversation (4 messages)" in shown_now.output, shown_now.output


class _CtrlC(io.StringIO):
    """A terminal on which the user presses Ctrl-C as the handoff line is printed."""

    def write(self, text: str) -> int:
        if "-> handoff" in text:
            raise KeyboardInterrupt
        return super().write(text)


def test_a_turn_stopped_between_two_events_ends_its_run(tmp_path: Path) -> None:
    intake = ScriptedModel([{"reply": "Welcome.", "handoff_to": "desk"}], cycle=True)
    desk = ScriptedModel([{"reply": "Noted.", "handoff_to": "none"}], cycle=True)
    graph = handoff(
        [
            Agent(name="intake", description="Greets.", models=(intake,)),
            Agent(name="desk", description="Answers.", models=(desk,)),
        ]
    )
    with Sessions(graph, db=f"sqlite:///{tmp_path / 'c.sqlite'}") as sessions:
        session = sessions.open("dana")
        stream = session.stream("Hi")  # still referenced, as by the traceback of Ctrl-C
        with pytest.raises(KeyboardInterrupt):
            Conversation(Console(file=_CtrlC())).turn("Hi", stream)
        # Ended with the turn, not when the garbage collector gets to it: the lease is free.
        assert session.send("Still there?").text == "Noted."


def test_a_busy_session_says_so_in_the_commands_terms(team: str, tmp_path: Path) -> None:
    """Not "pass wait=", which is an argument of the Python API."""
    first = runner.invoke(cli, ["run", team, "Hi", "--db", "chats.sqlite"])
    session_id = _session_id(first.output)
    with SQLAlchemySaver.from_url(f"sqlite:///{tmp_path / 'chats.sqlite'}") as saver:
        LeaseStore(saver).acquire(session_id, "box-7:4242:0123abcd", ttl=60)
        busy = runner.invoke(
            cli, ["run", team, "Again", "--db", "chats.sqlite", "--session", session_id]
        )
    assert busy.exit_code == 2, busy.output
    assert busy.output.splitlines()[-1] == (
        f"error: session {session_id!r} is busy: a turn runs on it now; send again once it "
        "has ended"
    )


def test_a_worker_runs_an_example_by_name_as_serve_does(tmp_path: Path) -> None:
    """`accord serve --broker` serves the onboarding example by default: its workers need it."""
    db = str(tmp_path / "w.sqlite")
    typo = runner.invoke(cli, ["worker", "--graph", "onboardin", "--db", db])
    assert typo.exit_code == 2
    assert typo.output.startswith("error: unknown example 'onboardin'; choose one of: onboarding")
    # Past the graph, on to the services (none here).
    down = "amqp://guest:guest@127.0.0.1:1//"
    named = runner.invoke(cli, ["worker", "--graph", "onboarding", "--db", db, "--broker", down])
    assert named.exit_code == 2, named.output
    assert named.output.startswith("error: the broker at amqp://127.0.0.1:1// is unreachable")
