"""PostgreSQL writes as single statements, so each costs one round trip in autocommit.

A network round trip dominates small writes on PostgreSQL; a transaction (BEGIN, statements,
COMMIT) costs four. One statement is atomic on its own, so `put` becomes one INSERT of the
checkpoint with the channel values in a data-modifying CTE, and `put_writes` one multi-row
INSERT.

When a `put` carries list deltas, the checkpoint row is only inserted if every base row is
still there (`guard`, under a share lock). If one is gone the statement inserts no checkpoint
(RETURNING yields no row): the delta rows it wrote have fresh versions that nothing
references, and the retry with full values overwrites them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.dml import Insert

from accord.persistence.schema import blobs, checkpoints, writes

BLOB_COLUMNS = ("thread_id", "checkpoint_ns", "channel", "version", "base", "depth", "type", "data")
CHECKPOINT_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "run_id",
    "type",
    "checkpoint",
    "metadata",
)
WRITE_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "task_path",
    "idx",
    "channel",
    "type",
    "value",
)


class OneShot:
    """The single-statement writes, one compiled shape per row count."""

    def __init__(self) -> None:
        """Start with no statement built."""
        self._puts: dict[tuple[int, int], Insert] = {}
        self._writes: dict[tuple[int, bool], Insert] = {}

    def put(
        self,
        checkpoint: dict[str, Any],
        values: Sequence[dict[str, Any]],
        bases: Sequence[tuple[str, str]],
    ) -> tuple[Insert, dict[str, Any]]:
        """The statement storing a checkpoint row and its value rows, and its parameters.

        Args:
            checkpoint: The checkpoint row.
            values: The value rows.
            bases: (channel, version) of every row the deltas among `values` extend.
        """
        shape = (len(values), len(bases))
        if shape not in self._puts:
            self._puts[shape] = _put(*shape)
        params = {f"k_{name}": checkpoint[name] for name in CHECKPOINT_COLUMNS}
        for i, row in enumerate(values):
            params |= {f"b{i}_{name}": row[name] for name in BLOB_COLUMNS}
        for i, (channel, version) in enumerate(bases):
            params |= {f"g{i}_channel": channel, f"g{i}_version": version}
        return self._puts[shape], params

    def writes(
        self, rows: Sequence[dict[str, Any]], replace: bool
    ) -> tuple[Insert, dict[str, Any]]:
        """The statement storing pending writes (overwriting them if `replace`)."""
        shape = (len(rows), replace)
        if shape not in self._writes:
            self._writes[shape] = _writes(*shape)
        params: dict[str, Any] = {}
        for i, row in enumerate(rows):
            params |= {f"w{i}_{name}": row[name] for name in WRITE_COLUMNS}
        return self._writes[shape], params


def _put(n_values: int, n_bases: int) -> Insert:
    c = checkpoints.c
    row = {name: bindparam(f"k_{name}", type_=c[name].type) for name in CHECKPOINT_COLUMNS}
    if n_bases:
        b = blobs.c
        present = (
            select(b.version)
            .where(
                b.thread_id == row["thread_id"],
                b.checkpoint_ns == row["checkpoint_ns"],
                or_(
                    *(
                        and_(
                            b.channel == bindparam(f"g{i}_channel", type_=b.channel.type),
                            b.version == bindparam(f"g{i}_version", type_=b.version.type),
                        )
                        for i in range(n_bases)
                    )
                ),
            )
            .with_for_update(read=True)
            .subquery("present")
        )
        guard = select(func.count()).select_from(present).scalar_subquery() == n_bases
        source = select(*row.values()).where(guard)
        statement = postgresql.insert(checkpoints).from_select(list(CHECKPOINT_COLUMNS), source)
    else:
        statement = postgresql.insert(checkpoints).values(row)
    updated = ("parent_checkpoint_id", "run_id", "type", "checkpoint", "metadata")
    stored: Insert = statement.on_conflict_do_update(
        index_elements=list(checkpoints.primary_key.columns),
        set_={name: statement.excluded[name] for name in updated},
    )
    if n_bases:
        # Only a guarded insert can store nothing; the caller reads its RETURNING to know.
        stored = stored.returning(checkpoints.c.checkpoint_id)
    if not n_values:
        return stored
    values = postgresql.insert(blobs).from_select(
        list(BLOB_COLUMNS), _rows(blobs, BLOB_COLUMNS, "b", n_values)
    )
    values = values.on_conflict_do_update(
        index_elements=list(blobs.primary_key.columns),
        set_={name: values.excluded[name] for name in ("base", "depth", "type", "data")},
    )
    return stored.add_cte(values.cte("put_values"))


def _writes(n_rows: int, replace: bool) -> Insert:
    statement = postgresql.insert(writes).from_select(
        list(WRITE_COLUMNS), _rows(writes, WRITE_COLUMNS, "w", n_rows)
    )
    key = list(writes.primary_key.columns)
    if not replace:
        return statement.on_conflict_do_nothing(index_elements=key)
    return statement.on_conflict_do_update(
        index_elements=key,
        set_={name: statement.excluded[name] for name in ("channel", "type", "value", "task_path")},
    )


def _rows(table: Any, names: Sequence[str], prefix: str, count: int) -> Any:
    """Rows as SELECTs of typed parameters: unlike a multi-row VALUES, SQLAlchemy caches it."""
    selects = [
        select(*(bindparam(f"{prefix}{i}_{name}", type_=table.c[name].type) for name in names))
        for i in range(count)
    ]
    return selects[0] if count == 1 else union_all(*selects)
