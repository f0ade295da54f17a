"""The session tables (records, leases, audit) and the binding of their stores to a saver.

The migration `0002_sessions` creates these tables; this module describes their current shape
for the queries. Change both together.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeEngine

from accord.persistence.checkpoints.saver import SQLAlchemySaver
from accord.persistence.engine import Target
from accord.persistence.ops.driver import Operation
from accord.persistence.schema import (
    MYSQL_TABLE_OPTIONS,
    PREFIX,
    THREAD_ID_LENGTH,
    key,
    text,
)

T = TypeVar("T")
NAME_LENGTH = 191
STATUS_LENGTH = 32


def timestamp() -> TypeEngine[datetime]:
    """A UTC instant, stored naive with microseconds (MySQL's DATETIME keeps none by default)."""
    return (
        DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
    )


def big_id() -> TypeEngine[int]:
    """An autoincrementing id; SQLite only autoincrements a plain INTEGER primary key."""
    return BigInteger().with_variant(sqlite.INTEGER(), "sqlite")


metadata = MetaData()

sessions = Table(
    f"{PREFIX}sessions",
    metadata,
    Column("session_id", key(THREAD_ID_LENGTH), primary_key=True),
    Column("owner", key(NAME_LENGTH), nullable=False),
    Column("agent", key(NAME_LENGTH), nullable=True),
    Column("status", String(STATUS_LENGTH), nullable=False),
    Column("scope", text(), nullable=False),
    Column("limits", text(), nullable=False),
    Column("usage", text(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", timestamp(), nullable=False),
    Column("updated_at", timestamp(), nullable=False),
    Index(f"ix_{PREFIX}sessions_owner_status", "owner", "status"),
    **MYSQL_TABLE_OPTIONS,
)
"""One row per session; `session_id` is the LangGraph thread_id. JSON documents as text."""

leases = Table(
    f"{PREFIX}leases",
    metadata,
    Column("session_id", key(THREAD_ID_LENGTH), primary_key=True),
    Column("holder", key(NAME_LENGTH), nullable=False),
    Column("expires_at", timestamp(), nullable=False),
    **MYSQL_TABLE_OPTIONS,
)
"""At most one row per session: who may write to it, until when."""

audit = Table(
    f"{PREFIX}audit",
    metadata,
    Column("id", big_id(), primary_key=True, autoincrement=True),
    Column("session_id", key(THREAD_ID_LENGTH), nullable=False),
    Column("at", timestamp(), nullable=False),
    Column("actor", key(NAME_LENGTH), nullable=True),
    Column("kind", String(64), nullable=False),
    Column("agent", key(NAME_LENGTH), nullable=True),
    Column("details", text(), nullable=False),
    Index(f"ix_{PREFIX}audit_session_id", "session_id", "id"),
    **MYSQL_TABLE_OPTIONS,
)
"""Append-only events; `id` gives their order within a session."""


def utcnow() -> datetime:
    """Now in UTC, aware."""
    return datetime.now(UTC)


def to_db(moment: datetime) -> datetime:
    """An aware instant as the naive UTC value stored (naive input is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


def from_db(value: datetime | str) -> datetime:
    """A stored naive UTC value as an aware instant.

    Read on DBAPI directly (the native path), SQLite hands back the stored text.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def dumps(value: Any) -> str:
    """A JSON document, keys sorted so equal values store equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def loads(value: str) -> Any:
    """The document stored by `dumps`."""
    return json.loads(value)


class Replicating(Protocol):
    """A saver that runs store operations itself, e.g. `ReplicatedSaver` (writes to every copy)."""

    @property
    def _target(self) -> Target:
        """The database that answers reads now (its dialect builds the statements)."""

    def run_operation(self, op: Operation[T]) -> T:
        """Run an operation: a write on every copy, a read on one."""

    async def arun_operation(self, op: Operation[T]) -> T:
        """Async `run_operation`."""


Bind = SQLAlchemySaver | Replicating | str | URL
"""What a store binds to: a saver, a replicated saver, or a database URL."""


class Bound:
    """Runs session operations on a saver's drivers: the same engines, Runner and migrations.

    Built from a saver (which the caller keeps owning) or a URL (a saver owned here, closed by
    `close`/`aclose`). A replicating saver runs the operations itself.
    """

    def __init__(self, bind: Bind) -> None:
        """Bind to a saver, or to a new one for a database URL."""
        self._owned = isinstance(bind, (str, URL))
        self.saver = SQLAlchemySaver(bind) if isinstance(bind, (str, URL)) else bind

    def run(self, op: Operation[T]) -> T:
        """Run an operation on the saver's sync driver."""
        if isinstance(self.saver, SQLAlchemySaver):
            return self.saver._sync_driver().run(op)
        return self.saver.run_operation(op)

    async def arun(self, op: Operation[T]) -> T:
        """Run an operation on the saver's async driver."""
        if isinstance(self.saver, SQLAlchemySaver):
            return await self.saver._async_driver().run(op)
        return await self.saver.arun_operation(op)

    def close(self) -> None:
        """Close the saver if this store built it."""
        if isinstance(self.saver, SQLAlchemySaver) and self._owned:
            self.saver.close()

    async def aclose(self) -> None:
        """Async `close`."""
        if isinstance(self.saver, SQLAlchemySaver) and self._owned:
            await self.saver.aclose()


class Store:
    """Base of the stores kept beside the checkpoints: each runs on a saver's drivers."""

    def __init__(self, bind: Bind) -> None:
        """Use a saver's engines (the caller keeps owning it), or a new saver for a URL."""
        self._bound = Bound(bind)

    def close(self) -> None:
        """Close the saver if this store built it from a URL."""
        self._bound.close()

    async def aclose(self) -> None:
        """Async `close`."""
        await self._bound.aclose()
