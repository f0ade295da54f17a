"""End to end: the project-coordination delegation example on recorded model traffic.

Re-record: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k project_e2e tests/graphs`.
"""

from __future__ import annotations

from support import Replay


async def test_project_e2e_accounts_for_every_subtask(replay_example: Replay) -> None:
    state = await replay_example("project")
    plan = state.get("plan", [])
    done = [r["task"] for r in state.get("results", [])]
    failed = [f["task"] for f in state.get("failures", [])]
    assert plan
    assert len(done) + len(failed) == len(plan)
    assert {r["worker"] for r in state.get("results", [])} <= {"resources", "timeline", "risk"}
    assert state["messages"][-1].name == "coordinator"
