"""Replay throughput of offline evaluation against the recording run, on a 200-case dataset.

The 200 cases repeat the shipped cases (evals/datasets/*.yaml) whose cassettes exist, each
copy with its own id and a copy of its cassette, so every case replays real recorded traffic
of the embedded model. The peer is the recording run itself: the wall time of each case
against the embedded model, stored in `timings.json` when the datasets were recorded.

Target: replay at least 20x faster per case than recording.
Run: `.venv/bin/python bench/evals.py`
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from accord.evals import Case, evaluate, load_dataset

DATASETS = Path(__file__).resolve().parents[1] / "evals" / "datasets"
CASES = 200
TARGET = 20.0


def recorded_cases() -> list[tuple[Case, Path, float]]:
    """Each shipped case that has a recording: the case, its cassette and its recorded time."""
    found = []
    for path in sorted(DATASETS.glob("*.yaml")):
        dataset = load_dataset(path)
        stored = dataset.cassettes / "timings.json"
        timings = json.loads(stored.read_text()) if stored.is_file() else {}
        for case in dataset.cases:
            tape = dataset.cassette(case)
            if tape.is_file() and case.id in timings:
                found.append((case, tape, float(timings[case.id])))
    return found


def build(folder: Path, sources: list[tuple[Case, Path, float]]) -> Path:
    """Writes a `CASES`-case dataset into `folder` from `sources`, cassettes and timings too."""
    path = folder / "bench.yaml"
    tapes = folder / "bench.yaml.cassettes"
    tapes.mkdir()
    cases, timings = [], {}
    for index in range(CASES):
        case, tape, seconds = sources[index % len(sources)]
        name = f"{case.id}-{index}"
        cases.append({**case.model_dump(mode="json", exclude_defaults=True), "id": name})
        shutil.copyfile(tape, tapes / f"{name}.yaml")
        timings[name] = seconds
    path.write_text(yaml.safe_dump({"name": "bench", "cases": cases}))
    (tapes / "timings.json").write_text(json.dumps(timings))
    return path


async def main() -> None:
    os.environ["ACCORD_OFFLINE"] = "1"  # a replay must need no model: prove it
    sources = recorded_cases()
    record_per_case = statistics.fmean(seconds for _, _, seconds in sources)
    with tempfile.TemporaryDirectory() as folder:
        dataset = load_dataset(build(Path(folder), sources))
        # Replay a few cases first, so that imports and first-use caches are not timed.
        await evaluate(dataset.model_copy(update={"cases": dataset.cases[:5]}))
        began = time.perf_counter()
        run = await evaluate(dataset)
        seconds = time.perf_counter() - began
    errors = [c for c in run.cases if c.error]
    replay_per_case = seconds / len(run.cases)
    ratio = record_per_case / replay_per_case
    print(f"recorded cases: {len(sources)} (repeated to {len(run.cases)}), errors: {len(errors)}")
    print(f"recording: {record_per_case:8.2f} s/case  (embedded model, timings.json)")
    rate = len(run.cases) / seconds
    print(f"replay:    {replay_per_case * 1000:8.1f} ms/case  ({rate:.1f} cases/s)")
    print(f"replay is {ratio:,.0f}x faster than recording (target >= {TARGET:.0f}x)")
    if errors:
        raise SystemExit(f"{len(errors)} case(s) failed to replay: {errors[0].error}")
    if ratio < TARGET:
        raise SystemExit("replay is below the target")


if __name__ == "__main__":
    asyncio.run(main())
