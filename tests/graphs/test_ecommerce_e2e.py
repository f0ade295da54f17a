"""End to end: the e-commerce routed example on recorded model traffic.

Re-record: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k ecommerce_e2e tests/graphs`.
"""

from __future__ import annotations

from support import Replay


async def test_ecommerce_e2e_sends_a_late_order_to_orders(replay_example: Replay) -> None:
    state = await replay_example("ecommerce")
    route = state["route"]
    assert route["agent"] == "orders"
    assert route["by"] == "model"
    assert route["reason"].strip()
    user, reply = state["messages"]
    assert user.type == "human"
    assert reply.name == "orders" == state["active_agent"]
    assert "1042" in reply.text or "order" in reply.text.lower()
