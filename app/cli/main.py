"""The `accord` command line.

Each command imports what it needs when it runs (`sessions`, `metrics` and `eval` are loaded
only when called), so `accord --help` starts no model, database or server library. Failures
print as one or two lines (see `failure`).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer

from accord.app.cli.db import DEFAULT, HELP
from accord.app.cli.failure import Group


class Lazy(NamedTuple):
    """A command defined in a module imported only when the command is used."""

    module: str
    attribute: str
    summary: str


LAZY = {
    "sessions": Lazy(
        "accord.app.cli.sessions", "sessions_app", "List, show, audit, restore and answer sessions."
    ),
    "metrics": Lazy(
        "accord.app.cli.metrics",
        "metrics_command",
        "Reliability per agent and per session: uptime, MTBF, MTTR, latency, errors.",
    ),
    "eval": Lazy(
        "accord.app.cli.evaluate",
        "eval_command",
        "Evaluates a dataset on recorded responses (no model, no network), or records them.",
    ),
    "worker": Lazy(
        "accord.app.cli.worker",
        "worker_command",
        "Runs session turns from a RabbitMQ queue (a fleet; pip install 'accord[scale]').",
    ),
}


class Root(Group):
    """The root group: its own commands, then the lazy ones, listed without importing them."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in LAZY:
            return super().get_command(ctx, cmd_name)
        lazy = LAZY[cmd_name]
        found: Any = getattr(importlib.import_module(lazy.module), lazy.attribute)
        if not isinstance(found, typer.Typer):
            found = _app_of(found, cmd_name)
        return typer.main.get_command(found)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY:
                rows.append((name, LAZY[name].summary))
            elif (command := self.commands[name]) and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 16)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _app_of(function: Any, name: str) -> typer.Typer:
    """A one-command app of `function`, so typer makes its click command."""
    app = typer.Typer(rich_markup_mode=None, add_completion=False)
    app.command(name)(function)
    return app


cli = typer.Typer(
    cls=Root,
    help="accord: multi-agent sessions on LangGraph.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
Db = Annotated[str, typer.Option("--db", metavar="PATH|URL", help=HELP)]


def _version(asked: bool) -> None:
    if asked:
        try:
            typer.echo(f"accord {version('accord')}")
        except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
            typer.echo("accord (not installed: no version)")
        raise typer.Exit()


@cli.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error (ACCORD_DEBUG=1).")
    ] = False,
) -> None:
    """accord: multi-agent sessions on LangGraph.

    Sessions of every command live in one database (--db: an SQLite path or a URL; default
    accord.sqlite), where `accord sessions` and `accord metrics` read them. Traces go where
    OTEL_TRACES_EXPORTER says (console, otlp; none by default).
    """
    from accord.app.cli.tracing import traces_from_env

    traces_from_env()


@cli.command()
def demo(
    db: Annotated[
        str | None,
        typer.Option(metavar="PATH|URL", help="Database of the sessions (default: a new file)."),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Resume this demo session instead of starting one."),
    ] = None,
) -> None:
    """Customer onboarding on the embedded model, then resumed in a new process."""
    from accord.app.cli.demo import resume_demo, run_demo

    if resume is None:
        run_demo(db)
    elif db is None:
        raise typer.BadParameter("--resume needs the --db the session was stored in")
    else:
        resume_demo(db, resume)


@cli.command()
def run(
    team: Annotated[
        str | None,
        typer.Argument(
            metavar="TEAM", help="An example (see --list), or your graph: module:attr, file.py:attr"
        ),
    ] = None,
    text: Annotated[
        str | None,
        typer.Argument(metavar="MESSAGE", help="What to say (an example's sample if omitted)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="Model of every agent of an example: local, openai:NAME, ollama:NAME.",
        ),
    ] = None,
    db: Db = DEFAULT,
    session: Annotated[
        str | None, typer.Option(metavar="ID", help="Continue this session instead of a new one.")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the examples and exit.")] = False,
) -> None:
    """Sends a message to a team, in a session; replies stream as the agents write them."""
    from accord.app.cli.db import database_url
    from accord.app.cli.run import console, list_examples, run_team
    from accord.app.cli.teams import is_path

    if list_ or team is None:
        list_examples()
        return
    if model is not None and is_path(team):
        raise typer.BadParameter("--model applies to the examples; your graph names its models")
    session_id = run_team(
        team, text, db=database_url(db), session=session, model=model, typed_db=db
    )
    console.print(f"[dim]accord sessions show {session_id} --db {db}[/]")


@cli.command(hidden=True)
def examples() -> None:
    """Lists the example teams (the same as `accord run --list`)."""
    from accord.app.cli.run import list_examples

    list_examples()


graph_app = typer.Typer(help="Show a team's graph.", no_args_is_help=True, rich_markup_mode=None)
cli.add_typer(graph_app, name="graph")


@graph_app.command("show")
def graph_show(
    team: Annotated[
        str,
        typer.Argument(metavar="TEAM", help="An example, or your graph: module:attr, file.py:attr"),
    ],
    png: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Also draw it as a PNG (needs mmdc or pygraphviz)."),
    ] = None,
) -> None:
    """Prints a team's graph as Mermaid (paste it into a Markdown file or mermaid.live)."""
    from accord.app.cli.picture import mermaid, write_png

    typer.echo(mermaid(team))
    if png is not None:
        renderer = write_png(team, png)
        typer.echo(f"drawn by {renderer} into {png}", err=True)


@cli.command()
def serve(
    graph: Annotated[
        str | None,
        typer.Option(metavar="MODULE:ATTR", help="Your graph: module:attr or file.py:attr."),
    ] = None,
    example: Annotated[
        str, typer.Option(metavar="NAME", help="Example team to serve when --graph is not given.")
    ] = "onboarding",
    db: Db = DEFAULT,
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option(metavar="PORT", min=1, max=65535, help="Port to listen on.")
    ] = 8000,
    tokens: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help='JSON file {"<token>": "user" | {"user": ..., "roles": [...]}}.'
        ),
    ] = None,
    broker: Annotated[
        str | None,
        typer.Option(metavar="AMQP_URL", help="Enqueue turns for `accord worker`s (RabbitMQ)."),
    ] = None,
    redis: Annotated[
        str, typer.Option(metavar="REDIS_URL", help="With --broker: where turns' events stream.")
    ] = "redis://127.0.0.1:6379/0",
    prefix: Annotated[
        str, typer.Option(metavar="NAME", help="With --broker: the fleet's queue/key prefix.")
    ] = "accord",
) -> None:
    """Serves a graph over HTTP (SSE) with a chat page; needs pip install 'accord[server]'."""
    from accord.app.cli.db import database_url

    url = database_url(db, memory=True)
    # The server extra is imported only when serving (ServerNotInstalled without it).
    from accord.app.cli.serve import serve as run_server

    fleet = (broker, redis, prefix) if broker else None
    run_server(
        graph=graph, example=example, db=url, host=host, port=port, tokens=tokens, fleet=fleet
    )


def main() -> None:
    """Entry point of the `accord` script."""
    cli()
