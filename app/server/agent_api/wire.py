"""What the Agent Server API's wire asks for: its error shape, its API keys, its JSON.

LangGraph's clients (`langgraph-sdk`, `RemoteGraph`) read errors as `{"detail": "..."}` with
the status (404 for an unknown assistant, thread or run, 409 for a busy thread, 422 for a bad
request), so the Agent Server routes answer that shape instead of accord's
`{"error": {"type", "message"}}`; the statuses are accord's (`responses.status_of`). A client
authenticates with its API key (`x-api-key`, which `get_client(api_key=...)` sends) or a bearer
token: either is a token of the server's token map.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from langchain_core.messages import BaseMessage
from langgraph.types import Interrupt
from pydantic import BaseModel

from accord.app.errors import Unauthorized, server_extra
from accord.app.server.responses import describe, error_body, status_of
from accord.app.server.routes import server
from accord.graphs import User

with server_extra():
    from fastapi import Depends, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from fastapi.routing import APIRoute
    from starlette.exceptions import HTTPException

log = logging.getLogger("accord.app")


def encode(value: Any) -> Any:
    """JSON for what a graph's state holds: messages as LangChain dumps them, models and
    dataclasses as their fields, interrupts as `{"value", "id"}`, anything else as text."""
    if isinstance(value, BaseMessage):
        return value.model_dump()
    if isinstance(value, Interrupt):
        return {"value": value.value, "id": value.id}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def dumps(value: Any) -> str:
    """`value` as JSON text (see `encode`)."""
    return json.dumps(value, default=encode, ensure_ascii=False)


def answer(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response of `value` (state values included)."""
    return Response(dumps(value), status, headers, media_type="application/json")


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The Agent Server API's error: `{"detail": message}`."""
    return answer({"detail": message}, status, headers)


def failure(error: BaseException) -> Response:
    """The response for an error raised by an Agent Server route."""
    if isinstance(error, RequestValidationError):
        return detail(422, describe(error.errors()))
    if isinstance(error, HTTPException):
        return detail(error.status_code, str(error.detail), dict(error.headers or {}))
    status = status_of(error)
    if status >= 500:
        log.exception("an Agent Server API request failed", exc_info=error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return detail(status, error_body(error)["error"]["message"], headers)


class AgentRoute(APIRoute):
    """A route answering errors in the Agent Server API's shape (see the module)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as error:  # every error gets the API's shape; 500s are logged
                return failure(error)

        return route


def caller(request: Request) -> User:
    """The user whose token the request carries (`x-api-key` or `Authorization: Bearer`)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    token = credentials if scheme.lower() == "bearer" else request.headers.get("x-api-key")
    found = server(request).tokens.user(token.strip()) if token else None
    if found is None:
        raise Unauthorized()
    return found


Caller = Annotated[User, Depends(caller)]


def app_state(name: str) -> Callable[[Request], Any]:
    """A dependency giving what `mount` put on the app's state under `name`."""

    def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    return dependency


class Detail(BaseModel):
    """The Agent Server API's error body."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Detail, "description": description}
    for status, description in {
        401: "Missing or unknown API key (`x-api-key`) or bearer token",
        403: "The thread's scope does not allow this",
        404: "No such assistant, thread or run",
        408: "The request body did not arrive in time",
        409: "The thread is busy (multitask strategy `reject`) or already exists",
        413: "Request body too large",
        422: "Invalid request, or an option accord does not support",
        503: "The session database is unavailable or busy",
    }.items()
}
"""The error responses of every Agent Server route (documented, as the schema tests check)."""

STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: metadata, then the run's stream modes (values, "
        "updates, messages, custom), or error",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
