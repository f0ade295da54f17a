"""The SQL the checkpointer runs, built once per dialect so SQLAlchemy's compiled cache hits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table

from accord.persistence.checkpoints.fetch import Fetches
from accord.persistence.checkpoints.oneshot import OneShot
from accord.persistence.schema import blobs, checkpoints, writes

CHECKPOINT_COLUMNS = (
    checkpoints.c.thread_id,
    checkpoints.c.checkpoint_ns,
    checkpoints.c.checkpoint_id,
    checkpoints.c.parent_checkpoint_id,
    checkpoints.c.type,
    checkpoints.c.checkpoint,
    checkpoints.c.metadata,
)
TABLES = (writes, blobs, checkpoints)
"""Every table keyed by thread, children first."""


def _param(name: str) -> Any:
    return bindparam(name)


def _in_thread(table: Table) -> ColumnElement[bool]:
    return and_(
        table.c.thread_id == _param("thread_id"),
        table.c.checkpoint_ns == _param("checkpoint_ns"),
    )


class Statements:
    """Every statement of the checkpointer for one SQL dialect."""

    def __init__(self, dialect: str) -> None:
        """Build the statements.

        Args:
            dialect: The SQLAlchemy dialect name: "sqlite", "postgresql", "mysql" or "mariadb".
        """
        self.dialect = dialect
        c = checkpoints.c
        self.fetch = Fetches()
        self.oneshot = OneShot() if dialect == "postgresql" else None
        self._bases: dict[int, Select[Any]] = {}
        self._pages: dict[tuple[bool, bool, bool], Select[Any]] = {}
        self.put_blobs = self.upsert(blobs, ("base", "depth", "type", "data"))
        self.put_checkpoint = self.upsert(
            checkpoints, ("parent_checkpoint_id", "run_id", "type", "checkpoint", "metadata")
        )
        self.put_writes = self.upsert(writes, ("channel", "type", "value", "task_path"))
        self.add_writes = self.insert_ignore(writes)
        self.delete_thread = [delete(t).where(t.c.thread_id == _param("thread_id")) for t in TABLES]
        self.exists = select(c.checkpoint_id).where(c.thread_id == _param("thread_id")).limit(1)
        self.runs = select(c.thread_id, c.checkpoint_ns, c.checkpoint_id).where(
            c.run_id.in_(bindparam("run_ids", expanding=True))
        )
        self.delete_checkpoints: list[Delete] = [
            delete(t).where(
                _in_thread(t), t.c.checkpoint_id.in_(bindparam("checkpoint_ids", expanding=True))
            )
            for t in (writes, checkpoints)
        ]
        self.heads = (
            select(c.checkpoint_ns, func.max(c.checkpoint_id).label("head"))
            .where(c.thread_id == _param("thread_id"))
            .group_by(c.checkpoint_ns)
        )
        self.older = select(c.checkpoint_id).where(
            _in_thread(checkpoints), c.checkpoint_id < _param("head")
        )
        # UPDATE reserves bind names equal to column names, hence the "of_" prefix.
        self.orphan = (
            checkpoints.update()
            .where(
                c.thread_id == _param("of_thread_id"),
                c.checkpoint_ns == _param("of_checkpoint_ns"),
                c.checkpoint_id == _param("head"),
            )
            .values(parent_checkpoint_id=None)
        )
        self.versions = select(c.checkpoint_id, c.type, c.checkpoint).where(_in_thread(checkpoints))
        self.blob_keys = select(blobs.c.channel, blobs.c.version, blobs.c.base).where(
            _in_thread(blobs)
        )
        self.delete_blobs = delete(blobs).where(
            _in_thread(blobs),
            tuple_(blobs.c.channel, blobs.c.version).in_(bindparam("keys", expanding=True)),
        )
        self.delta_threads = (
            select(c.thread_id)
            .where(
                c.thread_id.in_(bindparam("thread_ids", expanding=True)),
                c.metadata.like('%"counters_since_delta_snapshot"%'),
            )
            .limit(1)
        )
        self.copy = [_copy(t) for t in TABLES]

    def page(self, exact: bool, before: Any, after: Any) -> Select[Any]:
        """A page of one namespace's checkpoints, newest first: binds thread_id, checkpoint_ns,
        size, and checkpoint_id if `exact`, before_id if `before`, after_id if `after`."""
        shape = (exact, before is not None, after is not None)
        if shape not in self._pages:
            c = checkpoints.c
            where = [_in_thread(checkpoints)]
            if exact:
                where.append(c.checkpoint_id == _param("checkpoint_id"))
            for given, name in ((shape[1], "before_id"), (shape[2], "after_id")):
                if given:
                    where.append(c.checkpoint_id < _param(name))
            self._pages[shape] = (
                select(*CHECKPOINT_COLUMNS)
                .where(*where)
                .order_by(c.checkpoint_id.desc())
                .limit(_param("size"))
            )
        return self._pages[shape]

    def bases(self, keys: Sequence[tuple[str, str]]) -> tuple[Select[Any], dict[str, str]]:
        """Which of a namespace's (channel, version) rows exist, locked until commit.

        The share lock keeps a concurrent prune from deleting a delta's base under us. Each
        key is a primary-key equality, which every database resolves in the index.
        """
        size = 1 << max(len(keys) - 1, 0).bit_length()
        if size not in self._bases:
            b = blobs.c
            self._bases[size] = (
                select(b.channel, b.version)
                .where(
                    _in_thread(blobs),
                    or_(
                        *(
                            and_(b.channel == _param(f"c{i}"), b.version == _param(f"v{i}"))
                            for i in range(size)
                        )
                    ),
                )
                .with_for_update(read=True)
            )
        padded = [*keys, *[keys[-1]] * (size - len(keys))]
        params: dict[str, str] = {}
        for i, (channel, version) in enumerate(padded):
            params |= {f"c{i}": channel, f"v{i}": version}
        return self._bases[size], params

    def upsert(self, table: Table, updated: Sequence[str]) -> Insert:
        """INSERT that overwrites `updated` columns when the primary key exists."""
        if self.dialect in ("mysql", "mariadb"):
            my = mysql.insert(table)
            return my.on_duplicate_key_update({name: my.inserted[name] for name in updated})
        ins = postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)
        return ins.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={name: ins.excluded[name] for name in updated},
        )

    def insert_ignore(self, table: Table) -> Insert:
        """INSERT that keeps the existing row when the primary key exists."""
        if self.dialect in ("mysql", "mariadb"):
            # A no-op update, not INSERT IGNORE: that would also silence real errors.
            first = next(iter(table.primary_key.columns))
            return mysql.insert(table).on_duplicate_key_update({first.name: first})
        ins = postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)
        return ins.on_conflict_do_nothing(index_elements=list(table.primary_key.columns))


def _copy(table: Table) -> Insert:
    """INSERT ... SELECT every row of thread `source` as thread `target`."""
    names = [col.name for col in table.columns]
    target = bindparam("target", type_=table.c.thread_id.type).label("thread_id")
    columns = [target if n == "thread_id" else table.c[n] for n in names]
    source = select(*columns).where(table.c.thread_id == _param("source"))
    return table.insert().from_select(names, source)
