"""End to end: the finance risk-monitoring routed example on recorded model traffic.

Re-record: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k finance_e2e tests/graphs`.
"""

from __future__ import annotations

from support import Replay


async def test_finance_e2e_routes_to_one_specialist(replay_example: Replay) -> None:
    state = await replay_example("finance")
    team = {"market_risk", "fraud", "liquidity"}
    route = state["route"]
    assert route["agent"] in team
    assert route["by"] == "model"
    assert state["messages"][-1].name == route["agent"]
