"""Benchmark: the cost of replication, and how long a failover takes.

Write latency: the same chain of checkpoints (`aput`, a ~300-character value each) written
through one SQLAlchemySaver and through a ReplicatedSaver with one replica, interleaved
round by round (shared disks swing several-fold within seconds); the median per put and the
ratio replicated / single (1.0 = free; about 2 expected on SQLite, where both copies share
one disk and the replica is written after the primary acknowledged).

Failover: the primary is taken away for real (SQLite: its file deleted, a directory in its
place and its connections dropped; PostgreSQL: its scratch database dropped WITH FORCE),
then the first put (which finds the primary dead and fails over) and the following puts
(which must not try the dead primary again) are timed.

Run: python bench/replication.py [--puts 200] [--postgres URL] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from accord.persistence import ReplicatedSaver, SQLAlchemySaver

FILLER = "The quick brown fox jumps over the lazy dog while the bench keeps time. " * 4
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROUNDS = 5
AFTER = 20


class Chain:
    """A thread whose checkpoints each follow the previous one, as a conversation's do."""

    def __init__(self, saver: BaseCheckpointSaver[Any]) -> None:
        self.saver = saver
        self.config: RunnableConfig = {
            "configurable": {"thread_id": uuid.uuid4().hex, "checkpoint_ns": ""}
        }
        self.version: str | None = None

    async def put(self) -> float:
        """Store the next checkpoint; its latency in seconds."""
        checkpoint = empty_checkpoint()
        checkpoint["id"] = str(uuid6())
        self.version = self.saver.get_next_version(self.version, None)
        checkpoint["channel_values"] = {"text": FILLER}
        checkpoint["channel_versions"] = {"text": self.version}
        start = time.perf_counter()
        self.config = await self.saver.aput(
            self.config, checkpoint, {"source": "loop", "step": 0}, {"text": self.version}
        )
        return time.perf_counter() - start


async def _timed(chain: Chain, puts: int) -> list[float]:
    return [await chain.put() for _ in range(puts)]


async def write_latency(single: SQLAlchemySaver, replicated: ReplicatedSaver, puts: int) -> None:
    """Print the median put latency of each saver and their ratio."""
    one, both = Chain(single), Chain(replicated)
    await one.put(), await both.put()  # migrations and connections out of the way
    ones: list[float] = []
    boths: list[float] = []
    for _ in range(ROUNDS):
        ones += await _timed(one, puts // ROUNDS)
        boths += await _timed(both, puts // ROUNDS)
    a, b = statistics.median(ones), statistics.median(boths)
    print(f"  put, single saver       {a * 1e3:8.3f} ms (median of {len(ones)})")
    print(f"  put, replicated (1 rep) {b * 1e3:8.3f} ms")
    print(f"  ratio replicated/single {b / a:8.2f}")


async def failover(replicated: ReplicatedSaver, take_away: Callable[[], Awaitable[None]]) -> None:
    """Print the time of the first put after the primary dies and of the following ones."""
    chain = Chain(replicated)
    before = await _timed(chain, AFTER)
    await take_away()
    first = await chain.put()
    after = await _timed(chain, AFTER)
    assert replicated.acting() is replicated.members[1], "did not fail over"
    print(f"  put before the failure  {statistics.median(before) * 1e3:8.3f} ms (median)")
    print(f"  first put after failure {first * 1e3:8.3f} ms (detects it, fails over)")
    print(f"  following puts          {statistics.median(after) * 1e3:8.3f} ms (median)")
    print(f"  ratio first/following   {first / statistics.median(after):8.1f}")


async def sqlite_run(folder: Path, puts: int) -> None:
    """Both measurements with SQLite files for the primary and the replica."""
    print("SQLite primary, SQLite replica")
    async with (
        SQLAlchemySaver(f"sqlite:///{folder / 'single.db'}") as single,
        ReplicatedSaver(
            SQLAlchemySaver(f"sqlite:///{folder / 'primary.db'}"),
            SQLAlchemySaver(f"sqlite:///{folder / 'replica.db'}"),
        ) as replicated,
    ):
        await write_latency(single, replicated, puts)
    primary_path = folder / "doomed.db"
    primary = SQLAlchemySaver(f"sqlite:///{primary_path}")

    async def lose_file() -> None:
        _replace_with_folder(primary_path)
        await primary.aclose()  # open handles would still reach the unlinked file

    replica = SQLAlchemySaver(f"sqlite:///{folder / 'survivor.db'}")
    async with ReplicatedSaver(primary, replica, cooldown=60) as replicated:
        await failover(replicated, lose_file)


async def postgres_run(admin: str, folder: Path, puts: int) -> None:
    """Both measurements with a PostgreSQL primary and a SQLite replica."""
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    names = [f"accord_bench_{uuid.uuid4().hex[:10]}" for _ in range(3)]
    url = make_url(admin)
    try:
        with engine.connect() as conn:
            for name in names:
                conn.execute(text(f"CREATE DATABASE {name}"))
        urls = [url.set(database=n).render_as_string(hide_password=False) for n in names]
        print("PostgreSQL primary, SQLite replica")
        async with (
            SQLAlchemySaver(urls[0]) as single,
            ReplicatedSaver(
                SQLAlchemySaver(urls[1]), SQLAlchemySaver(f"sqlite:///{folder / 'pg-rep.db'}")
            ) as replicated,
        ):
            await write_latency(single, replicated, puts)

        async def drop() -> None:
            with engine.connect() as conn:
                conn.execute(text(f"DROP DATABASE {names[2]} WITH (FORCE)"))

        async with ReplicatedSaver(
            SQLAlchemySaver(urls[2]), SQLAlchemySaver(f"sqlite:///{folder / 'pg-surv.db'}")
        ) as replicated:
            await failover(replicated, drop)
    finally:
        with engine.connect() as conn:
            for name in names:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


def _replace_with_folder(path: Path) -> None:
    """Delete a SQLite database and put a folder there, so it can be neither opened nor made."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()


def _reachable(admin: str) -> bool:
    engine = create_engine(admin, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError as exc:
        print(f"PostgreSQL skipped: {getattr(exc, 'orig', exc)}")
        return False
    finally:
        engine.dispose()


async def main() -> None:
    """Parse the arguments and run every measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--puts", type=int, default=200)
    parser.add_argument("--postgres", default=PG_ADMIN)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await sqlite_run(Path(tmp), args.puts)
        if not args.no_postgres and _reachable(args.postgres):
            await postgres_run(args.postgres, Path(tmp), args.puts)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.ERROR)  # the failover's warning is expected here
    asyncio.run(main())
