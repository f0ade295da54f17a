"""Errors as HTTP responses: every one is `{"error": {"type", "message"}}` with a fitting status.

The typed errors map to 4xx statuses (`Unauthorized` 401, `NotAuthorized` 403, `SessionNotFound`
and `NothingToRestore` 404, `SessionBusy`, `SessionClosed`, `SessionPaused` and `NotPaused` 409,
`BudgetExceeded` 429); request problems to 400, 404, 405, 408, 413 and 422; a refused value (a
bad name) to 422. A database that is down or busy is a 503, any other database error a 500:
their messages name the database, host and user, so the client gets none of it (the server
logs it). Anything else is a 500 whose message hides the details.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from accord.app.errors import Unauthorized, busy, server_extra
from accord.graphs import BudgetExceeded, NotAuthorized, NotPaused, SessionClosed, SessionPaused
from accord.persistence import (
    AccordError,
    DatabaseBusy,
    DatabaseUnavailable,
    NothingToRestore,
    PersistenceError,
    SessionBusy,
    SessionNotFound,
)

with server_extra():
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.datastructures import Headers
    from starlette.exceptions import HTTPException
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("accord.app")

STATUS: dict[type[Exception], int] = {
    Unauthorized: 401,
    NotAuthorized: 403,
    SessionNotFound: 404,
    NothingToRestore: 404,
    SessionBusy: 409,
    SessionClosed: 409,
    SessionPaused: 409,
    NotPaused: 409,
    BudgetExceeded: 429,
    DatabaseUnavailable: 503,
    DatabaseBusy: 503,
}
"""HTTP status of each runtime error (the first match in the error's MRO wins)."""

HTTP_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    408: "RequestTimeout",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "InvalidRequest",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or unknown bearer token"},
    403: {"description": "The session's scope does not allow this"},
    404: {"description": "No such session"},
    413: {"description": "Request body too large"},
    422: {"description": "Malformed JSON or invalid fields"},
}
"""Error responses every session endpoint may give (the body is `ErrorBody`)."""


SAFE = (SessionNotFound, NothingToRestore, SessionBusy)
"""Database-layer errors whose message is about the session, not about the database."""


def status_of(error: BaseException) -> int:
    """The HTTP status for a runtime error: 4xx for the typed ones, 404 for accord's other
    lookup errors, 422 for a value the runtime refused, 503 for a database down or busy, 500
    for other database errors, 400 for other accord errors, 500 for the rest."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    if isinstance(error, AccordError) and isinstance(error, LookupError):
        return 404  # something the request names is not there (`NotAnAnswer`, say)
    if isinstance(error, ValueError):
        return 422
    if isinstance(error, PersistenceError):
        return 500
    if isinstance(error, AccordError) and isinstance(error, ConnectionError):
        return 503  # a service the server needs (RabbitMQ, Redis) is down
    if isinstance(error, AccordError):
        return 400
    return 500


def error_body(error: BaseException) -> dict[str, Any]:
    """The JSON error body for `error` (500s say only that the server failed; database errors
    never show their message, which names the database, its host and user)."""
    status = status_of(error)
    if status == 500:
        return body("InternalError", "the server failed; the details are in its log")
    if status == 503:
        down = (
            "the session database is"
            if isinstance(error, PersistenceError)
            else ("a service the server needs (RabbitMQ or Redis) is")
        )
        return body(type(error).__name__, f"{down} unavailable or busy; retry later")
    if isinstance(error, SessionBusy):
        return body(type(error).__name__, busy(error.session_id))
    if isinstance(error, PersistenceError) and not isinstance(error, (*SAFE, ValueError)):
        return body(type(error).__name__, "the session database refused the request")
    # KeyError subclasses (SessionNotFound) would show their message quoted.
    message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return body(type(error).__name__, message)


def body(kind: str, message: str) -> dict[str, Any]:
    """`{"error": {"type": kind, "message": message}}`."""
    return {"error": {"type": kind, "message": message}}


def install(app: FastAPI) -> None:
    """Makes every error `app` answers use the one JSON error body."""

    async def runtime(request: Request, error: Exception) -> JSONResponse:
        status = status_of(error)
        if status >= 500:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
        # RFC 9110: a 401 names the scheme that would be accepted.
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(error), status, headers)

    async def http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        kind = HTTP_TYPES.get(error.status_code, "HTTPError")
        return JSONResponse(body(kind, str(error.detail)), error.status_code, error.headers)

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return JSONResponse(body("InvalidRequest", describe(error.errors())), 422)

    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(AccordError, runtime)
    # A value the runtime refused (a bad name in a scope): a 422, not a server error.
    app.add_exception_handler(ValueError, runtime)
    # Starlette answers this one and then re-raises it, so the server logs the bug too.
    app.add_exception_handler(Exception, runtime)


def describe(errors: Any) -> str:
    """One line per validation problem: where, and what is wrong."""
    lines = []
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "malformed")
            lines.append(f"the body is not valid JSON ({reason}); send a JSON object")
            continue
        where = ".".join(str(part) for part in error.get("loc", ()))
        what = error.get("msg", "invalid")
        lines.append(f"{where}: {what}" if where else what)
    return "; ".join(lines) or "invalid request"


class BodyLimit:
    """ASGI middleware refusing request bodies over `limit` bytes with 413 and the JSON body,
    and bodies that stop arriving for `timeout` seconds with 408.

    A declared `Content-Length` is refused before the app runs; a body sent without one is
    counted as it arrives, and the `HTTPException` raised from `receive` reaches the handlers
    above through FastAPI's body parsing. A client that declares more than it sends would
    otherwise hold a request open forever (issue 14); once the body is complete, `receive`
    is left alone (a stream waits on it for the client's disconnect).
    """

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request body is over {self.limit} bytes; send a shorter message"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await JSONResponse(body("PayloadTooLarge", message), 413)(scope, receive, send)
            return
        size = 0
        complete = False

        async def counted() -> Message:
            nonlocal size, complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(self.timeout):
                    received = await receive()
            except TimeoutError:
                late = f"the request body did not arrive within {self.timeout:g} s; send it whole"
                raise HTTPException(408, late) from None
            if received["type"] == "http.request":
                size += len(received.get("body", b""))
                complete = not received.get("more_body", False)
                if size > self.limit:
                    raise HTTPException(413, message)
            else:
                complete = True
            return received

        await self.app(scope, counted, send)
