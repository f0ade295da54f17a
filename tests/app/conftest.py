"""Fixtures of the server tests: a scripted team and real uvicorn servers on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from langchain_core.messages import BaseMessage

from accord.agents import Agent, ScriptedModel
from accord.app.server.asgi import create_app
from accord.app.server.auth import Tokens
from accord.graphs import Sessions, handoff

TOKENS = {
    "alice-token": {"user": "alice", "roles": ["support"]},
    "bob-token": "bob",
    "carol-token": {"user": "carol", "roles": ["auditor"]},
    "ops-token": {"user": "ops", "roles": ["accord:operator"]},
}
"""The token map every test server uses."""


def _echo(messages: list[BaseMessage]) -> dict[str, str]:
    return {"reply": f"Support here: you said {messages[-1].text}", "handoff_to": "none"}


def team(latency: float = 0.0) -> Any:
    """intake greets and hands off to support, which answers every later message.

    Both models cycle, so a session takes any number of messages; `latency` slows support.
    """
    intake = ScriptedModel(
        [{"reply": "Welcome! Passing you to support.", "handoff_to": "support"}], cycle=True
    )
    support = ScriptedModel([_echo], cycle=True, latency=latency)
    return handoff(
        [
            Agent(name="intake", description="Greets customers.", models=(intake,)),
            Agent(name="support", description="Answers questions.", models=(support,)),
        ]
    )


@dataclass
class Live:
    """A uvicorn server running in a thread of the test process."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the server did not stop"


def start(app: Any) -> Live:
    """Serves `app` with uvicorn on a free 127.0.0.1 port until `stop()`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start; see the log above")
        threading.Event().wait(0.01)
    return Live(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'sessions.sqlite'}"


@pytest.fixture
def serve(db: str) -> Iterator[Callable[..., str]]:
    """Starts servers (stopped after the test); default: `team(latency)` on `db`."""
    running: list[Live] = []

    def _serve(
        graph: Any = None,
        *,
        latency: float = 0.0,
        database: str = db,
        ping: float = 15.0,
        body_timeout: float = 30.0,
        sessions: Sessions | None = None,
        broker: Any = None,
    ) -> str:
        app = create_app(
            None if sessions is not None else graph if graph is not None else team(latency),
            tokens=Tokens.parse(TOKENS),
            db=database,
            ping=ping,
            body_timeout=body_timeout,
            sessions=sessions,
            broker=broker,
        )
        live = start(app)
        running.append(live)
        return live.url

    yield _serve
    for live in running:
        live.stop()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Starts `python <args(port)>` as a child server on a free port; its URL once healthy.

    The children are stopped with SIGTERM (a graceful uvicorn shutdown) after the test.
    """
    children: list[subprocess.Popen[str]] = []

    def _spawn(args: Callable[[int], list[str]], env: dict[str, str]) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        command = [sys.executable, *args(port)]
        child = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        children.append(child)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if child.poll() is not None:
                assert child.stderr is not None
                raise RuntimeError(f"{command} exited: {child.stderr.read()[-2000:]}")
            try:
                httpx.get(f"{url}/healthz").raise_for_status()
                return url
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"{command} did not come up in 60 s"
                time.sleep(0.1)

    yield _spawn
    for child in children:
        child.terminate()
        child.wait(timeout=60)
        assert child.stderr is not None
        child.stderr.close()
