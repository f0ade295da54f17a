"""The shipped datasets replay their recordings of the embedded model: no model, same results."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.evals import evaluate, load_dataset

DATASETS = sorted((Path(__file__).resolve().parents[2] / "evals" / "datasets").glob("*.yaml"))


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: p.stem)
async def test_every_case_replays_from_its_recording(path: Path) -> None:
    dataset = load_dataset(path)
    run = await evaluate(dataset)
    assert [c.error for c in run.cases] == [None] * len(dataset.cases)
    assert run.unused == ()
    for case in run.cases:
        assert case.trace.calls > 0
        assert case.trace.latency > 0  # the recorded time, not the replay's
        assert case.trace.answer


async def test_replaying_twice_gives_identical_results() -> None:
    for path in DATASETS:
        dataset = load_dataset(path)
        first, second = await evaluate(dataset), await evaluate(dataset)
        assert first == second
        assert [c.to_dict() for c in first.cases] == [c.to_dict() for c in second.cases]


# Cases the recorded default model gets wrong, named so that a change either way is noticed.
KNOWN_MISSES: dict[str, list[str]] = {}


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: p.stem)
async def test_every_shipped_dataset_passes_nine_cases_in_ten_on_its_recording(path: Path) -> None:
    # Issue 12: finance passed 40% and credit 80% of their own recordings (credit's panel
    # rejected a mixed record until its instructions said a mixed record is referred).
    run = await evaluate(load_dataset(path))
    failed = [c.case for c in run.cases if not c.passed]
    assert failed == KNOWN_MISSES.get(path.stem, [])
    assert len(failed) <= 0.1 * len(run.cases), failed


async def test_no_onboarding_case_asks_again_for_what_the_customer_said() -> None:
    run = await evaluate(load_dataset(DATASETS[0].parent / "conversation.yaml"))
    checks = [
        (c.case, check)
        for c in run.cases
        if c.example == "onboarding"
        for check in c.checks
        if check.evaluator == "no_reask"
    ]
    assert len(checks) >= 5
    assert [(case, check.detail) for case, check in checks if not check.passed] == []
