"""The ASGI app: the session API, its chat page, `/metrics`, `/healthz` and `/openapi.json`.

Example:
    ```python
    from accord.app import Tokens
    from accord.app.server.asgi import create_app

    app = create_app(graph, db="sqlite:///chat.db", tokens=Tokens.load(Path("tokens.json")))
    # uvicorn.run(app)  — or `accord serve --graph mymodule:graph`
    ```
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.pregel import Pregel

from accord.agents import MetricsRecorder, Reliabilities
from accord.app.errors import server_extra
from accord.app.server import responses
from accord.app.server.agent_api.mount import mount
from accord.app.server.auth import Tokens
from accord.app.server.prometheus import CONTENT_TYPE, Measure, Metrics
from accord.app.server.routes import Me, Server, api, counter
from accord.app.server.routes_answer import answer_api
from accord.app.server.routes_feedback import feedback_api
from accord.app.server.routes_fleet import fleet_api
from accord.app.server.schemas import Health
from accord.app.server.sse import Runs
from accord.graphs import OPERATOR, Broker, Sessions

with server_extra():
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, Response
    from fastapi.staticfiles import StaticFiles

PAGE = Path(__file__).parent / "page"
DEFAULT_DB = "sqlite:///accord.sqlite"
MAX_BODY_BYTES = 64 * 1024
"""Request bodies above this get 413 (a message is at most `MAX_MESSAGE_CHARS` anyway)."""


def create_app(
    graph: Pregel[Any, Any, Any, Any] | None = None,
    *,
    tokens: Tokens,
    db: str = DEFAULT_DB,
    sessions: Sessions | None = None,
    ping: float = 15.0,
    grace: float = 30.0,
    title: str = "accord",
    body_timeout: float = 30.0,
    broker: Broker | str | None = None,
    graph_id: str | None = None,
) -> FastAPI:
    """Builds the server for one graph.

    Args:
        graph: The compiled graph to serve (its checkpointer is replaced by `db`'s).
        tokens: Which user each bearer token stands for.
        db: Database URL of the sessions (ignored when `sessions` is given).
        sessions: A `Sessions` to serve instead of making one (the caller closes it); the
            reliability metrics come from a `MetricsRecorder` among its callbacks, if any.
        ping: Seconds of silence on a stream before a keep-alive comment.
        grace: Seconds a stopping server lets runs in progress finish before cancelling them.
        title: The API's title in its OpenAPI schema.
        body_timeout: Seconds a request body may take to arrive before a 408.
        broker: Enqueue turns on a fleet of workers (`accord worker`) instead of running them
            here: a RabbitMQ URL or a `Broker`. Any replica then streams any session's turns.
        graph_id: The graph's name in the Agent Server API (default: the graph's own name).

    Raises:
        ValueError: Neither or both of `graph` and `sessions` were given.
    """
    if (graph is None) == (sessions is None):
        raise ValueError("create_app needs a graph, or a Sessions, but not both")
    owned = sessions is None
    if sessions is None:
        assert graph is not None
        sessions = Sessions(graph, db=db, callbacks=[MetricsRecorder()], broker=broker)
    recorder = next((c for c in sessions.callbacks if isinstance(c, MetricsRecorder)), None)
    shared = Server(
        sessions=sessions,
        tokens=tokens,
        runs=Runs(),
        metrics=Metrics(Reliabilities(recorder.log) if recorder else None),
        ping=ping,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await shared.runs.aclose(grace)
        await agent_runs.aclose(grace)
        if owned:
            await shared.sessions.aclose()

    app = FastAPI(
        title=title,
        summary="Multi-agent sessions over HTTP: open, send (streamed as SSE), read, audit.",
        version="1",
        lifespan=lifespan,
    )
    app.state.accord = shared
    responses.install(app)
    app.include_router(api)
    app.include_router(feedback_api)
    app.include_router(answer_api)
    app.include_router(fleet_api)
    agent_runs = mount(app, sessions, graph_id or sessions.graph.name, counter(shared))
    shared.metrics.in_progress.set_function(lambda: len(shared.runs) + agent_runs.running())
    app.add_middleware(responses.BodyLimit, limit=MAX_BODY_BYTES, timeout=body_timeout)
    app.add_middleware(Measure, metrics=shared.metrics)

    @app.get("/healthz", response_model=Health, tags=["ops"], summary="Liveness")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/metrics",
        response_class=Response,
        tags=["ops"],
        summary="Prometheus metrics (bearer token; per-session series for operators only)",
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics(me: Me) -> Response:
        """Needs a bearer token; only operators see the per-session series (session ids)."""
        exposition = shared.metrics.exposition(sessions=OPERATOR in me.roles)
        return Response(exposition, media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(PAGE / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/page", StaticFiles(directory=PAGE), name="page")
    return app
