"""`accord sessions`: list, show, audit, restore and answer the sessions in any accord database.

It acts as an operator (every session, every action, each audited under the operator's name)
unless `--user` says whom to act as, in which case that user's scope applies. An operator's
`list` reads the session records directly, without loading the graph layer, so it is quick.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from accord.app.cli.db import DEFAULT, HELP, database_url, listed
from accord.persistence import (
    NothingToRestore,
    SessionRecord,
    SessionStore,
)

if TYPE_CHECKING:  # the graph layer is loaded by the commands that need it
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableConfig

    from accord.graphs import Sessions, User

T = TypeVar("T")
TIMES = ["%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"]
"""What `--at` reads: the times the tables print (UTC), and ISO 8601."""
sessions_app = typer.Typer(
    help="List, show, audit, restore and answer sessions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console()

Db = Annotated[str, typer.Option("--db", metavar="PATH|URL", help=HELP)]
AsUser = Annotated[
    str | None,
    typer.Option(
        "--user", metavar="NAME", help="Act as this user (their scope applies); default: operator."
    ),
]


def _user(name: str | None) -> User:
    from accord.graphs import OPERATOR, User

    if name is not None:
        return User(name)
    return User(f"operator:{getpass.getuser()}", roles=frozenset({OPERATOR}))


def _run(db: str, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Runs `work` on a graph-less manager of the existing database `db` (a path or URL)."""
    from accord.graphs import Sessions

    url = database_url(db, reading=True)

    async def main() -> T:
        async with Sessions(None, db=url) as sessions:
            return await work(sessions)

    with listed(db):
        return asyncio.run(main())


@sessions_app.command("list")
def list_(
    db: Db = DEFAULT,
    user: AsUser = None,
    status: Annotated[
        str | None, typer.Option(metavar="STATUS", help="Only sessions in this status (open, ...).")
    ] = None,
) -> None:
    """Lists the sessions (those the user may read, with --user)."""
    if user is None:
        records = _every(db, status)
    else:
        records = _run(db, lambda s: s.alist(_user(user), status=status))
    # No vertical rules (the box's blank divider is the one space between columns) and a
    # short time, so a row (a whole id included) fits 80 columns.
    table = Table(
        title=f"{len(records)} session(s)", box=box.SIMPLE_HEAD, pad_edge=False, padding=0
    )
    table.add_column("session", no_wrap=True)  # ids are for copying: never cut
    for column in ("owner", "agent", "status"):
        table.add_column(column)
    # Spend: tokens and money (`sessions show` has the model calls and the rest).
    for column in ("tokens", "cost"):
        table.add_column(column, justify="right")
    table.add_column("updated", no_wrap=True)  # UTC
    for record in records:
        usage = record.usage
        table.add_row(
            record.session_id,
            record.owner,
            record.agent or "",
            record.status,
            str(usage.get("tokens", 0)),
            _cost(usage.get("cost")),
            _day_or_time(record.updated_at),
        )
    console.print(table)


def _cost(spent: Any) -> str:
    """What a session's calls cost (in its price table's currency); blank when nothing priced:
    the embedded models cost 0, and a session without prices counts none."""
    if not isinstance(spent, int | float) or spent <= 0:
        return ""
    return f"{spent:.4f}" if spent < 100 else f"{spent:.0f}"


def _every(db: str, status: str | None, page: int = 500) -> list[SessionRecord]:
    """Every session record, for an operator (who may read them all)."""
    found: list[SessionRecord] = []
    store = SessionStore.reading(database_url(db, reading=True))
    try:
        while batch := store.list(status=status, limit=page, offset=len(found)):
            found += batch
            if len(batch) < page:
                break
    finally:
        store.close()
    return found


@sessions_app.command()
def show(
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The session id.")],
    db: Db = DEFAULT,
    user: AsUser = None,
    checkpoints: Annotated[
        int, typer.Option(metavar="N", help="How many of the latest checkpoints to list.")
    ] = 20,
) -> None:
    """Shows a session's record, its conversation and its checkpoints (for restore)."""

    async def work(sessions: Sessions) -> tuple[SessionRecord, dict[str, Any], list[Any]]:
        who = _user(user)
        record = await sessions.aget(session_id, who)  # checks read access first
        config: RunnableConfig = {"configurable": {"thread_id": session_id}}
        points = [p async for p in sessions.saver.alist(config, limit=max(checkpoints, 0))]
        return record, await sessions.astate(session_id, who), points

    record, values, points = _run(db, work)
    _record(record)
    messages: list[BaseMessage] = values.get("messages", [])
    table = Table(title=f"conversation ({len(messages)} messages)")
    table.add_column("from")
    table.add_column("message", overflow="fold")
    for message in messages:
        speaker = "user" if message.type == "human" else (message.name or message.type)
        table.add_row(speaker, escape(message.text))
    console.print(table)
    if checkpoints > 0:
        _checkpoints(session_id, db, points)


