"""`accord metrics`: the reliability table of agents and sessions, from recorded step events.

Two sources, usable together:

- a JSONL events file that a `MetricsRecorder`'s log was dumped to (`log.dump(path)`), the
  quickest way to look at one process's runs;
- the session database's audit trail, where `Sessions` keeps a step event per agent step (on
  by default; `save_steps` adds others), so past sessions of any process can be measured.

With `--broker`, a fleet's figures too: its workers, turns in flight and queued, and the worker
count the predictive forecast recommends (`Broker.recommend`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from accord.agents import (
    Rating,
    Reliability,
    StepEvent,
    by_agent,
    by_session,
    load_steps,
    read_events,
)
from accord.app.cli.db import database_url, listed
from accord.app.errors import BadCapacity, NothingToMeasure
from accord.persistence import AuditTrail, SessionStore, SQLAlchemySaver

if TYPE_CHECKING:
    from accord.graphs import Broker

SCOPES = ("agent", "session")
REDIS = "redis://127.0.0.1:6379/0"


def _capacity(item: str) -> tuple[str, float]:
    agent, _, number = item.partition("=")
    try:
        value = float(number)
    except ValueError:
        value = 0.0
    if not agent or value <= 0:
        raise BadCapacity(f"--capacity {item!r} must be AGENT=N with N > 0, e.g. support=8")
    return agent, value


def show_metrics(
    events: Sequence[Path],
    db: str | None,
    sessions: Sequence[str],
    *,
    by: Sequence[str] = SCOPES,
    capacities: dict[str, float] | None = None,
    as_json: bool = False,
    wide: bool = False,
    fleet: Broker | None = None,
) -> None:
    """Loads step events from the sources given and prints their metrics (`wide`: every
    column; else the key figures, which fit an 80-column terminal), and with `fleet` its
    load and recommended worker count.

    Raises:
        NothingToMeasure: No events file, database or broker was given.
        BadEventsFile: An events file is missing or malformed.
        ServiceUnavailable: The fleet's RabbitMQ or Redis is unreachable.
    """
    if not events and db is None and fleet is None:
        raise NothingToMeasure(
            "give --events FILE (a MetricsRecorder log dumped with log.dump(FILE)), --db "
            "PATH|URL (a session database: the steps of its sessions) or --broker AMQP_URL "
            "(a fleet of workers: its load and recommended size)"
        )
    computed: dict[str, dict[str, Reliability]] = {}
    if events or db is not None:
        steps, ratings = load(events, db, sessions)
        computed = report(steps, by=by, capacities=capacities, ratings=ratings)
    advice = None if fleet is None else fleet.recommend().to_dict()
    console = Console()
    print_report(console, computed, as_json=as_json, wide=wide, fleet=advice)


def metrics_command(
    events: Annotated[
        list[Path] | None,
        typer.Option(
            "--events", metavar="FILE", help="JSONL file of step events (MetricsRecorder log.dump)."
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            metavar="PATH|URL",
            help="Session database (an SQLite path or a URL): the steps its sessions recorded.",
        ),
    ] = None,
    session: Annotated[
        list[str] | None,
        typer.Option(
            "--session", metavar="ID", help="Only these sessions of --db (default: all listed)."
        ),
    ] = None,
    by: Annotated[
        Literal["agent", "session", "both"], typer.Option(help="Which table(s) to print.")
    ] = "both",
    capacity: Annotated[
        list[str] | None,
        typer.Option(metavar="AGENT=N", help="An agent's capacity, for utilisation (default 1)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide", help="Every column (throughput, p99, utilisation, MTBF, MTTR, ...)."
        ),
    ] = False,
    broker: Annotated[
        str | None,
        typer.Option(
            metavar="AMQP_URL", help="A fleet's RabbitMQ: its load and recommended workers."
        ),
    ] = None,
    redis: Annotated[
        str, typer.Option(metavar="REDIS_URL", help="The fleet's Redis (with --broker).")
    ] = REDIS,
    prefix: Annotated[
        str, typer.Option(metavar="NAME", help="The fleet's queue and key prefix.")
    ] = "accord",
) -> None:
    """Reliability per agent and per session: uptime, MTBF, MTTR, latency, throughput, errors."""
    scopes = SCOPES if by == "both" else (by,)
    capacities = dict(_capacity(item) for item in capacity or [])
    fleet = None
    if broker is not None:
        from accord.graphs import Broker

        fleet = Broker(broker, redis=redis, prefix=prefix)
    show_metrics(
        events or [],
        db,
        session or [],
        by=scopes,
        capacities=capacities,
        as_json=as_json,
        wide=wide,
        fleet=fleet,
    )


def load(
    events: Sequence[Path], db: str | None, sessions: Sequence[str]
) -> tuple[list[StepEvent], list[Rating]]:
    """The step events of the files in `events` and, with `db`, the steps and the users'
    ratings of answers kept in the audit trail there (one open of the database).

    With `db` and no `sessions`, every session the database's session records list is read.

    Raises:
        BadEventsFile: An events file is missing or malformed.
        SessionNotFound: A session of `sessions` is not in `db`.
    """
    found: list[StepEvent] = []
    for path in events:
        found += read_events(path)
    if db is None:
        return found, []
    with SQLAlchemySaver.from_url(database_url(db, reading=True)) as saver:
        trail, store, chosen = AuditTrail(saver), SessionStore(saver), sessions or None
        with listed(db):  # a mistyped id would measure nothing and say so as if all were well
            for session_id in sessions:
                store.get(session_id)
        found += load_steps(trail, chosen, store=store)
        return found, Rating.load(trail, chosen, store=store)


def report(
    events: Sequence[StepEvent],
    *,
    by: Sequence[str] = SCOPES,
    capacities: dict[str, float] | None = None,
    ratings: Sequence[Rating] = (),
) -> dict[str, dict[str, Reliability]]:
    """The metrics per scope in `by` ("agent", "session"), with satisfaction from `ratings`."""
    computed: dict[str, dict[str, Reliability]] = {}
    if "agent" in by:
        computed["agent"] = by_agent(events, capacities=capacities, ratings=ratings)
    if "session" in by:
        computed["session"] = by_session(events, ratings=ratings)
    return computed


def print_report(
    console: Console,
    computed: dict[str, dict[str, Reliability]],
    *,
    as_json: bool = False,
    wide: bool = False,
    fleet: dict[str, Any] | None = None,
) -> None:
    """Prints one table per scope (`wide`: every column), or the figures as JSON; `fleet`:
    a fleet's recommendation (`Recommendation.to_dict()`), as a table of its own."""
    if as_json:
        plain: dict[str, Any] = {
            scope: {key: figures.to_dict() for key, figures in groups.items()}
            for scope, groups in computed.items()
        }
        if fleet is not None:
            plain["fleet"] = fleet
        console.print_json(json.dumps(plain))
        return
    if fleet is not None:
        console.print(_fleet_table(fleet))
    for scope, groups in computed.items():
        table = _table(scope, groups, WIDE if wide else NARROW)
        if wide:  # asked for every column: print them whole, past the terminal's width
            unbounded = console.options.update(width=1_000)
            width = Measurement.get(console, unbounded, table).maximum
            whole = Console(file=console.file, width=width, force_terminal=console.is_terminal)
            whole.print(table)
        else:
            console.print(table)
    if not wide and computed:
        console.print("[dim]--wide for every column (p99, throughput, MTBF, MTTR, ...)[/]")


