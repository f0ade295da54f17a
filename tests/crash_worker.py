"""A worker process for the crash test: sends each session its messages, printing each ack.

Used by tests/graphs/test_session_crash.py.
Run as `python crash_worker.py DB_URL MESSAGES SESSION_ID...`. Every message has a fixed id, so a
worker started after a crash sends the same messages again and the runtime answers each once.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from langchain_core.messages import BaseMessage

from accord.agents import Agent, ScriptedModel
from accord.graphs import Sessions, consensus

VOTERS = ("credit", "market", "compliance")


def _vote(messages: list[BaseMessage]) -> dict[str, Any]:
    question = messages[-1].text
    return {"choice": "yes", "confidence": 0.8, "rationale": f"fine: {question}"}


def team() -> Any:
    """Three voters, each answering after a pause: a crash can land anywhere in a turn."""
    panel = [
        Agent(
            name=name,
            description=f"the {name} desk",
            models=(ScriptedModel([_vote], cycle=True, latency=0.05 * (i + 1)),),
        )
        for i, name in enumerate(VOTERS)
    ]
    return consensus(panel, options=["yes", "no"])


async def main(url: str, messages: int, session_ids: list[str]) -> None:
    async with Sessions(team(), db=url, lease_ttl=1.0, wait=30) as sessions:

        async def converse(session_id: str) -> None:
            session = await sessions.aresume(session_id, "alice")
            for k in range(messages):
                reply = await session.asend(f"question {k}", message_id=f"{session_id}-m{k}")
                print(f"ACK {session_id} {k} {reply.text[:40]!r}", flush=True)

        await asyncio.gather(*(converse(s) for s in session_ids))
    print("DONE", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:]))
