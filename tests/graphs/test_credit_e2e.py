"""End to end: the credit-risk consensus example on recorded traffic of the embedded model.

Re-record: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k credit_e2e tests/graphs`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from accord.evals.cassette import cassette
from accord.graphs import EXAMPLES

CASSETTE = Path(__file__).parent / "cassettes" / "credit.yaml"
RECORD = os.environ.get("ACCORD_RECORD") == "1"


@pytest.fixture
def record_mode(monkeypatch: pytest.MonkeyPatch) -> bool:
    if RECORD:
        monkeypatch.delenv("ACCORD_OFFLINE", raising=False)
    return RECORD


async def test_credit_e2e_panel_votes(record_mode: bool) -> None:
    spec = EXAMPLES["credit"]
    with cassette(CASSETTE, record=record_mode):
        state = await spec.build().ainvoke(
            {"messages": [HumanMessage(spec.sample)]}, {"configurable": {"thread_id": "c"}}
        )
    panel = {"credit_history", "market", "compliance"}
    voters = {v["agent"] for v in state.get("votes", [])}
    failed = {f["agent"] for f in state.get("failures", [])}
    assert voters | failed == panel
    outcome = state["outcome"]
    assert outcome["decision"] in {"approve", "reject", "refer", None}
    assert 0.0 <= outcome["confidence"] <= 1.0
    assert state["messages"][-1].name == "tally"
