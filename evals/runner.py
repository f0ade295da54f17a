"""The offline runner: each case of a dataset against the real model (record) or its cassette.

Recording runs every case against the model (the embedded default unless `models` says
otherwise) through a vcrpy cassette per case, `<dataset>.cassettes/<case>.yaml`, and stores
each case's wall time in `<dataset>.cassettes/timings.json` so that latency checks give the
same verdict on replay. Replaying needs no model and no network: a request with no recording
fails that case with `MissingRecording` and the run goes on with the next case.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from accord.agents import warm_up
from accord.evals.cassette import cassette
from accord.evals.dataset import Case, Dataset
from accord.evals.errors import MissingRecording
from accord.evals.evaluators import Check, Evaluator, default_evaluators
from accord.evals.results import CaseResult, RunResult
from accord.evals.teams import EXAMPLES
from accord.evals.trace import Trace, trace_of
from accord.graphs import Limits, Meter, Usage

TIMINGS = "timings.json"
"""The file, in the cassettes folder, that holds each case's recorded wall time (seconds)."""

_NO_PLAYBACK = "Can't play back this request"

Progress = Callable[[CaseResult], None]
"""Called after each case with its result (to advance a progress bar)."""


async def evaluate(
    dataset: Dataset,
    *,
    record: bool = False,
    models: Sequence[Any] | None = None,
    evaluators: Sequence[Evaluator] | None = None,
    label: str | None = None,
    on_case: Progress | None = None,
) -> RunResult:
    """Runs every case of `dataset` and checks it.

    Args:
        dataset: The cases.
        record: Run against the model and (over)write each case's cassette; otherwise replay.
        models: The model chain every agent of the example teams uses (e.g. `("local",)`,
            `("openai:gpt-4o-mini",)`); None keeps the examples' default, the embedded model.
        evaluators: The checks; default `default_evaluators()`. They run inside the case's
            cassette, so a `Judge` on a real model is recorded and replayed with the team.
        label: Names the run in reports and comparisons; default the mode.
        on_case: Called with each case's result as it completes.

    Returns:
        The run's results; cases that failed to run carry their error instead of raising.
    """
    checks = list(evaluators) if evaluators is not None else default_evaluators()
    if record and models is None:
        # Start the embedded model outside every cassette: its start-up is no case's latency,
        # and its health probe no case's recording.
        warm_up()
    timings = _read_timings(dataset.cassettes)
    began = time.perf_counter()
    results: list[CaseResult] = []
    unused: list[str] = []
    for case in dataset.cases:
        result, unplayed = await _one(dataset, case, record, models, checks, timings)
        if record:
            _write_timings(dataset.cassettes, timings)
        if unplayed:
            unused.append(f"{case.id}: {unplayed} recorded request(s) not replayed")
        results.append(result)
        if on_case is not None:
            on_case(result)
    if record:
        unused += _stale_cassettes(dataset)
    return RunResult(
        dataset=dataset.name,
        label=label or ("recorded" if record else "replayed"),
        mode="record" if record else "replay",
        cases=tuple(results),
        unused=tuple(unused),
        seconds=time.perf_counter() - began,
    )


async def _one(
    dataset: Dataset,
    case: Case,
    record: bool,
    models: Sequence[Any] | None,
    evaluators: Sequence[Evaluator],
    timings: dict[str, float],
) -> tuple[CaseResult, int]:
    """One case's result and how many of its recordings went unplayed."""
    path = dataset.cassette(case)
    if record:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a re-recording starts from scratch
    trace, verdicts, error, unplayed = Trace(), list[Check](), None, 0
    try:
        with cassette(path, record=record) as tape:
            began = time.perf_counter()
            state, usage = await _play(case, models)
            seconds = time.perf_counter() - began
            if record:
                timings[case.id] = round(seconds, 3)
            trace = trace_of(state, usage, timings.get(case.id, seconds))
            verdicts = [v for e in evaluators if (v := e.evaluate(case, trace)) is not None]
            if not record:
                unplayed = sum(1 for i in range(len(tape.data)) if not tape.play_counts[i])
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    result = CaseResult(
        case=case.id,
        example=case.example,
        pattern=case.pattern,
        expected_route=case.route,
        trace=trace,
        checks=tuple(verdicts),
        error=error,
    )
    return result, unplayed


async def _play(case: Case, models: Sequence[Any] | None) -> tuple[Mapping[str, Any], Usage]:
    spec = EXAMPLES[case.example]
    options: dict[str, Any] = {"checkpointer": InMemorySaver()}
    if models is not None:
        options["models"] = tuple(models)
    graph = spec.build(**options)
    usage = Usage()
    for text in case.input:
        meter = Meter(case.id, Limits(), Usage(), None)
        config: Any = {"configurable": {"thread_id": case.id}, "callbacks": [meter]}
        await graph.ainvoke({"messages": [HumanMessage(text)]}, config)
        usage = usage + meter.used
    state: Mapping[str, Any] = graph.get_state({"configurable": {"thread_id": case.id}}).values
    for failure in state.get("failures") or []:
        # A parallel step that met an unrecorded request is recorded as a failure, not raised.
        if _NO_PLAYBACK in failure.get("message", ""):
            raise MissingRecording(
                f"{failure['agent']} made a request that the case's cassette does not hold; "
                "re-record the dataset with `accord eval DATASET --record`"
            )
    return state, usage


def _read_timings(folder: Path) -> dict[str, float]:
    try:
        document = json.loads((folder / TIMINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in document.items()}


def _write_timings(folder: Path, timings: Mapping[str, float]) -> None:
    text = json.dumps(dict(sorted(timings.items())), indent=1) + "\n"
    (folder / TIMINGS).write_text(text, encoding="utf-8")


def _stale_cassettes(dataset: Dataset) -> list[str]:
    """Cassettes in the folder that belong to no case of the dataset (left from removed cases)."""
    ids = {case.id for case in dataset.cases}
    return [
        f"{path.name}: no case {path.stem!r} in the dataset; delete the file"
        for path in sorted(dataset.cassettes.glob("*.yaml"))
        if path.stem not in ids
    ]
