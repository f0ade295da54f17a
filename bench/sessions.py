"""Cost of a session turn: accord `Sessions.asend` vs plain LangGraph on the official savers.

Three sides run the same handoff graph (one scripted agent), durability "sync" (each step
written before the next, what crash safety needs), on SQLite and on PostgreSQL:

- plain LangGraph `ainvoke` on the official saver (`AsyncSqliteSaver` / `AsyncPostgresSaver`),
  the baseline: what users would otherwise write;
- plain LangGraph `ainvoke` on accord's `SQLAlchemySaver`;
- accord `Session.asend`, which adds per turn the scope check, the lease, the budget meter,
  the audit trail and the usage on the record.

Two workloads: *sequential* (sessions one after another, `--turns` turns each, no model
latency: the whole cost is the framework's and the database's) and *concurrent* (`--concurrent`
conversations of two turns at once, on a model that takes 50 ms). Printed per turn: CPU ms
(`time.process_time`, this process: the drivers run in it) and wall ms (for the concurrent
load, wall time over turns, the inverse of throughput), and each side's ratio to the official
saver's (<= 1.0: accord costs no more). The sides run interleaved, round by round, and each
figure is the median of the rounds, so a change of load hits every side alike.

SQLite runs at equal durability: the official saver's connection is switched to accord's WAL
+ `synchronous=NORMAL` (its own defaults, rollback journal and FULL, cost it an fsync per
commit). PostgreSQL: a scratch database this script creates and drops; the official saver
runs on a psycopg pool as large as accord's. Also measured: resume latency at 10 and 800
messages of history.
Run: `.venv/bin/python bench/sessions.py [--rounds 3] [--sessions 30] [--turns 10]
[--concurrent 1000] [--postgres URL | --no-postgres]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from accord.agents import Agent, ScriptedModel
from accord.graphs import Sessions, handoff
from accord.persistence import SQLAlchemySaver

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LATENCY = 0.05
CONCURRENT_TURNS = 2
POOL = 20  # accord's default pool size (DEFAULT_CONCURRENCY), for the official saver too
SIDES = ("official", "accord saver", "accord asend")
Turns = Callable[[str, int, int, float], Awaitable[None]]
"""(prefix, sessions, turns per session, model latency) -> runs them: at once when the model
has latency (the concurrent load), else one session after another."""


def _answer(messages: list[BaseMessage]) -> dict[str, Any]:
    return {"reply": "Noted.", "handoff_to": "none"}


def _graph(latency: float) -> Any:
    model = ScriptedModel([_answer], cycle=True, latency=latency)
    return handoff([Agent(name="desk", description="The desk.", models=(model,))])


def _plain(saver: BaseCheckpointSaver[Any]) -> Turns:
    async def run(prefix: str, sessions: int, turns: int, latency: float) -> None:
        graph = _graph(latency).copy({"checkpointer": saver})

        async def conversation(i: int) -> None:
            config = {"configurable": {"thread_id": f"{prefix}-{i}"}}
            for turn in range(turns):
                payload = {"messages": [HumanMessage(f"message {turn}")]}
                await graph.ainvoke(payload, config, durability="sync")

        await _all(conversation, sessions, latency)

    return run


async def _all(
    conversation: Callable[[int], Awaitable[None]], sessions: int, latency: float
) -> None:
    if latency:
        await asyncio.gather(*(conversation(i) for i in range(sessions)))
    else:
        for i in range(sessions):
            await conversation(i)


@asynccontextmanager
async def _accord(url: str) -> AsyncIterator[Turns]:
    """`Session.asend` turns; one `Sessions` per model latency, on one database."""
    runtimes = {latency: Sessions(_graph(latency), db=url) for latency in (0.0, LATENCY)}
    try:

        async def run(prefix: str, sessions: int, turns: int, latency: float) -> None:
            runtime = runtimes[latency]

            async def conversation(i: int) -> None:
                session = await runtime.aopen(f"{prefix}-{i}")
                for turn in range(turns):
                    await session.asend(f"message {turn}")

            await _all(conversation, sessions, latency)

        yield run
    finally:
        for runtime in runtimes.values():
            await runtime.aclose()


@asynccontextmanager
async def _sqlite(folder: Path) -> AsyncIterator[dict[str, Turns]]:
    official_file = folder / "official.db"
    async with AsyncSqliteSaver.from_conn_string(str(official_file)) as official:
        # Equal durability: accord's SQLite settings (WAL, synchronous=NORMAL).
        await official.conn.execute("PRAGMA journal_mode=WAL")
        await official.conn.execute("PRAGMA synchronous=NORMAL")
        await official.setup()
        async with SQLAlchemySaver(f"sqlite:///{folder / 'saver.db'}") as saver:
            await saver.asetup()
            async with _accord(f"sqlite:///{folder / 'accord.db'}") as accord:
                yield {
                    "official": _plain(official),
                    "accord saver": _plain(saver),
                    "accord asend": accord,
                }


@asynccontextmanager
async def _postgres(admin: str) -> AsyncIterator[dict[str, Turns]]:
    name = f"accord_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin).set(database=name)
    plain_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        async with AsyncConnectionPool(
            plain_url,
            min_size=POOL // 2,
            max_size=POOL,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        ) as pool:
            await pool.wait()  # its connections open in the background: not inside a measurement
            official = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await official.setup()
            accord_url = url.render_as_string(hide_password=False)
            async with SQLAlchemySaver(accord_url) as saver, _accord(accord_url) as accord:
                await saver.asetup()
                yield {
                    "official": _plain(official),
                    "accord saver": _plain(saver),
                    "accord asend": accord,
                }
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


async def _measure(
    sides: dict[str, Any], rounds: int, workloads: dict[str, tuple[int, int, float]]
) -> dict[tuple[str, str], tuple[float, float]]:
    """Median (CPU ms, wall ms) per turn of each (workload, side), sides interleaved."""
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for round_ in range(rounds + 1):  # round 0 warms every side up and is dropped
        for workload, (sessions, turns, latency) in workloads.items():
            for side, run in sides.items():
                prefix = f"{workload}-{round_}-{uuid.uuid4().hex[:6]}"
                cpu, wall = time.process_time(), time.perf_counter()
                await run(prefix, sessions if round_ else 2, turns, latency)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                if round_:
                    per_turn = 1000 / (sessions * turns)
                    samples.setdefault((workload, side), []).append(
                        (cpu * per_turn, wall * per_turn)
                    )
    return {
        key: (statistics.median(c for c, _ in got), statistics.median(w for _, w in got))
        for key, got in samples.items()
    }


async def _bench(name: str, opened: Any, rounds: int, workloads: dict[str, Any]) -> None:
    async with opened as sides:
        results = await _measure(sides, rounds, workloads)
    for workload, (sessions, turns, latency) in workloads.items():
        shape = f"{sessions} sessions x {turns} turns, model {latency * 1000:.0f} ms"
        print(f"\n{name}, {workload} ({shape}); per turn, median of {rounds} rounds")
        print(f"{'':<34}{'CPU ms':>8}{'wall ms':>9}{'CPU x':>8}{'wall x':>8}")
        base_cpu, base_wall = results[(workload, "official")]
        for side in SIDES:
            cpu, wall = results[(workload, side)]
            label = {
                "official": "plain LangGraph + official saver",
                "accord saver": "plain LangGraph + SQLAlchemySaver",
                "accord asend": "accord Sessions.asend",
            }[side]
            print(f"{label:<34}{cpu:8.2f}{wall:9.2f}{cpu / base_cpu:8.2f}{wall / base_wall:8.2f}")


async def _resume(folder: Path) -> None:
    url = f"sqlite:///{folder / 'resume.db'}"
    async with Sessions(_graph(0.0), db=url) as sessions:
        for messages in (10, 800):
            session = await sessions.aopen("alice")
            for turn in range(messages // 2):
                await session.asend(f"message {turn}")
            samples = []
            for _ in range(50):
                started = time.perf_counter()
                again = await sessions.aresume(session.id, "alice")
                await again.astate()
                samples.append(time.perf_counter() - started)
            print(
                f"resume + read state at {messages:>4} messages (SQLite): "
                f"median {statistics.median(samples) * 1000:.2f} ms"
            )


async def main(args: argparse.Namespace) -> None:
    workloads = {
        "sequential": (args.sessions, args.turns, 0.0),
        "concurrent": (args.concurrent, CONCURRENT_TURNS, LATENCY),
    }
    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as folder:
        await _bench("SQLite", _sqlite(Path(folder)), args.rounds, workloads)
        if not args.no_postgres:
            await _bench("PostgreSQL", _postgres(args.postgres), args.rounds, workloads)
        print()
        await _resume(Path(folder))
    print(f"load average after: {_load()}")


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--sessions", type=int, default=30, help="sequential sessions")
    parser.add_argument("--turns", type=int, default=10, help="turns per sequential session")
    parser.add_argument("--concurrent", type=int, default=1000, help="concurrent sessions")
    parser.add_argument("--postgres", default=PG_ADMIN, help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    asyncio.run(main(parser.parse_args()))
