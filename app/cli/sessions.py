"""`accord sessions`: list, show, audit and restore the sessions in any accord database.

It acts as an operator (every session, every action, each audited under the operator's name)
unless `--user` says whom to act as, in which case that user's scope applies.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from langchain_core.messages import BaseMessage
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from accord.graphs import OPERATOR, NotAuthorized, Sessions, User
from accord.persistence import AccordError, SessionRecord

T = TypeVar("T")
sessions_app = typer.Typer(help="List, show, audit and restore sessions.", no_args_is_help=True)
console = Console()

Db = Annotated[str, typer.Option("--db", help="Database URL, e.g. sqlite:///accord.sqlite.")]
AsUser = Annotated[
    str | None,
    typer.Option("--user", help="Act as this user (their scope applies); default: operator."),
]


def _user(name: str | None) -> User:
    if name is not None:
        return User(name)
    return User(f"operator:{getpass.getuser()}", roles=frozenset({OPERATOR}))


def _run(db: str, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Runs `work` on a graph-less manager of `db`; typed errors become a message and exit 2."""

    async def main() -> T:
        async with Sessions(None, db=db) as sessions:
            return await work(sessions)

    try:
        return asyncio.run(main())
    except (AccordError, ValueError) as error:
        console.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(2 if not isinstance(error, NotAuthorized) else 3) from None


@sessions_app.command("list")
def list_(
    db: Db,
    user: AsUser = None,
    status: Annotated[str | None, typer.Option(help="Only sessions in this status.")] = None,
) -> None:
    """Lists the sessions (those the user may read, with --user)."""
    records = _run(db, lambda s: s.alist(_user(user), status=status))
    table = Table(title=f"{len(records)} session(s)")
    table.add_column("session", no_wrap=True)  # ids are for copying: never cut
    for column in ("owner", "agent", "status", "tokens", "calls", "updated"):
        table.add_column(column)
    for record in records:
        usage = record.usage
        table.add_row(
            record.session_id,
            record.owner,
            record.agent or "",
            record.status,
            str(usage.get("tokens", 0)),
            str(usage.get("model_calls", 0)),
            _when(record.updated_at),
        )
    console.print(table)


@sessions_app.command()
def show(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    db: Db,
    user: AsUser = None,
) -> None:
    """Shows a session's record and its conversation."""

    async def work(sessions: Sessions) -> tuple[SessionRecord, dict[str, Any]]:
        who = _user(user)
        return await sessions.aget(session_id, who), await sessions.astate(session_id, who)

    record, values = _run(db, work)
    _record(record)
    messages: list[BaseMessage] = values.get("messages", [])
    table = Table(title=f"conversation ({len(messages)} messages)")
    table.add_column("from")
    table.add_column("message", overflow="fold")
    for message in messages:
        speaker = "user" if message.type == "human" else (message.name or message.type)
        table.add_row(speaker, escape(message.text))
    console.print(table)


@sessions_app.command()
def audit(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    db: Db,
    user: AsUser = None,
) -> None:
    """Shows a session's audit trail, oldest first."""
    events = _run(db, lambda s: s.aaudit(session_id, _user(user)))
    table = Table(title=f"audit trail of {session_id}")
    for column in ("#", "at", "event", "actor", "agent", "details"):
        table.add_column(column, overflow="fold")
    for event in events:
        details = ", ".join(f"{k}={v}" for k, v in sorted(event.details.items()))
        table.add_row(
            str(event.id),
            _when(event.at),
            event.kind,
            event.actor or "",
            event.agent or "",
            escape(details),
        )
    console.print(table)


@sessions_app.command()
def restore(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    db: Db,
    at: Annotated[
        datetime | None,
        typer.Option(help="Restore the state as it was at this moment (ISO 8601, UTC if naive)."),
    ] = None,
    checkpoint: Annotated[str | None, typer.Option(help="Restore this checkpoint id.")] = None,
    user: AsUser = None,
) -> None:
    """Makes an earlier state of a session its current state (a new head; history is kept)."""
    if (at is None) == (checkpoint is None):
        raise typer.BadParameter("give exactly one of --at and --checkpoint")
    head = _run(db, lambda s: s.arestore(session_id, _user(user), at=at, checkpoint_id=checkpoint))
    console.print(
        f"restored {session_id}: new head checkpoint {head['configurable']['checkpoint_id']}"
    )


def _record(record: SessionRecord) -> None:
    table = Table(show_header=False, title=f"session {record.session_id}")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    rows = {
        "owner": record.owner,
        "agent": record.agent or "",
        "status": record.status,
        "scope": str(dict(record.scope) or "private"),
        "limits": str(dict(record.limits) or "none"),
        "usage": ", ".join(f"{k}={_number(v)}" for k, v in sorted(record.usage.items())),
        "created": _when(record.created_at),
        "updated": _when(record.updated_at),
    }
    for field, value in rows.items():
        table.add_row(field, escape(value))
    console.print(table)


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
