"""End to end: the onboarding team on recorded traffic of the embedded model, persisted in SQLite.

Replays `cassettes/onboarding.yaml` (real exchanges with the embedded Qwen2.5-Coder-0.5B). To
re-record after changing a prompt: `ACCORD_RECORD=1 .venv/bin/python -m pytest -k e2e tests/graphs`.
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from accord.evals.cassette import cassette
from accord.evals.teams import ONBOARDING_ROUTES, onboarding
from accord.persistence import SQLAlchemySaver

CASSETTE = Path(__file__).parent / "cassettes" / "onboarding.yaml"
OPENING = (
    "Hi! I'm Dana Reyes and I'd like to open a business checking account for my bakery.",
    "Of course: I was born on 12 April 1988 and my passport number is X4419302.",
)
FOLLOW_UP = "No paper statements please, and I'd like a debit card."


async def test_onboarding_e2e_persists_and_resumes(tmp_path: Path, record_mode: bool) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.sqlite'}"
    config: RunnableConfig = {"configurable": {"thread_id": "dana"}}

    with cassette(CASSETTE, record=record_mode):
        async with SQLAlchemySaver.from_url(url) as saver:
            graph = onboarding(checkpointer=saver)
            for text in OPENING:
                await graph.ainvoke({"messages": [HumanMessage(text)]}, config, durability="sync")
            before = (await graph.aget_state(config)).values
        # A new saver and graph, as in a new process: the session continues where it stopped.
        async with SQLAlchemySaver.from_url(url) as saver:
            graph = onboarding(checkpointer=saver)
            restored = (await graph.aget_state(config)).values
            assert restored["messages"] == before["messages"]
            after = await graph.ainvoke({"messages": [HumanMessage(FOLLOW_UP)]}, config)

    team = {"intake", "verification", "setup", "support"}
    replies = [m for m in after["messages"] if isinstance(m, AIMessage)]
    assert replies
    assert {m.name for m in replies} <= team
    assert all(m.content for m in replies)
    assert [m.content for m in after["messages"] if isinstance(m, HumanMessage)] == [
        *OPENING,
        FOLLOW_UP,
    ]
    for hop in after.get("handoffs", []):
        assert hop["target"] in ONBOARDING_ROUTES[hop["source"]]
    # Whoever spoke last holds the conversation, or the teammate it just handed it to (support
    # waits for the customer's next message: it has nothing to ask).
    handed = [h["target"] for h in after.get("handoffs", []) if h["reason"] == replies[-1].content]
    assert after["active_agent"] in {replies[-1].name, *handed}