Column = tuple[str, Callable[[Reliability], str]]

NARROW: tuple[Column, ...] = (
    ("steps", lambda f: str(f.steps)),
    ("errors", lambda f: str(f.errors)),
    ("p50", lambda f: _seconds(f.p50)),
    ("p95", lambda f: _seconds(f.p95)),
    ("uptime %", lambda f: _percent(f.uptime)),
    ("satisfied %", lambda f: _percent(f.satisfaction)),
)
"""The key figures: what fits beside a 22-character session id in 80 columns."""

WIDE: tuple[Column, ...] = (
    *NARROW[:2],
    ("done %", lambda f: _percent(f.completion_rate)),
    *NARROW[2:4],
    ("p99", lambda f: _seconds(f.p99)),
    ("per s", lambda f: f"{f.throughput:.3g}"),
    ("util %", lambda f: _percent(f.utilisation)),
    NARROW[4],
    ("failures", lambda f: str(f.failures)),
    ("MTBF", lambda f: _seconds(f.mtbf)),
    ("MTTR", lambda f: _seconds(f.mttr)),
    ("ratings", lambda f: str(f.ratings)),
    NARROW[5],
)


def _table(scope: str, groups: dict[str, Reliability], columns: Sequence[Column]) -> Table:
    narrow = columns is NARROW
    table = Table(
        title=f"per {scope}",
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
        pad_edge=not narrow,
        collapse_padding=narrow,
    )
    # An id folds onto a second line rather than being cut to an unreadable "…".
    table.add_column(scope, overflow="fold")
    for header, _ in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for key, figures in groups.items():
        table.add_row(key, *(cell(figures) for _, cell in columns))
    if not groups:
        table.caption = "no step events and no ratings"
    return table


FLEET: tuple[tuple[str, str], ...] = (
    ("workers", "running"),
    ("in flight", "in_flight"),
    ("queued", "queued"),
    ("expected", "expected"),
    ("per worker", "per_worker"),
    ("turn", "turn_s"),
    ("recommended", "workers"),
)
"""The fleet table's columns and the recommendation's fields they show."""


def _fleet_table(fleet: dict[str, Any]) -> Table:
    """The fleet now and the worker count recommended (`Broker.recommend`)."""
    table = Table(title="fleet", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for header, _ in FLEET:
        table.add_column(header, justify="right", no_wrap=True)
    cells = [f"{fleet[field]:.3g}" for _, field in FLEET]
    cells[5] = _seconds(fleet["turn_s"])
    change = fleet["change"]
    cells[6] += f" ({change:+d})" if change else ""
    table.add_row(*cells)
    return table


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _seconds(value: float | None) -> str:
    """Seconds in a readable unit and at most three significant digits (so at most seven
    characters below 10,000 s: the narrow table's width counts on it); '-' when undefined."""
    if value is None:
        return "-"
    if value < 1:
        return f"{1000 * value:.0f} ms"
    return f"{value:.{2 if value < 10 else 1 if value < 100 else 0}f} s"
