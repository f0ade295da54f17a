"""Benchmark: accord's SQLAlchemySaver against LangGraph's official savers, side by side.

SQLite: SQLAlchemySaver vs `langgraph-checkpoint-sqlite`'s SqliteSaver, each on its own file.
PostgreSQL: SQLAlchemySaver vs `langgraph-checkpoint-postgres`'s PostgresSaver, in a scratch
database this script creates and drops.

Measured: put, put_writes, get_tuple and list throughput (ops/s), through the sync methods
and then the async ones (aput, ...: what Sessions and async graphs call) against
AsyncSqliteSaver / AsyncPostgresSaver; then a 200-turn conversation
through a real StateGraph (a ~300-character message each way per turn): time per turn,
database size, and bytes added per turn early (turns 1-50) and late (turns 151-200).
Ratios are accord ÷ official for throughput (higher is better) and official ÷ accord for
time and size (higher is better), so every ratio >= 1.0 means accord is ahead. The two savers
run interleaved (round by round, turn by turn) because commit latency on shared disks swings
several-fold within seconds; throughput is the median of the rounds, and so is the process
CPU per call printed under it (every thread of the process: the async savers' own included).

Durability differs on SQLite by default: SqliteSaver keeps sqlite3's defaults (rollback
journal, `synchronous=FULL`), accord uses WAL with `synchronous=NORMAL` (safe across
application crashes; a power cut can lose the last commits). So SQLite runs twice: "sqlite"
with each saver's defaults, and "sqlite=" with SqliteSaver's connection switched to accord's
WAL + NORMAL, equal durability. On PostgreSQL both savers commit with the server's own
settings. The settings each side ran with are printed under the table.

Run: python bench/checkpointer.py [--turns 200] [--ops 500] [--postgres URL] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from checkpoint_ops import OPERATIONS, micro
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from accord.persistence import SQLAlchemySaver
from accord.persistence.engine import create_sync, resolve

FILLER = "The quick brown fox jumps over the lazy dog while the bench keeps time. " * 4
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SizeOf = Callable[[], int]
Savers = list[tuple[str, BaseCheckpointSaver[Any], SizeOf]]
SETTINGS: list[str] = []
"""What each side ran with, printed under the table."""


@dataclass
class Result:
    """What one saver measured."""

    ops: dict[str, tuple[float, float]] = field(default_factory=dict)
    """operation -> (ops/s, CPU µs per call)"""
    turn_ms: list[float] = field(default_factory=list)
    size: int = 0
    early: int = 0  # bytes added over turns 1-50
    late: int = 0  # bytes added over the last 50 turns


# --- the conversation ------------------------------------------------------------------------


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _reply(state: Chat) -> dict[str, Any]:
    turn = len(state["messages"]) // 2
    return {"messages": [AIMessage(id=f"ai-{turn}", content=f"Answer {turn}. {FILLER}")]}


def conversation(
    savers: dict[str, tuple[BaseCheckpointSaver[Any], SizeOf]], turns: int
) -> dict[str, Result]:
    """A real graph, one human and one AI message per turn; time and storage per turn.

    The savers take turns, one graph turn each, so they run under the same disk weather.
    """
    graphs, results, sizes = {}, {}, {}
    config: RunnableConfig = {"configurable": {"thread_id": f"chat-{uuid.uuid4()}"}}
    for name, (saver, size_of) in savers.items():
        builder = StateGraph(Chat)
        builder.add_node("reply", _reply)
        builder.add_edge(START, "reply")
        builder.add_edge("reply", END)
        graphs[name] = builder.compile(checkpointer=saver)
        results[name] = Result()
        sizes[name] = [size_of()]
    for turn in range(turns):
        ask = HumanMessage(id=f"human-{turn}", content=f"Question {turn}. {FILLER}")
        for name, graph in graphs.items():
            start = time.perf_counter()
            graph.invoke({"messages": [ask]}, config, durability="sync")
            results[name].turn_ms.append((time.perf_counter() - start) * 1000)
            if turn + 1 in (50, turns - 50, turns):
                sizes[name].append(savers[name][1]())
    for name, graph in graphs.items():
        assert len(graph.get_state(config).values["messages"]) == 2 * turns
        found, result = sizes[name], results[name]
        result.early, result.late, result.size = found[1] - found[0], found[3] - found[2], found[3]
    return results


# --- backends --------------------------------------------------------------------------------


@contextmanager
def sqlite_savers(
    folder: Path, loop: asyncio.AbstractEventLoop, *, equal: bool
) -> Iterator[tuple[Savers, BaseCheckpointSaver[Any]]]:
    """SqliteSaver and SQLAlchemySaver, each on a fresh file (`equal`: both WAL + NORMAL),
    and an AsyncSqliteSaver on the official file, opened on `loop`."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    official_path, accord_path = folder / "official.db", folder / "accord.db"
    conn = sqlite3.connect(official_path, check_same_thread=False)
    if equal:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    official = SqliteSaver(conn)
    official.setup()
    # From a URL, as Sessions make it: its async methods then run on its sync driver (see
    # accord.persistence.ops.offload). The probe is the engine it builds, to read settings.
    ours = SQLAlchemySaver.from_url(f"sqlite:///{accord_path}")
    ours.setup()
    engine = create_sync(resolve(f"sqlite:///{accord_path}"), {})
    with engine.connect() as probe:
        mode = probe.exec_driver_sql("PRAGMA journal_mode").scalar()
        sync = probe.exec_driver_sql("PRAGMA synchronous").scalar_one()
    engine.dispose()
    label = "sqlite=" if equal else "sqlite"
    SETTINGS.append(f"{label}: official journal_mode={_pragma(conn, 'journal_mode')}")
    SETTINGS[-1] += f" synchronous={_SYNC[_pragma(conn, 'synchronous')]}"
    SETTINGS.append(f"{label}: accord   journal_mode={mode} synchronous={_SYNC[int(sync)]}")
    aio = loop.run_until_complete(_aiosqlite(official_path, equal=equal))
    try:
        yield (
            [
                ("official", official, lambda: _sqlite_size(official_path)),
                ("accord", ours, lambda: _sqlite_size(accord_path)),
            ],
            aio,
        )
    finally:
        loop.run_until_complete(ours.aclose())
        loop.run_until_complete(aio.conn.close())
        conn.close()


