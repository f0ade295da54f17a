"""`accord serve`: any compiled graph (or an example team) over HTTP, with its chat page."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from langgraph.pregel import Pregel
from rich.console import Console

from accord.app.errors import GraphNotFound, server_extra
from accord.app.server.asgi import DEFAULT_DB, create_app
from accord.app.server.auth import Tokens
from accord.evals import EXAMPLES

with server_extra():
    import uvicorn

console = Console(stderr=True)


def load_graph(path: str) -> Pregel[Any, Any, Any, Any]:
    """The compiled graph `package.module:attr` names.

    `attr` is a compiled graph, or a callable taking no arguments that returns one; dots in it
    reach into objects (`module:teams.support`).

    Raises:
        GraphNotFound: The module or attribute is missing, or is not a compiled graph.
    """
    module_name, colon, attr = path.partition(":")
    if not colon or not module_name or not attr:
        raise GraphNotFound(f"--graph {path!r}: write it as package.module:attribute")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise GraphNotFound(
            f"--graph {path!r}: cannot import {module_name!r} ({error}); is it on PYTHONPATH?"
        ) from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise GraphNotFound(f"--graph {path!r}: {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not isinstance(target, Pregel) and callable(target):
        target = target()
    if not isinstance(target, Pregel):
        raise GraphNotFound(
            f"--graph {path!r} is a {type(target).__name__}, not a compiled graph; point it at "
            "a graph (builder.compile()) or a function returning one"
        )
    return target


def example_graph(name: str) -> Pregel[Any, Any, Any, Any]:
    """An example team on the embedded model.

    Raises:
        GraphNotFound: `name` is not an example; the message lists them.
    """
    if name not in EXAMPLES:
        raise GraphNotFound(f"unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}")
    graph: Pregel[Any, Any, Any, Any] = EXAMPLES[name].build()
    return graph


def serve(
    *,
    graph: str | None = None,
    example: str = "onboarding",
    db: str = DEFAULT_DB,
    host: str = "127.0.0.1",
    port: int = 8000,
    tokens: Path | None = None,
) -> None:
    """Runs the server until interrupted.

    Tokens come from `tokens`, else `ACCORD_TOKENS`; with neither, one random token for user
    `local` is made and printed, with a link that signs the page in.

    Raises:
        GraphNotFound: `graph` or `example` names no graph.
        TokenFileError: The token map is invalid.
    """
    served = load_graph(graph) if graph else example_graph(example)
    token_map = Tokens.load(tokens) if tokens else Tokens.from_env()
    shown = f"http://{host}:{port}/"
    if token_map is None:
        token_map, token = Tokens.single()
        console.print(f"no --tokens or ACCORD_TOKENS: user 'local' has token [bold]{token}[/]")
        shown += f"#token={token}"
    console.print(f"serving {graph or example} ({db}); chat page: {shown}")
    app = create_app(served, tokens=token_map, db=db)
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("ACCORD_LOG_LEVEL", "info"))
