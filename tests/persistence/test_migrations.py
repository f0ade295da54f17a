"""Schema by Alembic: prefixed tables, our own version table, safe concurrent first use."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from accord.persistence import SQLAlchemySaver, migrate
from accord.persistence.engine import resolve


def _tables(url: str) -> set[str]:
    engine = create_engine(resolve(url).sync_url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(resolve(url).sync_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return migrate.current(conn)
    finally:
        engine.dispose()


async def test_setup_creates_prefixed_tables_beside_other_apps(
    fresh_url: Callable[[], str],
) -> None:
    url = fresh_url()
    engine = create_engine(resolve(url).sync_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:  # another application's Alembic bookkeeping
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('their_head')"))
        async with SQLAlchemySaver.from_url(url) as saver:
            await saver.asetup()
            saver.setup()  # idempotent, from either side
        with engine.connect() as conn:
            theirs = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert theirs == "their_head"
    assert _tables(url) == {
        "alembic_version",
        "accord_alembic_version",
        "accord_checkpoints",
        "accord_blobs",
        "accord_replication",
        "accord_writes",
        "accord_sessions",
        "accord_leases",
        "accord_audit",
    }
    assert _revision(url) == migrate.head() == "0003_replica_epoch"


def _first_use(url: str, start_at: float, worker: int) -> str:
    """One process's first use of a new database: migrate, then store a checkpoint."""
    time.sleep(max(0.0, start_at - time.time()))
    with SQLAlchemySaver.from_url(url) as saver:
        checkpoint = generate_checkpoint(channel_values={"w": worker}, channel_versions={"w": 1})
        stored = saver.put(
            generate_config(f"worker-{worker}"), checkpoint, generate_metadata(), {"w": 1}
        )
        return str(stored["configurable"]["checkpoint_id"])


def test_concurrent_first_use_by_several_processes(fresh_url: Callable[[], str]) -> None:
    url = fresh_url()
    workers = 3
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        # Let every process finish importing before they all migrate at the same instant.
        start_at = time.time() + 4.0
        futures = [pool.submit(_first_use, url, start_at, w) for w in range(workers)]
        ids = [f.result(timeout=120) for f in futures]
    assert len(set(ids)) == workers
    assert _revision(url) == migrate.head()
    with SQLAlchemySaver.from_url(url) as saver:
        for w in range(workers):
            loaded = saver.get_tuple(generate_config(f"worker-{w}"))
            assert loaded is not None
            assert loaded.checkpoint["channel_values"] == {"w": w}


def test_the_newest_revision_is_read_without_alembic_as_alembic_reads_it() -> None:
    # `migrate.ensure` compares the database with it before it would load Alembic.
    assert migrate.newest() == migrate.head()


def test_an_up_to_date_database_is_opened_without_loading_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
    code = (
        "import sys\n"
        "from accord.persistence import SessionStore, SQLAlchemySaver\n"
        f"with SQLAlchemySaver.from_url({url!r}) as saver:\n"
        "    assert SessionStore(saver).list() == []\n"
        "assert 'alembic' not in sys.modules, 'opening an up-to-date database loaded Alembic'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