async def _aiosqlite(path: Path, *, equal: bool) -> Any:
    """An AsyncSqliteSaver on `path` (made on the loop it runs on, as it requires)."""
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    conn = await aiosqlite.connect(path)
    if equal:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
    saver = AsyncSqliteSaver(conn)
    await saver.setup()
    return saver


_SYNC = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _pragma(conn: sqlite3.Connection, name: str) -> Any:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def _sqlite_size(path: Path) -> int:
    """Bytes in use: pages of the database once the WAL is folded in, minus free pages."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)
    finally:
        conn.close()


@contextmanager
def postgres_savers(
    admin: str, loop: asyncio.AbstractEventLoop
) -> Iterator[tuple[Savers, BaseCheckpointSaver[Any]]]:
    """PostgresSaver and SQLAlchemySaver in one scratch database, created and dropped here,
    and an AsyncPostgresSaver on it, opened on `loop`."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    name = f"accord_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin).set(database=name)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with PostgresSaver.from_conn_string(libpq) as official:
            official.setup()
            # from_conn_string opens one connection, not a pool.
            assert isinstance(official.conn, psycopg.Connection)
            probe = official.conn.execute("SHOW synchronous_commit").fetchone()
            assert probe is not None
            SETTINGS.append(
                f"postgres: both savers synchronous_commit={probe['synchronous_commit']}"
            )
            ours = SQLAlchemySaver.from_url(url)
            ours.setup()
            sizer = create_engine(url, poolclass=NullPool)
            opened: AbstractAsyncContextManager[Any] = AsyncPostgresSaver.from_conn_string(libpq)
            aio = loop.run_until_complete(opened.__aenter__())
            try:
                yield (
                    [
                        ("official", official, lambda: _pg_size(sizer, "checkpoint%")),
                        ("accord", ours, lambda: _pg_size(sizer, "accord_%")),
                    ],
                    aio,
                )
            finally:
                loop.run_until_complete(opened.__aexit__(None, None, None))
                loop.run_until_complete(ours.aclose())
                sizer.dispose()
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


