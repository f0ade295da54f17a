"""The `accord` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accord.app.cli.demo import resume_demo, run_demo
from accord.app.cli.evaluate import eval_command
from accord.app.cli.metrics import metrics_command
from accord.app.cli.run import list_examples, run_example
from accord.app.cli.sessions import sessions_app
from accord.app.errors import UnknownExample
from accord.persistence import AccordError

cli = typer.Typer(help="accord: multi-agent sessions on LangGraph.", no_args_is_help=True)


cli.add_typer(sessions_app, name="sessions")


@cli.callback()
def _root() -> None:
    """accord: multi-agent sessions on LangGraph."""


@cli.command()
def demo(
    db: Annotated[Path | None, typer.Option(help="SQLite file for the sessions.")] = None,
    resume: Annotated[
        str | None, typer.Option(help="Resume this demo session id instead of starting one.")
    ] = None,
) -> None:
    """Customer onboarding on the embedded model, then resumed in a new process."""
    if resume is None:
        run_demo(db)
    elif db is None:
        raise typer.BadParameter("--resume needs the --db the session was stored in")
    else:
        resume_demo(db, resume)


@cli.command()
def examples() -> None:
    """Lists the example teams."""
    list_examples()


@cli.command()
def run(
    example: Annotated[str | None, typer.Argument(help="Example name (see --list).")] = None,
    text: Annotated[str | None, typer.Argument(help="Input; default: its sample.")] = None,
    db: Annotated[Path | None, typer.Option(help="SQLite file for the session.")] = None,
    session: Annotated[str | None, typer.Option(help="Session id to use or continue.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the examples.")] = False,
) -> None:
    """Runs an example team on the embedded model."""
    if list_ or example is None:
        list_examples()
        return
    try:
        run_example(example, text, db, session)
    except UnknownExample as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


@cli.command()
def serve(
    graph: Annotated[
        str | None,
        typer.Option(help="package.module:attr, a compiled graph or a zero-argument factory."),
    ] = None,
    example: Annotated[
        str, typer.Option(help="Example team to serve when --graph is not given.")
    ] = "onboarding",
    db: Annotated[str, typer.Option(help="Database URL of the sessions.")] = (
        "sqlite:///accord.sqlite"
    ),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    tokens: Annotated[
        Path | None,
        typer.Option(help='JSON file {"<token>": "user" | {"user": ..., "roles": [...]}}.'),
    ] = None,
) -> None:
    # Rich reads the help text as markup, so the extra's bracket is escaped.
    r"""Serves a graph over HTTP (SSE) with a chat page; needs pip install 'accord\[server]'."""
    try:
        # The server extra is imported only when serving (ServerNotInstalled without it).
        from accord.app.cli.serve import serve as run_server

        run_server(graph=graph, example=example, db=db, host=host, port=port, tokens=tokens)
    except AccordError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


cli.command("eval")(eval_command)
cli.command("metrics")(metrics_command)


def main() -> None:
    """Entry point of the `accord` script."""
    cli()
