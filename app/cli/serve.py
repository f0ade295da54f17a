"""`accord serve`: any compiled graph (or an example team) over HTTP, with its chat page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from langgraph.pregel import Pregel
from rich.console import Console

from accord.app.cli import teams
from accord.app.errors import server_extra
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
    """
    served = load_graph(graph) if graph else teams.example(example)
    token_map = Tokens.load(tokens) if tokens else Tokens.from_env()
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
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("ACCORD_LOG_LEVEL", "info"))
