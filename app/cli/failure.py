"""How the `accord` command fails: one or two plain lines and a non-zero exit, not a traceback.

Every `AccordError` names the problem and what to do; the command prints its message (and a
hint where the setting at fault is known) and exits 2 (3 when the user is not allowed; 1 for
an error that is not accord's, with a pointer to `--debug`).
A model server that cannot be reached is named by its URL. `--debug` (or `ACCORD_DEBUG=1`)
lets the traceback through instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperGroup

DEBUG_HINT = "(run with --debug for the traceback)"


class Group(TyperGroup):
    """The root command: runs a command and turns what it raises into a short message."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            typer.echo("\ninterrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as error:
            if _cli_own(error) or ctx.params.get("debug") or os.environ.get("ACCORD_DEBUG") == "1":
                raise
            lines, code = explain(error)
            for line in lines:
                typer.echo(line, err=True)
            raise typer.Exit(code) from None


def _cli_own(error: Exception) -> bool:
    """Exits, aborts and usage errors, which the command line library reports itself."""
    usage = hasattr(error, "exit_code") and hasattr(error, "show")  # its ClickException
    return usage or isinstance(error, typer.Exit | typer.Abort)


def explain(error: BaseException) -> tuple[list[str], int]:
    """The lines to print for `error`, and the exit code."""
    from accord.graphs import NotAuthorized
    from accord.persistence import AccordError

    known = next((e for e in _chain(error) if isinstance(e, AccordError)), None)
    if known is not None:
        code = 3 if isinstance(known, NotAuthorized) else 2
        return [f"error: {_message(known)}", *_hints(error)], code
    unreachable = _unreachable(error)
    if unreachable is not None:
        return [f"error: cannot reach the model server at {unreachable}", *_hints(error)], 1
    if isinstance(error, ValueError):
        return [f"error: {error}"], 2
    return [f"error: {type(error).__name__}: {error}", DEBUG_HINT], 1


def _message(error: BaseException) -> str:
    from accord.app.errors import busy
    from accord.persistence import SessionBusy

    if isinstance(error, SessionBusy):
        return busy(error.session_id)
    text = str(error).strip()
    if isinstance(error, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]  # KeyError's str() quotes its argument
    return " ".join(text.split()) or type(error).__name__


def _hints(error: BaseException) -> list[str]:
    """What to check, where a setting is known to be behind `error`."""
    from accord.agents import ModelError
    from accord.app.errors import TeamFailed

    connection = isinstance(error, TeamFailed) and any("Connection" in e for e in error.errors)
    model = any(isinstance(e, ModelError) for e in _chain(error))
    if not connection and not model and _unreachable(error) is None:
        return []
    url = os.environ.get("ACCORD_LOCAL_URL")
    if url:
        return [
            f"hint: ACCORD_LOCAL_URL={url} says the model server runs there; start it, "
            "or unset ACCORD_LOCAL_URL to use the embedded model"
        ]
    return []


def _unreachable(error: BaseException) -> str | None:
    """The URL of a server that refused or timed out a connection, if that is what failed."""
    kinds = _connection_errors()
    for cause in _chain(error):
        if isinstance(cause, kinds):
            try:
                return str(cause.request.url)  # type: ignore[attr-defined]
            except RuntimeError:  # an httpx error raised without its request
                return None
    return None


def _connection_errors() -> tuple[type[BaseException], ...]:
    """httpx's and openai's connection errors, of those libraries already loaded: one not loaded
    raised nothing, and loading it (openai: half a second) would slow every error message."""
    kinds = (("httpx", "TransportError"), ("openai", "APIConnectionError"))
    return tuple(getattr(sys.modules[name], kind) for name, kind in kinds if name in sys.modules)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and its causes, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
