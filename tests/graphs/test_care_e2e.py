"""End to end: the healthcare care-coordination routed example on recorded model traffic.

Re-record: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k care_e2e tests/graphs`.
"""

from __future__ import annotations

from support import Replay


async def test_care_e2e_one_specialist_answers_the_refill(replay_example: Replay) -> None:
    state = await replay_example("care")
    route = state["route"]
    # The 0.5B model is free to pick scheduling (a refill needs an appointment) or
    # medication; what must hold is that its pick is a teammate and that teammate answers.
    assert route["agent"] in {"scheduling", "medication", "billing"}
    assert route["by"] == "model"
    assert route["reason"].strip()
    user, reply = state["messages"]
    assert user.type == "human"
    assert reply.name == route["agent"] == state["active_agent"]
    assert any(word in reply.text.lower() for word in ("refill", "prescription"))
