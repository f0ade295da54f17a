"""Every accord table, in one SQLAlchemy `MetaData` (the one Alembic's environment targets).

Every table is prefixed `accord_` so accord can share a database with other applications.
The migrations in `migrations/versions/` create these tables; this module describes their
current shape for the queries and for autogenerate. Change both together (a test compares
them on every backend).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.types import TypeEngine

PREFIX = "accord_"
VERSION_TABLE = f"{PREFIX}alembic_version"
"""Alembic's bookkeeping table, under our own name so other apps' Alembic setups never clash."""

# MySQL/MariaDB compare strings case- and accent-insensitively by default; checkpoint keys must
# compare byte for byte, so every table uses a binary collation there.
MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

THREAD_ID_LENGTH = 255
NAMESPACE_LENGTH = 255
CHANNEL_LENGTH = 191
TASK_ID_LENGTH = 191
ID_LENGTH = 64
NAME_LENGTH = 191
STATUS_LENGTH = 32


def key(length: int) -> TypeEngine[str]:
    """A text key column: arbitrary Unicode, compared byte for byte."""
    return String(length)


def ascii_key(length: int) -> TypeEngine[str]:
    """A machine-made identifier (checkpoint ids, channel versions): ASCII, ordered bytewise.

    ASCII keeps MySQL's 3072-byte index limit within reach of the composite primary keys, and
    the "C" collation makes PostgreSQL order ids by code point, as Python does.
    """
    return (
        String(length)
        .with_variant(mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql")
        .with_variant(mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mariadb")
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


def blob() -> TypeEngine[bytes]:
    """Binary payloads; MySQL's plain BLOB stops at 64 KiB, so use LONGBLOB there."""
    return (
        LargeBinary()
        .with_variant(mysql.LONGBLOB(), "mysql")
        .with_variant(mysql.LONGBLOB(), "mariadb")
    )


def text() -> TypeEngine[str]:
    """Long text (JSON documents); MySQL's plain TEXT stops at 64 KiB."""
    return Text().with_variant(mysql.LONGTEXT(), "mysql").with_variant(mysql.LONGTEXT(), "mariadb")


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

checkpoints = Table(
    f"{PREFIX}checkpoints",
    metadata,
    Column("thread_id", key(THREAD_ID_LENGTH), primary_key=True),
    Column("checkpoint_ns", key(NAMESPACE_LENGTH), primary_key=True),
    Column("checkpoint_id", ascii_key(ID_LENGTH), primary_key=True),
    Column("parent_checkpoint_id", ascii_key(ID_LENGTH), nullable=True),
    Column("run_id", key(THREAD_ID_LENGTH), nullable=True),
    Column("type", String(32), nullable=False),
    Column("checkpoint", blob(), nullable=False),
    Column("metadata", text(), nullable=False),
    Index(f"ix_{PREFIX}checkpoints_run_id", "run_id"),
    **MYSQL_TABLE_OPTIONS,
)
"""One row per checkpoint: the checkpoint without its channel values, and its metadata (JSON)."""

blobs = Table(
    f"{PREFIX}blobs",
    metadata,
    Column("thread_id", key(THREAD_ID_LENGTH), primary_key=True),
    Column("checkpoint_ns", key(NAMESPACE_LENGTH), primary_key=True),
    Column("channel", key(CHANNEL_LENGTH), primary_key=True),
    Column("version", ascii_key(ID_LENGTH), primary_key=True),
    Column("base", ascii_key(ID_LENGTH), nullable=True),
    Column("depth", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("data", blob(), nullable=False),
    **MYSQL_TABLE_OPTIONS,
)
"""One row per channel version that changed.

`base` is NULL for a full value. Otherwise the row is a list delta: `data` holds only the items
appended to the value stored at version `base` of the same channel, and `depth` counts the deltas
back to the nearest full value.
"""

writes = Table(
    f"{PREFIX}writes",
    metadata,
    Column("thread_id", key(THREAD_ID_LENGTH), primary_key=True),
    Column("checkpoint_ns", key(NAMESPACE_LENGTH), primary_key=True),
    Column("checkpoint_id", ascii_key(ID_LENGTH), primary_key=True),
    Column("task_id", key(TASK_ID_LENGTH), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("channel", key(CHANNEL_LENGTH), nullable=False),
    Column("type", String(32), nullable=False),
    Column("value", blob(), nullable=False),
    Column("task_path", text(), nullable=False),
    **MYSQL_TABLE_OPTIONS,
)
"""Pending writes of the tasks of a checkpoint's next step."""

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

replication = Table(
    f"{PREFIX}replication",
    metadata,
    Column("name", String(STATUS_LENGTH), primary_key=True),
    Column("epoch", BigInteger, nullable=False),
    Column("leader", text(), nullable=False),
    Column("updated_at", timestamp(), nullable=False),
    **MYSQL_TABLE_OPTIONS,
)
"""A `ReplicatedSaver`'s generation, stored in every copy (one row, `name` "epoch").

It goes up whenever the copies that have every write become fewer (a failover, a replica
that missed a write), on those copies only: after a restart the copies with the highest
epoch are the authoritative ones, and any other copy is stale.
"""
