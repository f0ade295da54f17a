"""The typed errors of accord.app: each says what was wrong and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from accord.persistence import AccordError

INSTALL_SERVER = "pip install 'accord[server]'"
SERVER_PACKAGES = frozenset({"fastapi", "starlette", "uvicorn", "prometheus_client"})
"""The top-level packages the `server` extra brings that accord.app.server imports."""


class ServerNotInstalled(AccordError, ImportError):
    """`accord serve` and accord.app.server need the `server` extra, which is not installed."""


class UnknownExample(AccordError, ValueError):
    """The example name is not in the registry."""


class GraphNotFound(AccordError, ValueError):
    """`--graph` does not name a compiled graph; the message says what was found instead."""


class WrongTeam(AccordError, ValueError):
    """`--session` names a session another team ran: its agent is not one of this team's."""


class TokenFileError(AccordError, ValueError):
    """The token map could not be read; the message says where and how to fix it."""


class Unauthorized(AccordError):
    """A request without a bearer token, or with one the server does not know (HTTP 401)."""

    def __init__(self) -> None:
        super().__init__("send 'Authorization: Bearer <token>' with a token the server knows")


class BadDatabase(AccordError, ValueError):
    """`--db` is neither a database URL nor a usable path; the message echoes what was typed."""


class DatabaseNotFound(BadDatabase):
    """A command that only reads was pointed at an SQLite file that does not exist.

    Read commands never create a database: check the path, or run a team there first.
    """


class EmptyInput(AccordError, ValueError):
    """The message for the team is empty: there is nothing to answer."""


class TeamFailed(AccordError):
    """Every agent step of a turn failed, so the team answered nothing; the message says why."""

    def __init__(self, message: str, errors: list[str]) -> None:
        """`errors`: the failed steps' error names (`OpenAIConnectionError`, ...)."""
        super().__init__(message)
        self.errors = errors


class RendererMissing(AccordError):
    """A picture of a graph was asked for, but no renderer is installed (the message says which)."""


class NothingToMeasure(AccordError):
    """`accord metrics` was given no source of step events."""


class BadEvalArguments(AccordError, ValueError):
    """`accord eval` was given a DATASET and --from-feedback, or neither, or lacks an option."""


class BadCapacity(AccordError):
    """A `--capacity` option is not `AGENT=N` with N > 0."""


class CannotListen(AccordError, OSError):
    """`accord serve` cannot listen where it was told: the port is taken, the host unknown."""


class UnknownAgentId(AccordError, LookupError):
    """An Agent Server API request names an assistant or run this server does not have (404)."""


class ApiError(AccordError):
    """The server refused a request; `status`, `type` and `message` come from its error body."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        """Say what the server answered."""
        super().__init__(f"{status} {kind}: {message}")
        self.status = status
        self.type = kind
        self.message = message


@contextmanager
def server_extra() -> Iterator[None]:
    """Turns a missing package of the `server` extra, imported in the block, into an error.

    Raises:
        ServerNotInstalled: The block imported a package of the extra that is not installed;
            the message names the `pip install` that brings it.
    """
    try:
        yield
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in SERVER_PACKAGES:
            raise
        raise ServerNotInstalled(
            f"the HTTP server needs {error.name!r}, which is not installed. "
            f"Install it with: {INSTALL_SERVER}"
        ) from None


class TracesNotInstalled(AccordError, ImportError):
    """`OTEL_TRACES_EXPORTER` names an exporter whose package is not installed."""


class UnknownTraceExporter(AccordError, ValueError):
    """`OTEL_TRACES_EXPORTER` names an exporter accord does not know (console, otlp, none)."""


def busy(session_id: str) -> str:
    """What the command line and the server say of a busy session: `SessionBusy`'s own message
    advises `wait=`, an argument of the Python API, and names the lease holder's host."""
    return f"session {session_id!r} is busy: a turn runs on it now; send again once it has ended"
