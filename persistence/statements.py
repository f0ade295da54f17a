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
    union_all,
    tuple_,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table

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
WRITE_COLUMNS = (
    writes.c.thread_id,
    writes.c.checkpoint_ns,
    writes.c.checkpoint_id,
    writes.c.task_id,
    writes.c.channel,
    writes.c.type,
    writes.c.value,
    writes.c.task_path,
    writes.c.idx,
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
        self.checkpoint = select(*CHECKPOINT_COLUMNS).where(
            _in_thread(checkpoints), c.checkpoint_id == _param("checkpoint_id")
        )
        self.latest = (
            select(*CHECKPOINT_COLUMNS)
            .where(_in_thread(checkpoints))
            .order_by(c.checkpoint_id.desc())
            .limit(1)
        )
        self.writes = select(*WRITE_COLUMNS).where(
            _in_thread(writes), writes.c.checkpoint_id == _param("checkpoint_id")
        )
        self.writes_of = select(*WRITE_COLUMNS).where(
            tuple_(writes.c.thread_id, writes.c.checkpoint_ns, writes.c.checkpoint_id).in_(
                bindparam("keys", expanding=True)
            )
        )
        self._chains: dict[int, Select[Any]] = {}
        self.bases = (
            select(blobs.c.channel, blobs.c.version)
            .where(
                _in_thread(blobs),
                tuple_(blobs.c.channel, blobs.c.version).in_(bindparam("keys", expanding=True)),
            )
            # Hold the bases until commit so a concurrent prune cannot delete them under us.
            .with_for_update(read=True)
        )
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

    def chains(
        self, keys: Sequence[tuple[str, str, str, str]]
    ) -> tuple[Select[Any], dict[str, str]]:
        """The chain query for blob keys, and its parameters.

        The key list is padded to a power of two (repeating its last key, which UNION
        drops), so a handful of statement shapes serve every request and stay compiled.
        """
        size = 1 << max(len(keys) - 1, 0).bit_length()
        if size not in self._chains:
            self._chains[size] = _chains(size)
        padded = [*keys, *[keys[-1]] * (size - len(keys))]
        params = {}
        for i, (thread_id, checkpoint_ns, channel, version) in enumerate(padded):
            params |= {
                f"t{i}": thread_id,
                f"n{i}": checkpoint_ns,
                f"c{i}": channel,
                f"v{i}": version,
            }
        return self._chains[size], params

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


EXACT_KEYS = 16
"""Up to this many keys, each is its own primary-key lookup; beyond, one OR'ed WHERE."""


def _chains(size: int) -> Select[Any]:
    """Every row `size` blob keys depend on, following `base` back to a full value.

    Keys bind as t{i}, n{i}, c{i}, v{i} (thread, namespace, channel, version). A few keys
    (one checkpoint) are each looked up by primary key in a UNION ALL of one-row SELECTs:
    planners may otherwise use the index for the thread prefix only and filter the rest of
    the thread's rows. Many keys (a page of checkpoints) use one OR'ed condition. UNION, not
    UNION ALL, in the recursion makes shared chains come back once and stops a corrupt cycle.
    """
    b = blobs
    columns = (b.c.thread_id, b.c.checkpoint_ns, b.c.channel, b.c.version, b.c.base)
    keys = [
        and_(
            b.c.thread_id == bindparam(f"t{i}"),
            b.c.checkpoint_ns == bindparam(f"n{i}"),
            b.c.channel == bindparam(f"c{i}"),
            b.c.version == bindparam(f"v{i}"),
        )
        for i in range(size)
    ]
    if size <= EXACT_KEYS:
        found = union_all(*(select(*columns).where(key) for key in keys)).subquery("found")
        start = select(*found.c)
    else:
        start = select(*columns).where(or_(*keys))
    chain = start.cte("accord_chain", recursive=True)
    link = chain.alias("link")
    prev = b.alias("prev")
    chain = chain.union(
        select(prev.c.thread_id, prev.c.checkpoint_ns, prev.c.channel, prev.c.version, prev.c.base)
        .select_from(prev)
        .join(
            link,
            and_(
                prev.c.thread_id == link.c.thread_id,
                prev.c.checkpoint_ns == link.c.checkpoint_ns,
                prev.c.channel == link.c.channel,
                prev.c.version == link.c.base,
            ),
        )
    )
    return (
        select(
            b.c.thread_id,
            b.c.checkpoint_ns,
            b.c.channel,
            b.c.version,
            b.c.base,
            b.c.depth,
            b.c.type,
            b.c.data,
        )
        .select_from(b)
        .join(
            chain,
            and_(
                b.c.thread_id == chain.c.thread_id,
                b.c.checkpoint_ns == chain.c.checkpoint_ns,
                b.c.channel == chain.c.channel,
                b.c.version == chain.c.version,
            ),
        )
    )


def _copy(table: Table) -> Insert:
    """INSERT ... SELECT every row of thread `source` as thread `target`."""
    names = [col.name for col in table.columns]
    target = bindparam("target", type_=table.c.thread_id.type).label("thread_id")
    columns = [target if n == "thread_id" else table.c[n] for n in names]
    source = select(*columns).where(table.c.thread_id == _param("source"))
    return table.insert().from_select(names, source)
