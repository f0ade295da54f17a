"""The runner: record against a real HTTP model server, replay without it, refuse the unknown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents import FaultServer, canned
from accord.evals import Dataset, RunResult, evaluate, load_dataset
from accord.evals.errors import ModelNotRecorded

DATASET = """
name: tiny
cases:
  - id: routed
    example: finance
    input: Three card payments from abroad within an hour.
    route: market_risk
    path: [market_risk]
    answer: {exact: ok}
    max_calls: 2
  - id: voted
    example: credit
    input: Loan of 2000 EUR; always paid on time.
    decision: approve
    min_confidence: 0.5
  - id: wrong-route
    example: finance
    input: Cash is short at month end.
    route: liquidity
"""


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A real OpenAI-compatible server that answers at once with schema examples."""
    with FaultServer(canned()) as running:
        yield running


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(DATASET)
    return path


def _rewritten(path: Path, text: str) -> Dataset:
    path.write_text(text)
    return load_dataset(path)


def model(server: FaultServer) -> ChatOpenAI:
    return ChatOpenAI(model="m", base_url=server.url, api_key=SecretStr("x"), max_retries=0)


async def test_record_then_replay_without_the_server(server: FaultServer, dataset: Path) -> None:
    cases = load_dataset(dataset)
    recorded = await evaluate(cases, record=True, models=(model(server),))
    asked = server.requests
    assert asked > 0
    assert sorted(p.name for p in cases.cassettes.iterdir()) == [
        "routed.yaml",
        "timings.json",
        "voted.yaml",
        "wrong-route.yaml",
    ]
    server.stop()

    replayed = await evaluate(cases, models=(model(server),))
    assert server.requests == asked
    assert [c.to_dict() for c in replayed.cases] == [c.to_dict() for c in recorded.cases]
    routed, voted, wrong = replayed.cases
    assert routed.passed
    assert routed.trace.path == ("market_risk",)
    assert routed.trace.calls == 2
    assert routed.trace.tokens > 0
    assert routed.trace.steps > 0
    assert voted.passed
    assert voted.trace.decision == "approve"
    assert wrong.completed
    assert not wrong.passed
    assert [c.evaluator for c in wrong.checks if not c.passed] == ["route"]
    assert replayed.mode == "replay"
    assert recorded.mode == "record"
    assert replayed.unused == ()


async def test_replay_gives_identical_results_run_after_run(
    server: FaultServer, dataset: Path
) -> None:
    cases = load_dataset(dataset)
    await evaluate(cases, record=True, models=(model(server),))
    server.stop()
    first = await evaluate(cases, models=(model(server),))
    second = await evaluate(cases, models=(model(server),))
    assert first == second
    assert first.to_dict() | {"seconds": 0} == second.to_dict() | {"seconds": 0}


async def test_an_unrecorded_request_fails_that_case_only(
    server: FaultServer, dataset: Path
) -> None:
    cases = load_dataset(dataset)
    await evaluate(cases, record=True, models=(model(server),))
    server.stop()
    changed = _rewritten(dataset, DATASET.replace("Cash is short at month end.", "Something new."))

    run = await evaluate(changed, models=(model(server),))
    routed, voted, wrong = run.cases
    assert routed.passed
    assert voted.passed
    assert wrong.error is not None
    assert wrong.error.startswith("MissingRecording: ")
    assert "re-record" in wrong.error
    assert not wrong.passed
    assert server.requests > 0


async def test_a_case_without_a_cassette_fails_with_missing_recording(dataset: Path) -> None:
    run = await evaluate(load_dataset(dataset))
    assert all(c.error and c.error.startswith("MissingRecording: no cassette") for c in run.cases)


async def test_unused_recordings_are_reported(server: FaultServer, dataset: Path) -> None:
    cases = load_dataset(dataset)
    await evaluate(cases, record=True, models=(model(server),))
    (cases.cassettes / "removed-case.yaml").write_text("interactions: []\nversion: 1\n")
    rerecorded = await evaluate(cases, record=True, models=(model(server),))
    assert rerecorded.unused == (
        "removed-case.yaml: no case 'removed-case' in the dataset; delete the file",
    )
    server.stop()
    # Give the routed case's cassette the voted case's three recordings too: never replayed.
    routed = yaml.safe_load((cases.cassettes / "routed.yaml").read_text())
    voted = yaml.safe_load((cases.cassettes / "voted.yaml").read_text())
    routed["interactions"] += voted["interactions"]
    (cases.cassettes / "routed.yaml").write_text(yaml.safe_dump(routed))
    replayed = await evaluate(cases, models=(model(server),))
    assert replayed.unused[0].startswith("routed: 3 recorded request(s) not replayed")


async def test_progress_is_reported_case_by_case(dataset: Path) -> None:
    seen: list[str] = []
    run = await evaluate(load_dataset(dataset), on_case=lambda r: seen.append(r.case))
    assert seen == ["routed", "voted", "wrong-route"]
    assert isinstance(run, RunResult)
    assert run.label == "embedded model"


async def test_replaying_a_model_with_no_recording_is_refused(
    server: FaultServer, dataset: Path
) -> None:
    cases = load_dataset(dataset)
    await evaluate(cases, record=True, models=(model(server),))
    server.stop()
    other = ChatOpenAI(model="other", base_url=server.url, api_key=SecretStr("x"))
    with pytest.raises(ModelNotRecorded, match=r"no recording of model 'other'.*hold m\b"):
        await evaluate(cases, models=(other,))
    with pytest.raises(ModelNotRecorded, match="--record --model openai:gpt-4o-mini"):
        # Offline and without a key: named by its id, not failed on its credentials per case.
        await evaluate(cases, models=("openai:gpt-4o-mini",))
    assert (await evaluate(cases, models=(model(server),))).label == "m"
