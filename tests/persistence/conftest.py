"""Database fixtures: one fresh database per backend per test session, dropped afterwards.

`saver_url` is parametrised over sqlite, postgres and mariadb; every test that takes it (or
`saver`) runs once per backend. A server that cannot be reached skips its tests with the
reason, except under `CI=true`, where it fails them: CI must exercise every backend.

Server URLs default to the local trust-auth servers and can be overridden with
`ACCORD_TEST_POSTGRES_URL` / `ACCORD_TEST_MARIADB_URL` (a URL of a database the user may
create databases from).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from databases import Databases
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from accord.persistence import SQLAlchemySaver
from accord.persistence.schema import blobs


@pytest.fixture
async def saver(saver_url: str) -> AsyncIterator[SQLAlchemySaver]:
    """A migrated saver on this session's database, closed after the test."""
    async with SQLAlchemySaver.from_url(saver_url) as s:
        await s.asetup()
        yield s


class Store:
    """Direct helpers over one saver and its database, for tests of the storage layout."""

    def __init__(self, saver: SQLAlchemySaver, url: str) -> None:
        self.saver = saver
        self.url = url

    async def put(
        self,
        thread_id: str,
        values: dict[str, Any],
        *,
        parent: RunnableConfig | None = None,
        saver: BaseCheckpointSaver[Any] | None = None,
        **metadata: Any,
    ) -> RunnableConfig:
        """Store a checkpoint whose changed channels are `values`; versions come from the saver.

        The checkpoint holds every channel's value, the unchanged ones from `parent`, as
        LangGraph's checkpoints do.
        """
        saver = saver or self.saver
        config = generate_config(thread_id)
        previous: dict[str, Any] = {}
        kept: dict[str, Any] = {}
        if parent is not None:
            config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
            before = await saver.aget_tuple(parent)
            assert before is not None
            previous = dict(before.checkpoint["channel_versions"])
            kept = dict(before.checkpoint["channel_values"])
        new = {k: saver.get_next_version(previous.get(k), None) for k in values}
        checkpoint = generate_checkpoint(
            channel_values=kept | values, channel_versions=previous | new
        )
        return await saver.aput(config, checkpoint, generate_metadata(**metadata), new)

    async def values(
        self, config: RunnableConfig, saver: BaseCheckpointSaver[Any] | None = None
    ) -> dict[str, Any]:
        """The channel values of the checkpoint `config` names."""
        loaded = await (saver or self.saver).aget_tuple(config)
        assert loaded is not None
        return loaded.checkpoint["channel_values"]

    def blob_rows(self, thread_id: str) -> list[Any]:
        """The thread's value rows: (channel, version, base, depth), oldest first."""
        query = (
            select(blobs.c.channel, blobs.c.version, blobs.c.base, blobs.c.depth)
            .where(blobs.c.thread_id == thread_id)
            .order_by(blobs.c.version)
        )
        return self.query(query)

    def query(self, statement: Any) -> list[Any]:
        """Rows of a SELECT run outside the saver."""
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return list(conn.execute(statement))
        finally:
            engine.dispose()

    def execute(self, statement: Any) -> None:
        """Run one statement outside the saver, committed."""
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                conn.execute(statement)
        finally:
            engine.dispose()


@pytest.fixture
def store(saver: SQLAlchemySaver, saver_url: str) -> Store:
    """Storage-level helpers over `saver`."""
    return Store(saver, saver_url)


class AnyDatabases:
    """Scratch databases on any backend, made on demand, for tests that span backends.

    A replicated saver needs its primary and replicas on different databases, often on
    different servers, whatever backend `saver_url` runs on.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._servers: dict[str, Databases] = {}

    def create(self, backend: str) -> str:
        """A new empty database on `backend` (skipped, or failed under CI, if unreachable)."""
        if backend not in self._servers:
            self._servers[backend] = Databases(backend, self._folder)
        return self._servers[backend].create()

    def take_away(self, url: str) -> None:
        """Make a database this object created unreachable, as a lost server would be.

        PostgreSQL: `DROP DATABASE ... WITH (FORCE)`, which also ends its sessions.
        MariaDB: its connections are killed, then the database is dropped.
        SQLite: the file (and its WAL) is deleted and a directory put in its place, which
        SQLite can neither open nor silently recreate as an empty database. Connections a
        process already holds would go on writing to the unlinked file, so the caller must
        also close the saver's connections (its engines reconnect on next use and fail).
        """
        parsed = make_url(url)
        name = parsed.database
        assert name is not None
        backend = {"sqlite": "sqlite", "postgresql": "postgres"}.get(
            parsed.get_backend_name(), "mariadb"
        )
        if backend == "sqlite":
            path = Path(name)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            path.mkdir()
            return
        server = self._servers[backend]
        with server._admin_connection() as conn:
            if server.backend == "postgres":
                conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
                return
            ids = conn.execute(
                text("SELECT id FROM information_schema.processlist WHERE db = :db"), {"db": name}
            ).scalars()
            for process in list(ids):
                conn.execute(text(f"KILL {int(process)}"))
            conn.execute(text(f"DROP DATABASE {name}"))

    def drop_all(self) -> None:
        """Drop every database made here (taken-away ones are gone already)."""
        for server in self._servers.values():
            server.drop_all()


@pytest.fixture(scope="session")
def any_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnyDatabases]:
    """Scratch databases on any backend, dropped at the end of the session."""
    dbs = AnyDatabases(tmp_path_factory.mktemp("any"))
    yield dbs
    dbs.drop_all()
