"""Database fixtures: one fresh database per backend per test session, dropped afterwards.

`saver_url` is parametrised over sqlite, postgres and mariadb; every test that takes it (or
`saver`) runs once per backend. A server that cannot be reached skips its tests with the
reason, except under `CI=true`, where it fails them: CI must exercise every backend.

Server URLs default to the local trust-auth servers and can be overridden with
`ACCORD_TEST_POSTGRES_URL` / `ACCORD_TEST_MARIADB_URL` (a URL of a database the user may
create databases from).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from accord.persistence import SQLAlchemySaver
from accord.persistence.schema import blobs

BACKENDS = ("sqlite", "postgres", "mariadb")
SERVERS = {
    "postgres": os.environ.get(
        "ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get("ACCORD_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}


class Databases:
    """Creates and drops scratch databases on one server (or SQLite files in one folder)."""

    def __init__(self, backend: str, folder: Path) -> None:
        """Check the server is reachable; skip (or fail under CI) when it is not."""
        self.backend = backend
        self._folder = folder
        self._made: list[str] = []
        if backend == "sqlite":
            return
        self._admin = make_url(SERVERS[backend])
        try:
            with self._admin_connection() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            where = self._admin.render_as_string(hide_password=True)
            reason = (
                f"{backend} server at {where} is unreachable: {getattr(exc, 'orig', None) or exc}"
            )
            if os.environ.get("CI") == "true":
                pytest.fail(f"{reason} (CI=true requires every backend)")
            pytest.skip(reason)

    def create(self) -> str:
        """A new empty database; returns its URL (with the password)."""
        name = f"accord_test_{uuid.uuid4().hex[:12]}"
        if self.backend == "sqlite":
            return f"sqlite:///{self._folder / name}.db"
        with self._admin_connection() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        self._made.append(name)
        return self._admin.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        """Drop every database this object created."""
        if self.backend == "sqlite" or not self._made:
            return
        force = " WITH (FORCE)" if self.backend == "postgres" else ""
        with self._admin_connection() as conn:
            for name in self._made:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        self._made.clear()

    @contextmanager
    def _admin_connection(self) -> Iterator[Connection]:
        # AUTOCOMMIT: CREATE/DROP DATABASE refuse to run inside a transaction.
        engine = create_engine(self._admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    """Scratch-database factory for one backend, cleaned up at the end of the session."""
    dbs = Databases(request.param, tmp_path_factory.mktemp("sqlite"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def saver_url(databases: Databases) -> str:
    """URL of this session's database for the backend (sqlite, postgres, mariadb)."""
    return databases.create()


@pytest.fixture
def fresh_url(databases: Databases) -> Callable[[], str]:
    """Makes brand-new empty databases, for tests that need one nobody has migrated."""
    return databases.create


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
        """Store a checkpoint whose changed channels are `values`; versions come from the saver."""
        saver = saver or self.saver
        config = generate_config(thread_id)
        previous: dict[str, Any] = {}
        if parent is not None:
            config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
            before = await saver.aget_tuple(parent)
            assert before is not None
            previous = dict(before.checkpoint["channel_versions"])
        new = {k: saver.get_next_version(previous.get(k), None) for k in values}
        checkpoint = generate_checkpoint(channel_values=values, channel_versions=previous | new)
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
