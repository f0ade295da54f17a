"""Scratch databases for tests: SQLite files, and databases on the local PostgreSQL and MariaDB.

The fixtures built on it (`databases`, `saver_url`, `fresh_url`) live in tests/conftest.py,
so every part's tests can run the same test over every backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

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
