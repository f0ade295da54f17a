"""Database round trips of one turn: a `Session.asend` vs the same graph's plain `ainvoke`.

Counts what SQLite itself executes (its trace callback sees every statement the drivers send,
`BEGIN` and `COMMIT` included) for one warm turn of a one-agent handoff graph on a scripted
model, on the same kind of SQLite file. accord's turn adds the lease, the message record, the
budget usage and the audit trail to LangGraph's checkpoint writes.
Run: `.venv/bin/python bench/roundtrips.py`
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from accord.agents import Agent, ScriptedModel
from accord.graphs import Sessions, handoff
from accord.persistence import SQLAlchemySaver

SEEN: Counter[str] = Counter()
_connect = sqlite3.connect


def _traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    connection = _connect(*args, **kwargs)
    connection.set_trace_callback(_count)
    return connection


def _count(statement: str) -> None:
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    SEEN[
        "transactions"
        if verb == "BEGIN"
        else "ends"
        if verb in {"COMMIT", "ROLLBACK"}
        else "pragmas"
        if verb == "PRAGMA"
        else "statements"
    ] += 1
    SEEN[verb] += 1


def _graph() -> Any:
    model = ScriptedModel([{"reply": "Noted.", "handoff_to": "none"}], cycle=True)
    return handoff([Agent(name="desk", description="The desk.", models=(model,))])


async def _accord(url: str) -> Counter[str]:
    async with Sessions(_graph(), db=url) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("warm up")
        SEEN.clear()
        await session.asend("one more message")
        return Counter(SEEN)


async def _plain(url: str) -> Counter[str]:
    async with SQLAlchemySaver(url) as saver:
        await saver.asetup()
        graph = _graph().copy({"checkpointer": saver})
        config = {"configurable": {"thread_id": "plain"}}
        await graph.ainvoke({"messages": [HumanMessage("warm up")]}, config, durability="sync")
        SEEN.clear()
        await graph.ainvoke(
            {"messages": [HumanMessage("one more message")]}, config, durability="sync"
        )
        return Counter(SEEN)


def main() -> None:
    sqlite3.connect = _traced  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as folder:
        plain = asyncio.run(_plain(f"sqlite:///{Path(folder) / 'plain.db'}"))
        accord = asyncio.run(_accord(f"sqlite:///{Path(folder) / 'accord.db'}"))
    print("one warm turn on SQLite   transactions  statements  (SELECT/INSERT/UPDATE/DELETE)")
    for name, seen in (("plain LangGraph ainvoke", plain), ("accord Session.asend", accord)):
        verbs = "/".join(str(seen[v]) for v in ("SELECT", "INSERT", "UPDATE", "DELETE"))
        print(f"{name:<26}{seen['transactions']:>12}{seen['statements']:>12}  ({verbs})")
    ratio = accord["statements"] / max(plain["statements"], 1)
    print(f"accord / plain statements: {ratio:.2f}x")


if __name__ == "__main__":
    main()
