"""Adds the Agent Server API to an app: its routes, its assistant and its runs."""

from __future__ import annotations

from collections.abc import Callable

from accord.app.errors import server_extra
from accord.app.server.agent_api.assistants import Assistant, assistants_api
from accord.app.server.agent_api.book import RunBook
from accord.app.server.agent_api.runs import runs_api
from accord.app.server.agent_api.threads import threads_api
from accord.graphs import Sessions

with server_extra():
    from fastapi import FastAPI


def mount(app: FastAPI, sessions: Sessions, graph_id: str, seen: Callable[[str], None]) -> RunBook:
    """Serves the Agent Server API on `app` for `sessions`' graph, named `graph_id`; returns
    the runs, which the app closes when it stops. `seen` counts each event kind of a run in
    the server's metrics, as for accord's own routes."""
    app.state.assistant = Assistant(graph_id)
    app.state.run_book = book = RunBook(sessions, seen)
    for router in (assistants_api, threads_api, runs_api):
        app.include_router(router)
    return book
