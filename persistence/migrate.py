"""Apply accord's Alembic migrations programmatically, safely from several processes at once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from accord.persistence.schema import PREFIX, VERSION_TABLE

if TYPE_CHECKING:  # Alembic is imported when a database is set up, not with accord
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_NAME = "accord_migrations"
LOCK_TIMEOUT_S = 300
# pg_advisory_xact_lock takes a bigint; derive a stable one from the lock's name.
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)


def config(url: str | None = None) -> Config:
    """An Alembic config for accord's migrations, with no alembic.ini on disk.

    Args:
        url: A database URL, for Alembic commands that connect by themselves (for example
            `alembic.command.revision(config(url), "add sessions", autogenerate=True)`).

    Returns:
        The config; `upgrade` fills in the connection itself.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_table", VERSION_TABLE)
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def ours(name: str | None, type_: str, *_: object) -> bool:
    """Alembic's `include_name` filter: only accord's tables (and everything inside them).

    A shared database holds other applications' tables; autogenerate must not touch them.
    """
    return type_ != "table" or (name or "").startswith(PREFIX)


def head() -> str | None:
    """The newest revision shipped with this version of accord."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config()).get_current_head()


def current(connection: Connection) -> str | None:
    """The revision the database on `connection` is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def ensure(connection: Connection) -> None:
    """Upgrade the database on `connection` unless it is at the newest revision already.

    One SELECT decides, so opening an up-to-date database (every read command, every process
    after the first) never loads Alembic, which costs a few hundred ms of start-up.
    """
    if stored(connection) != newest():
        upgrade(connection)


def newest() -> str:
    """The newest revision shipped: revision ids are their file names, numbered in order."""
    return max(path.stem for path in (MIGRATIONS / "versions").glob("[0-9]*.py"))


def stored(connection: Connection) -> str | None:
    """The revision recorded in the database, read without Alembic (None: none, or unsure).

    Leaves `connection` outside any transaction, as `upgrade` needs it.
    """
    try:
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except DBAPIError:  # no version table yet: a new database
        found = []
    connection.rollback()
    return str(found[0][0]) if len(found) == 1 else None


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the database up to `revision` under a lock, so concurrent callers take turns.

    The first caller creates the tables; the others wait for the lock, then find nothing to do.
    The connection must not be in a transaction; it is committed on return.

    Args:
        connection: A connection to the database to migrate.
        revision: The target revision; the newest by default.
    """
    cfg = config()
    with _locked(connection):
        cfg.attributes["connection"] = connection
        from alembic import command

        command.upgrade(cfg, revision)


@contextmanager
def _locked(connection: Connection) -> Iterator[None]:
    dialect = connection.dialect.name
    if dialect in ("mysql", "mariadb"):
        # DDL commits implicitly on MySQL, so only a session-level named lock spans a migration.
        got = connection.execute(
            text("SELECT GET_LOCK(:name, :timeout)"),
            {"name": LOCK_NAME, "timeout": LOCK_TIMEOUT_S},
        ).scalar()
        connection.commit()
        if got != 1:
            raise TimeoutError(f"waited {LOCK_TIMEOUT_S}s for the {LOCK_NAME} lock")
        try:
            with connection.begin():
                yield
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
            connection.commit()
        return
    # SQLite and PostgreSQL have transactional DDL: hold the lock for the one transaction.
    with connection.execution_options(accord_write=True).begin():
        if dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        yield