def _pg_size(engine: Any, pattern: str) -> int:
    """Heap, index and TOAST bytes of the tables whose names match `pattern`."""
    with engine.connect() as conn:
        size = conn.execute(
            text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname LIKE :p"
            ),
            {"p": pattern},
        ).scalar()
    return int(size or 0)


# --- reporting -------------------------------------------------------------------------------


def run(
    backend: str,
    sides: tuple[Savers, BaseCheckpointSaver[Any]],
    loop: asyncio.AbstractEventLoop,
    args: Any,
) -> list[list[str]]:
    """Every measure of one backend: sync micro-operations, async ones (the official async
    saver against accord's saver's async methods), then the conversation."""
    savers, official_async = sides
    by_name = {name: saver for name, saver, _ in savers}
    by_name_async = {"official": official_async, "accord": by_name["accord"]}
    micro(by_name, 50, rounds=1)  # warm up: caches, pools, prepared statements
    micro(by_name_async, 50, rounds=1, loop=loop)
    results = conversation({name: (saver, size) for name, saver, size in savers}, args.turns)
    for name, ops in micro(by_name, args.ops).items():
        results[name].ops = ops
    for name, ops in micro(by_name_async, args.ops, loop=loop).items():
        results[name].ops |= {f"a{op}": measured for op, measured in ops.items()}
    official, accord = results["official"], results["accord"]
    rows = []
    for op in (*OPERATIONS, *(f"a{op}" for op in OPERATIONS)):
        (a, a_cpu), (o, o_cpu) = accord.ops[op], official.ops[op]
        rows.append([backend, f"{op} (ops/s)", f"{o:,.0f}", f"{a:,.0f}", f"{a / o:.2f}"])
        ratio = f"{o_cpu / a_cpu:.2f}"
        rows.append([backend, "  CPU µs/call", f"{o_cpu:.0f}", f"{a_cpu:.0f}", ratio])
    o_turn, a_turn = statistics.mean(official.turn_ms), statistics.mean(accord.turn_ms)
    rows.append(
        [
            backend,
            f"{args.turns}-turn chat: ms/turn",
            f"{o_turn:.2f}",
            f"{a_turn:.2f}",
            f"{o_turn / a_turn:.2f}",
        ]
    )
    o_last, a_last = statistics.mean(official.turn_ms[-50:]), statistics.mean(accord.turn_ms[-50:])
    rows.append(
        [
            backend,
            "  last 50 turns: ms/turn",
            f"{o_last:.2f}",
            f"{a_last:.2f}",
            f"{o_last / a_last:.2f}",
        ]
    )
    rows.append(
        [
            backend,
            "  database size (MB)",
            f"{official.size / 1e6:.2f}",
            f"{accord.size / 1e6:.2f}",
            f"{official.size / max(accord.size, 1):.2f}",
        ]
    )
    for label, o, a in (
        ("turns 1-50", official.early, accord.early),
        ("last 50 turns", official.late, accord.late),
    ):
        rows.append(
            [
                backend,
                f"  KB/turn, {label}",
                f"{o / 50e3:.1f}",
                f"{a / 50e3:.1f}",
                f"{o / max(a, 1):.2f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--postgres", default=PG_ADMIN, help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    args.turns = max(args.turns, 101)
    rows: list[list[str]] = []
    started = time.perf_counter()
    loop = asyncio.new_event_loop()
    for equal in (False, True):
        with (
            tempfile.TemporaryDirectory() as folder,
            sqlite_savers(Path(folder), loop, equal=equal) as sides,
        ):
            rows += run("sqlite=" if equal else "sqlite", sides, loop, args)
    if not args.no_postgres:
        with postgres_savers(args.postgres, loop) as sides:
            rows += run("postgres", sides, loop, args)
    loop.close()
    header = ["backend", "measure", "official", "accord", "ratio"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        "\nratio >= 1.00: accord ahead (ops/s accord÷official; time, CPU and size official÷accord)"
    )
    print("settings:", *SETTINGS, sep="\n  ")
    print(f"took {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
