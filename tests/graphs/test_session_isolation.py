"""Isolation: a thousand concurrent sessions, each with its own secret, never see each other's.

It runs on every backend (issue 14: on PostgreSQL 16-44% of the sessions failed when the
connection pool ran out). One turn each keeps it within the suite's time budget: the turn
reads the thread back from the database before the model is called.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any

from langchain_core.messages import BaseMessage
from sqlalchemy import create_engine, select

from accord.agents import Agent, ScriptedModel
from accord.graphs import Sessions, handoff
from accord.persistence.schema import audit, blobs, checkpoints, sessions, writes

SESSIONS = 1000
CANARY = re.compile(r"CANARY-[0-9a-f]{32}")


def _echo(messages: list[BaseMessage]) -> dict[str, Any]:
    """Answers with every canary the model was shown: a leak would show up in the reply."""
    seen = sorted({c for m in messages for c in CANARY.findall(m.text)})
    return {"reply": "I was shown: " + ", ".join(seen), "handoff_to": "none"}


async def test_a_thousand_concurrent_sessions_share_nothing(db: str) -> None:
    url = db
    model = ScriptedModel([_echo], cycle=True)
    graph = handoff([Agent(name="desk", description="the desk", models=(model,))])
    canaries = {f"user{i}": f"CANARY-{secrets.token_hex(16)}" for i in range(SESSIONS)}

    async with Sessions(graph, db=url, wait=60) as manager:

        async def converse(user: str, canary: str) -> tuple[str, list[str]]:
            session = await manager.aopen(user)
            reply = await session.asend(f"My secret is {canary}. What secrets do you know?")
            history = await session.ahistory()
            texts = [reply.text, *(m.text for m in history)]
            return session.id, texts

        results = await asyncio.gather(*(converse(u, c) for u, c in canaries.items()))

    owner_of = {}
    for (user, canary), (session_id, texts) in zip(canaries.items(), results, strict=True):
        owner_of[session_id] = canary
        seen = {c for text in texts for c in CANARY.findall(text)}
        assert seen == {canary}, f"{user} saw {seen - {canary}}"
        assert texts[0] == f"I was shown: {canary}"

    # Stored rows: every checkpoint, blob, write, record and audit row of a session holds at
    # most its own session's secret.
    engine = create_engine(url)
    with engine.connect() as connection:
        for table, column in (
            (checkpoints, "checkpoint"),
            (blobs, "data"),
            (writes, "value"),
        ):
            for row in connection.execute(select(table.c.thread_id, table.c[column])):
                found = set(CANARY.findall(bytes(row[1]).decode("latin-1")))
                assert found <= {owner_of[row.thread_id]}, f"{table.name} leaks {found}"
        for table in (sessions, audit):
            for row in connection.execute(select(table)):
                text = " ".join(str(value) for value in row)
                assert not CANARY.findall(text), f"{table.name} stores a secret"
    engine.dispose()
