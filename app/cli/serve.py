"""`accord serve`: any compiled graph (or an example team) over HTTP, with its chat page."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Any

from langgraph.pregel import Pregel
from rich.console import Console

from accord.app.cli import teams
from accord.app.errors import CannotListen, server_extra
from accord.app.server.asgi import create_app
from accord.app.server.auth import Tokens
from accord.graphs import Broker

with server_extra():
    import uvicorn

console = Console(stderr=True)


def load_graph(path: str) -> Pregel[Any, Any, Any, Any]:
    """The compiled graph `package.module:attr` (or `file.py:attr`) names (see `teams`).

    Raises:
        GraphNotFound: The module or attribute is missing, or is not a compiled graph.
    """
    return teams.load_graph(path, option="--graph")


def serve(
    *,
    graph: str | None = None,
    example: str = "onboarding",
    db: str = "sqlite:///accord.sqlite",
    host: str = "127.0.0.1",
    port: int = 8000,
    tokens: Path | None = None,
    fleet: tuple[str, str, str] | None = None,
) -> None:
    """Runs the server until interrupted.

    With `fleet` (RabbitMQ URL, Redis URL, prefix), turns are enqueued for `accord worker`s.
    Tokens come from `tokens`, else `ACCORD_TOKENS`; with neither, one random token for user
    `local` is made and printed, with a link that signs the page in.

    Raises:
        GraphNotFound: `graph` names no graph.
        UnknownExample: `example` names no example.
        TokenFileError: The token map is invalid.
        CannotListen: The port is in use, or `host` is no address of this machine.
    """
    served = load_graph(graph) if graph else teams.example(example)
    token_map = Tokens.load(tokens) if tokens else Tokens.from_env()
    # Bound before anything is printed or opened: a taken port is one line, not a log.
    listening = _listen(host, port)
    shown = f"http://{host}:{port}/"
    if token_map is None:
        token_map, token = Tokens.single()
        console.print(f"no --tokens or ACCORD_TOKENS: user 'local' has token [bold]{token}[/]")
        shown += f"#token={token}"
    broker = Broker(fleet[0], redis=fleet[1], prefix=fleet[2]) if fleet else None
    runs = f", turns on the workers of {fleet[2]!r}" if fleet else ""
    console.print(f"serving {graph or example} ({db}{runs}); chat page: {shown}")
    graph_id = graph.rpartition(":")[2] if graph else example
    app = create_app(served, tokens=token_map, db=db, broker=broker, graph_id=graph_id)
    level = os.environ.get("ACCORD_LOG_LEVEL", "info")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=level))
    server.run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port`, as uvicorn would bind it.

    Raises:
        CannotListen: The port is taken, or `host` cannot be bound here.
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CannotListen(f"--host {host!r} is no address here ({error.strerror})") from None
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise CannotListen(
                f"port {port} on {host} is in use: stop what listens there, or pass --port N"
            ) from None
        raise CannotListen(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.set_inheritable(True)
    return sock
