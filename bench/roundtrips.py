"""Database round trips of one turn: a `Session.asend` vs the same graph's plain `ainvoke`.

The plain graph runs on LangGraph's official `AsyncSqliteSaver` and on accord's saver.

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
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

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
        return await _turn(saver)


async def _official(path: Path) -> Counter[str]:
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        return await _turn(saver)


async def _turn(saver: Any) -> Counter[str]:
    graph = _graph().copy({"checkpointer": saver})
    config = {"configurable": {"thread_id": "plain"}}
    await graph.ainvoke({"messages": [HumanMessage("warm up")]}, config, durability="sync")
    SEEN.clear()
    await graph.ainvoke({"messages": [HumanMessage("one more message")]}, config, durability="sync")
    return Counter(SEEN)


def main() -> None:
    # aiosqlite connects through `sqlite3.connect`, SQLAlchemy's pysqlite through `dbapi2`.
    sqlite3.connect = sqlite3.dbapi2.connect = _traced  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as folder:
        official = asyncio.run(_official(Path(folder) / "official.db"))
        plain = asyncio.run(_plain(f"sqlite:///{Path(folder) / 'plain.db'}"))
        accord = asyncio.run(_accord(f"sqlite:///{Path(folder) / 'accord.db'}"))
    print("one warm turn on SQLite        transactions  statements  (SELECT/INSERT/UPDATE/DELETE)")
    rows = (
        ("plain + AsyncSqliteSaver", official),
        ("plain + SQLAlchemySaver", plain),
        ("accord Session.asend", accord),
    )
    for name, seen in rows:
        verbs = "/".join(str(seen[v]) for v in ("SELECT", "INSERT", "UPDATE", "DELETE"))
        print(f"{name:<31}{seen['transactions']:>12}{seen['statements']:>12}  ({verbs})")
    ratio = accord["statements"] / max(official["statements"], 1)
    print(f"accord asend / official saver statements: {ratio:.2f}x")


if __name__ == "__main__":
    main()
