"""`accord serve` as a user runs it (a child process), the token map, and `--graph` loading."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from accord.app import Client
from accord.app.cli.main import cli
from accord.app.cli.serve import load_graph
from accord.app.errors import GraphNotFound, TokenFileError
from accord.app.server.auth import Tokens
from accord.graphs import User

TEAM_MODULE = """
from accord.agents import Agent, ScriptedModel
from accord.graphs import handoff

def build():
    model = ScriptedModel([{"reply": "Hello from the desk.", "handoff_to": "none"}], cycle=True)
    return handoff([Agent(name="desk", description="The front desk.", models=(model,))])

graph = build()
"""


@pytest.fixture
def served(tmp_path: Path, spawn: Callable[..., str]) -> str:
    """`accord serve --graph desk_team:build` in a child process; its base URL."""
    (tmp_path / "desk_team.py").write_text(TEAM_MODULE)
    (tmp_path / "tokens.json").write_text(json.dumps({"t-dana": "dana"}))

    def command(port: int) -> list[str]:
        return [
            *("-m", "accord.app", "serve", "--graph", "desk_team:build"),
            *("--db", f"sqlite:///{tmp_path / 'chat.sqlite'}", "--port", str(port)),
            *("--tokens", str(tmp_path / "tokens.json")),
        ]

    return spawn(command, {"PYTHONPATH": str(tmp_path), "ACCORD_LOG_LEVEL": "warning"})


async def test_accord_serve_serves_a_graph_from_a_python_path(served: str) -> None:
    async with Client(served, "t-dana") as dana:
        session = await dana.open()
        events = await dana.send(session["id"], "Hi")
        history = await dana.history(session["id"])
    async with httpx.AsyncClient(base_url=served) as anonymous:
        refused = await anonymous.get("/api/sessions")

    assert session["owner"] == "dana"
    assert events[-1].data["reply"]["text"] == "Hello from the desk."
    assert [m["text"] for m in history] == ["Hi", "Hello from the desk."]
    assert refused.status_code == 401


def test_load_graph_takes_a_graph_or_a_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "desk_team.py").write_text(TEAM_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))

    from_factory = load_graph("desk_team:build")
    from_graph = load_graph("desk_team:graph")

    assert set(from_factory.nodes) == set(from_graph.nodes) >= {"desk"}
    with pytest.raises(GraphNotFound, match=r"package\.module:attribute"):
        load_graph("desk_team")
    with pytest.raises(GraphNotFound, match="cannot import 'no_such_module'"):
        load_graph("no_such_module:graph")
    with pytest.raises(GraphNotFound, match="has no attribute 'nope'"):
        load_graph("desk_team:nope")
    with pytest.raises(GraphNotFound, match="is a str, not a compiled graph"):
        load_graph("json:__name__")


def test_serve_exits_2_with_the_reason_for_a_bad_graph_or_token_file(tmp_path: Path) -> None:
    bad_graph = CliRunner().invoke(cli, ["serve", "--graph", "no_such_module:graph"])
    (tmp_path / "tokens.json").write_text("{not json")
    bad_tokens = CliRunner().invoke(
        cli, ["serve", "--example", "onboarding", "--tokens", str(tmp_path / "tokens.json")]
    )
    bad_example = CliRunner().invoke(cli, ["serve", "--example", "nope"])

    assert bad_graph.exit_code == 2
    assert "cannot import 'no_such_module'" in bad_graph.output
    assert bad_tokens.exit_code == 2
    assert "is not valid JSON" in bad_tokens.output
    assert bad_example.exit_code == 2
    assert "unknown example 'nope'" in bad_example.output


def test_the_token_map_names_users_and_roles(tmp_path: Path) -> None:
    tokens = Tokens.parse({"a": "alice", "b": {"user": "bob", "roles": ["support"]}})

    assert tokens.user("a") == User("alice")
    assert tokens.user("b") == User("bob", frozenset({"support"}))
    assert tokens.user("c") is None
    assert "a" not in repr(tokens).replace("alice", "")  # tokens never show in logs
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"x": "xavier"}))
    from_file = Tokens.from_env({"ACCORD_TOKENS": str(path)})
    inline = Tokens.from_env({"ACCORD_TOKENS": '{"y": "yara"}'})
    assert from_file is not None
    assert from_file.user("x") == User("xavier")
    assert inline is not None
    assert inline.user("y") == User("yara")
    assert Tokens.from_env({}) is None
    single, token = Tokens.single()
    assert single.user(token) == User("local")
    assert len(token) >= 32


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "non-empty JSON object"),
        ({}, "non-empty JSON object"),
        ({"a": 3}, "a user is"),
        ({"a": {"user": "bob", "roles": "admin"}}, "must be a list"),
        ({"a": " "}, "non-empty string"),
        ({" ": "bob"}, "must not be empty"),
    ],
)
def test_a_bad_token_map_says_what_is_wrong(document: object, problem: str) -> None:
    with pytest.raises(TokenFileError, match=problem):
        Tokens.parse(document)


def test_a_taken_port_is_one_line_and_opens_nothing(tmp_path: Path) -> None:
    db = tmp_path / "chat.sqlite"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use: stop what listens there, or pass --port N"
    ]
    assert not db.exists()
    unknown = CliRunner().invoke(cli, ["serve", "--host", "no-such-host.invalid"])
    assert unknown.exit_code == 2
    assert unknown.output.startswith("error: --host 'no-such-host.invalid' is no address here")


def test_a_port_out_of_range_is_refused_not_wrapped() -> None:
    """99999 would otherwise be bound as 99999 % 65536 = 34463."""
    result = CliRunner().invoke(cli, ["serve", "--port", "99999"])
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output
