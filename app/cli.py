"""The `accord` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accord.app.demo import resume_demo, run_demo

cli = typer.Typer(help="accord: multi-agent sessions on LangGraph.", no_args_is_help=True)


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


def main() -> None:
    """Entry point of the `accord` script."""
    cli()
