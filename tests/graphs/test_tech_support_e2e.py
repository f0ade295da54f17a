"""End to end: the technical-support consultation example on recorded model traffic.

Re-record: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k tech_support_e2e tests/graphs`.
"""

from __future__ import annotations

from support import Replay


async def test_tech_support_e2e_weighs_the_specialists(replay_example: Replay) -> None:
    state = await replay_example("tech_support")
    specialists = {"diagnostics", "network"}
    asked = {c["specialist"] for c in state.get("consultations", [])}
    failed = {f["agent"] for f in state.get("failures", [])}
    assert asked | failed
    assert asked | failed <= specialists
    assert all(0.0 <= c["confidence"] <= 1.0 for c in state.get("consultations", []))
    assert 0.0 <= state["confidence"] <= 1.0
    assert state["low_confidence"] == (state["confidence"] < 0.5)
    assert state["messages"][-1].name == "support"
