"""End to end: the project-risk consensus example on recorded traffic of the embedded model.

Re-record: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k project_e2e tests/graphs`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from accord.evals.cassette import cassette
from accord.graphs import EXAMPLES

CASSETTE = Path(__file__).parent / "cassettes" / "project.yaml"
RECORD = os.environ.get("ACCORD_RECORD") == "1"


@pytest.fixture
def record_mode(monkeypatch: pytest.MonkeyPatch) -> bool:
    if RECORD:
        monkeypatch.delenv("ACCORD_OFFLINE", raising=False)
    return RECORD


async def test_project_e2e_accounts_for_every_subtask(record_mode: bool) -> None:
    spec = EXAMPLES["project"]
    with cassette(CASSETTE, record=record_mode):
        state = await spec.build().ainvoke(
            {"messages": [HumanMessage(spec.sample)]}, {"configurable": {"thread_id": "c"}}
        )
    plan = state.get("plan", [])
    done = [r["task"] for r in state.get("results", [])]
    failed = [f["task"] for f in state.get("failures", [])]
    assert plan
    assert len(done) + len(failed) == len(plan)
    assert {r["worker"] for r in state.get("results", [])} <= {"resources", "timeline", "risk"}
    assert state["messages"][-1].name == "coordinator"