def _checkpoints(session_id: str, db: str, points: list[Any]) -> None:
    table = Table(title=f"latest {len(points)} checkpoint(s), newest first")
    table.add_column("checkpoint", no_wrap=True)  # ids are for copying: never cut
    for column in ("at (UTC)", "step", "source"):
        table.add_column(column, no_wrap=True)
    for point in points:
        moment = datetime.fromisoformat(point.checkpoint["ts"])
        table.add_row(
            point.config["configurable"]["checkpoint_id"],
            _when(moment, exact=True),
            str(point.metadata.get("step", "")),
            str(point.metadata.get("source", "")),
        )
    console.print(table)
    console.print(
        f"[dim]accord sessions restore {session_id} --db {escape(db)} --checkpoint ID "
        "(or --at 'TIME') makes that state current again[/]"
    )


@sessions_app.command()
def audit(
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The session id.")],
    db: Db = DEFAULT,
    user: AsUser = None,
) -> None:
    """Shows a session's audit trail, oldest first."""
    events = _run(db, lambda s: s.aaudit(session_id, _user(user)))
    table = Table(title=f"audit trail of {session_id}")
    for column in ("#", "at", "event", "actor", "agent", "details"):
        table.add_column(column, overflow="fold")
    for event in events:
        details = _details(event.kind, event.details)
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
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The session id.")],
    db: Db = DEFAULT,
    at: Annotated[
        datetime | None,
        typer.Option(
            metavar="TIME",
            formats=TIMES,
            help="Restore the state as it was then (as `sessions show` prints it; UTC).",
        ),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Restore this checkpoint (`sessions show` lists them)."),
    ] = None,
    user: AsUser = None,
) -> None:
    """Makes an earlier state of a session its current state (a new head; history is kept)."""
    if (at is None) == (checkpoint is None):
        raise typer.BadParameter("give exactly one of --at and --checkpoint")
    try:
        head = _run(
            db, lambda s: s.arestore(session_id, _user(user), at=at, checkpoint_id=checkpoint)
        )
    except NothingToRestore:
        wanted = f"checkpoint {checkpoint!r}" if checkpoint else f"checkpoint at or before {at}"
        raise NothingToRestore(
            f"session {session_id!r} has no {wanted}; `accord sessions show {session_id} --db "
            f"{db}` lists its checkpoints with their ids and times"
        ) from None
    console.print(
        f"restored {session_id}: new head checkpoint {head['configurable']['checkpoint_id']}"
    )


@sessions_app.command()
def answer(
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The paused session's id.")],
    team: Annotated[
        str,
        typer.Option(
            metavar="TEAM",
            help="The team it runs, as `accord run` took it: an example, module:attr, file.py:attr",
        ),
    ],
    text: Annotated[
        str | None, typer.Argument(metavar="TEXT", help="The answer to its question.")
    ] = None,
    approve: Annotated[
        bool | None,
        typer.Option("--approve/--reject", help="Approve or reject a tool call, instead of TEXT."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="ID", help="Model of every agent of an example.")
    ] = None,
    db: Db = DEFAULT,
    user: AsUser = None,
) -> None:
    """Answers the question a paused session waits on; prints the rest of the run."""
    from accord.app.cli.answer import answer_session
    from accord.app.errors import EmptyInput

    if (text is None) == (approve is None):
        raise typer.BadParameter("give the answer as TEXT, or --approve or --reject")
    if text is not None and not text.strip():
        raise EmptyInput("the answer is empty: say something, or use --approve / --reject")
    reply: Any = approve if text is None else text
    url = database_url(db, reading=True)
    with listed(db):
        answer_session(
            session_id, reply, team=team, db=url, user=_user(user), model=model, typed_db=db
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


def _details(kind: str, details: Mapping[str, Any]) -> str:
    if kind == "step":  # a step event: its outcome and duration, not two epoch floats
        took = float(details["end"]) - float(details["start"])
        outcome = "ok" if details.get("ok") else f"failed: {details.get('error')}"
        return f"{outcome}, {took:.2f} s"
    return ", ".join(f"{k}={v}" for k, v in sorted(details.items()))


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _day_or_time(moment: datetime) -> str:
    """UTC: the time of day for today's moments, else the day (`sessions show` has it whole)."""
    moment = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    today = datetime.now(UTC).date() == moment.date()
    return moment.strftime("%H:%M") if today else moment.strftime("%Y-%m-%d")


def _when(moment: datetime, *, exact: bool = False) -> str:
    """UTC to the millisecond (`exact`: microsecond, as `--at` must read a checkpoint's)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    shown = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return shown if exact else shown[:-3]
