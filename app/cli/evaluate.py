"""`accord eval DATASET`: run an evaluation dataset on recorded responses (or record them).

`accord eval --from-feedback` writes the answers users rated as such a dataset.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from accord.agents import resolve_model
from accord.app.cli.db import HELP, database_url
from accord.app.errors import BadEvalArguments
from accord.evals import (
    EXAMPLES,
    CaseResult,
    Judge,
    RunResult,
    default_evaluators,
    evaluate,
    export_feedback,
    load_dataset,
    load_results,
    print_report,
    write_html,
    write_json,
)

console = Console()


def run_eval(
    dataset: Path,
    *,
    record: bool = False,
    model: str | None = None,
    judge: str | None = None,
    label: str | None = None,
    json_path: Path | None = None,
    html_path: Path | None = None,
    compare_path: Path | None = None,
) -> RunResult:
    """Runs (or records) a dataset with a progress bar, prints the report and writes files.

    Raises:
        AccordError: The dataset or the comparison file could not be read, or the model
            has no recording.
    """
    for option, path in (("--json", json_path), ("--html", html_path)):
        _writable(option, path)
    cases = load_dataset(dataset)
    against = load_results(compare_path) if compare_path is not None else None
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    verb = "recording" if record else "replaying"
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{verb} {cases.name}", total=len(cases.cases))

        evaluators = default_evaluators()
        if judge is not None:
            evaluators.append(Judge(resolve_model(judge)))

        def advance(result: CaseResult) -> None:
            progress.advance(task)

        run = asyncio.run(
            evaluate(
                cases,
                record=record,
                models=(model,) if model else None,
                evaluators=evaluators,
                label=label or model,
                on_case=advance,
            )
        )
    print_report(console, run, against)
    if json_path is not None:
        write_json(run, json_path)
        console.print(f"[dim]results written to {json_path}[/]")
    if html_path is not None:
        write_html(run, html_path, against)
        console.print(f"[dim]HTML report written to {html_path}[/]")
    return run


def _writable(option: str, path: Path | None) -> None:
    """Checks, before a run that may take long, that `path` can be written.

    Raises:
        BadEvalArguments: The folder of `path` does not exist.
    """
    if path is not None and not path.expanduser().resolve().parent.is_dir():
        raise BadEvalArguments(
            f"{option} {path}: the folder {path.expanduser().resolve().parent} does not exist; "
            "create it, or write the file elsewhere"
        )


def feedback_dataset(
    dataset: Path | None, db: str | None, out: Path | None, team: str | None
) -> None:
    """Writes the rated answers of `db` to `out` as cases of `team` (`--from-feedback`).

    Raises:
        BadEvalArguments: A DATASET was given too, or --db, --out or --team is missing.
        NoRatings: The database holds no rated answer; nothing was written.
    """
    if dataset is not None or db is None or out is None or team is None:
        raise BadEvalArguments(
            "--from-feedback takes no DATASET and needs --db PATH|URL (the session database), "
            "--out FILE (the .yaml to write) and --team NAME (the example team the cases run "
            f"on: {', '.join(EXAMPLES)})"
        )
    _writable("--out", out)
    written = export_feedback(database_url(db, reading=True), out, team=team)
    liked = sum("thumbs-up" in case.tags for case in written.cases)
    console.print(
        f"{len(written.cases)} rated answer(s) written to {out} ({liked} thumbs up, "
        f"{len(written.cases) - liked} thumbs down); run them with: accord eval {out} --record"
    )


def eval_command(
    dataset: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DATASET]",
            help="A .yaml or .jsonl dataset of cases, or a shipped one by name (finance, ...).",
        ),
    ] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Run against the model and record cassettes.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="Model of every agent (default: the embedded one); a replay needs the model "
            "it was recorded with.",
        ),
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="Model of an LLM judge for the cases' `judge` criteria (recorded with them).",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(metavar="NAME", help="Name of this run in reports.")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the results as JSON here.")
    ] = None,
    html_path: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Write an HTML report with plots here."),
    ] = None,
    compare_path: Annotated[
        Path | None,
        typer.Option(
            "--compare", metavar="FILE", help="Results JSON of an earlier run to compare with."
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 1 unless every case passes.")
    ] = False,
    from_feedback: Annotated[
        bool,
        typer.Option(
            "--from-feedback",
            help="Write the answers users rated in --db as a dataset (--out), for --team.",
        ),
    ] = False,
    db: Annotated[
        str | None, typer.Option(metavar="PATH|URL", help=f"With --from-feedback: {HELP}")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="With --from-feedback: the .yaml dataset to write."),
    ] = None,
    team: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="With --from-feedback: the example team the cases run on."
        ),
    ] = None,
) -> None:
    """Evaluates a dataset on recorded responses (no model, no network), or records them;
    with --from-feedback, writes the answers users rated as a dataset instead."""
    if from_feedback:
        feedback_dataset(dataset, db, out, team)
        return
    if dataset is None:
        raise BadEvalArguments(
            "give a DATASET to evaluate, or --from-feedback --db PATH|URL --out FILE --team NAME"
        )
    # An AccordError (a missing dataset, a model with no recording) is printed by the root
    # command like every other: `error: ...`, exit 2.
    run = run_eval(
        dataset,
        record=record,
        model=model,
        judge=judge,
        label=label,
        json_path=json_path,
        html_path=html_path,
        compare_path=compare_path,
    )
    if strict and not all(case.passed for case in run.cases):
        raise typer.Exit(1)
