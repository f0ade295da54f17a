"""End to end: the credit-risk consensus example on recorded traffic of the embedded model.

Re-record: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k credit_e2e tests/graphs`.
"""

from __future__ import annotations

from support import Replay


async def test_credit_e2e_panel_votes(replay_example: Replay) -> None:
    state = await replay_example("credit")
    panel = {"credit_history", "market", "compliance"}
    voters = {v["agent"] for v in state.get("votes", [])}
    failed = {f["agent"] for f in state.get("failures", [])}
    assert voters | failed == panel
    outcome = state["outcome"]
    assert outcome["decision"] in {"approve", "reject", "refer", None}
    assert 0.0 <= outcome["confidence"] <= 1.0
    assert state["messages"][-1].name == "tally"
