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

import yaml  # type: ignore[import-untyped]
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from accord.agents import resolve_model, warm_up
from accord.evals.cassette import cassette
from accord.evals.dataset import Case, Dataset
from accord.evals.errors import MissingRecording, ModelNotRecorded
from accord.evals.evaluators import Check, Evaluator, default_evaluators
from accord.evals.results import CaseResult, RunResult
from accord.evals.teams import EXAMPLES
from accord.evals.trace import Trace, trace_of
from accord.graphs import Limits, Meter, Usage
from accord.persistence import AccordError

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
        label: Names the run in reports and comparisons; default the models' ids, or
            "embedded model" when `models` is None.
        on_case: Called with each case's result as it completes.

    Returns:
        The run's results; cases that failed to run carry their error instead of raising.

    Raises:
        ModelNotRecorded: A replay names a model that the dataset's recordings never called.
    """
    if not record and models is not None:
        check_recorded(dataset, models)
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
        label=label or _default_label(models),
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
        expected_decision=case.decision,
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


def _default_label(models: Sequence[Any] | None) -> str:
    if models is None:
        return "embedded model"
    return ", ".join(m if isinstance(m, str) else _served_name(m) for m in models)


def recorded_models(dataset: Dataset) -> set[str]:
    """The model names that the requests in the dataset's cassettes asked for."""
    found: set[str] = set()
    for path in dataset.cassettes.glob("*.yaml"):
        tape = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for interaction in tape.get("interactions") or []:
            try:
                body = json.loads(interaction["request"]["body"] or "{}")
            except (KeyError, TypeError, ValueError):
                continue  # not a JSON model request (a health probe, say)
            if isinstance(body, dict) and isinstance(body.get("model"), str):
                found.add(body["model"])
    return found


def check_recorded(dataset: Dataset, models: Sequence[Any]) -> None:
    """Refuses a replay with a model that the dataset was not recorded with.

    Without this check every case would fail on its own (a missing API key, an unrecorded
    request), and the report would blame the cases instead of the choice of model.

    Raises:
        ModelNotRecorded: A model of `models` made none of the recorded requests.
    """
    recorded = recorded_models(dataset)
    for model in models:
        name = _served_name(model)
        if name not in recorded:
            shown = ", ".join(sorted(recorded)) or "no model (there are no recordings)"
            raise ModelNotRecorded(
                f"dataset {dataset.name!r} has no recording of model {name!r} (its cassettes "
                f"hold {shown}); replay it without --model, or record this model with "
                f"`accord eval {dataset.name} --record --model {model}`"
            )


def _served_name(model: Any) -> str:
    """The name a model's requests carry in their body (`"model": ...`)."""
    chat = model
    if isinstance(model, str):
        try:
            chat = resolve_model(model)
        except AccordError:
            # A network model without credentials (or offline): its id names it.
            return model.partition(":")[2].strip() or model
    return str(getattr(chat, "model_name", None) or getattr(chat, "model", None) or model)


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
