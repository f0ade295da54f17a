"""The SELECTs that fetch channel values (with their delta chains) and pending writes.

Both come back in one row shape, so a single round trip can carry both:
(kind, thread_id, checkpoint_ns, checkpoint_id, channel, key, link, number, type, data), where
a value row ("b") has key=version, link=base, number=depth and no checkpoint_id, and a write
row ("w") has key=task_id, link=task_path, number=idx.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from accord.persistence.schema import ID_LENGTH, ascii_key, blobs, checkpoints, writes

BlobKey = tuple[str, str, str, str]
"""(thread_id, checkpoint_ns, channel, version)"""
Ident = tuple[str, str, str]
"""(thread_id, checkpoint_ns, checkpoint_id)"""

_NAMESPACE = ("thread_id", "checkpoint_ns")
EXACT_KEYS = 16
"""Up to this many keys, each is its own primary-key lookup; beyond, one OR'ed WHERE."""


class Fetches:
    """Builds (and keeps compiled-cache friendly) the fetching SELECTs."""

    def __init__(self) -> None:
        """Start with no statement built."""
        self._chains: dict[int, Select[Any]] = {}
        w = writes.c
        self._writes = select(
            literal_column("'w'").label("kind"),
            w.thread_id,
            w.checkpoint_ns,
            w.checkpoint_id,
            w.channel,
            w.task_id.label("key"),
            w.task_path.label("link"),
            w.idx.label("number"),
            w.type,
            w.value.label("data"),
        )
        self._one_checkpoint = self._writes.where(
            w.thread_id == bindparam("w_thread_id"),
            w.checkpoint_ns == bindparam("w_checkpoint_ns"),
            w.checkpoint_id == bindparam("w_checkpoint_id"),
        )
        self._both: dict[int, CompoundSelect[Any]] = {}
        self._heads: dict[bool, CompoundSelect[Any]] = {}
        self._exact: dict[int, CompoundSelect[Any]] = {}
        self.writes_between = select(
            *(col for col in self._writes.selected_columns if col.name not in _NAMESPACE)
        ).where(
            w.thread_id == bindparam("w_thread_id"),
            w.checkpoint_ns == bindparam("w_checkpoint_ns"),
            w.checkpoint_id >= bindparam("w_low"),
            w.checkpoint_id <= bindparam("w_high"),
        )
        """Write rows of a namespace's checkpoints within an id range (one page of `list`),
        without the thread and namespace the caller bound (SQLite makes a string of each)."""

    def head(self, latest: bool) -> CompoundSelect[Any]:
        """One checkpoint row ("c") and its pending writes, in one statement.

        Binds thread_id and checkpoint_ns, and checkpoint_id unless `latest` (the newest). The
        checkpoint row carries parent_checkpoint_id as channel, metadata as link, and the
        checkpoint as data.
        """
        if latest not in self._heads:
            c = checkpoints.c
            where = [
                c.thread_id == bindparam("thread_id"),
                c.checkpoint_ns == bindparam("checkpoint_ns"),
            ]
            head: Any = bindparam("checkpoint_id")
            if latest:
                head = select(func.max(c.checkpoint_id)).where(*where).scalar_subquery()
            checkpoint = select(
                literal_column("'c'").label("kind"),
                c.thread_id,
                c.checkpoint_ns,
                c.checkpoint_id,
                c.parent_checkpoint_id.label("channel"),
                c.checkpoint_id.label("key"),
                c.metadata.label("link"),
                literal_column("0").label("number"),
                c.type,
                c.checkpoint.label("data"),
            ).where(*where, c.checkpoint_id == head)
            w = writes.c
            pending = self._writes.where(
                w.thread_id == bindparam("thread_id"),
                w.checkpoint_ns == bindparam("checkpoint_ns"),
                w.checkpoint_id == head,
            )
            self._heads[latest] = union_all(checkpoint, pending)
        return self._heads[latest]

    def exact(self, keys: Sequence[BlobKey]) -> tuple[CompoundSelect[Any], dict[str, str]]:
        """The value rows at exactly `keys` (delta rows may need `values` for their chain)."""
        size = _padded_size(keys)
        if size not in self._exact:
            self._exact[size] = union_all(*_exact(size))
        return self._exact[size], _key_params(keys, size)

    def values(self, keys: Sequence[BlobKey]) -> tuple[Select[Any], dict[str, str]]:
        """Value rows for blob keys, delta chains included, and the parameters."""
        size = _padded_size(keys)
        if size not in self._chains:
            self._chains[size] = _chains(size)
        return self._chains[size], _key_params(keys, size)

    def rows_and_writes(
        self, keys: Sequence[BlobKey], ident: Ident
    ) -> tuple[Select[Any] | CompoundSelect[Any], dict[str, str]]:
        """The value rows at exactly `keys` and the pending writes of one checkpoint.

        A plain UNION ALL of primary-key lookups, cheap to plan; delta rows among them may
        need `values` for the rest of their chain.
        """
        params = {
            "w_thread_id": ident[0],
            "w_checkpoint_ns": ident[1],
            "w_checkpoint_id": ident[2],
        }
        if not keys:
            return self._one_checkpoint, params
        size = _padded_size(keys)
        if size not in self._both:
            self._both[size] = union_all(*_exact(size), self._one_checkpoint)
        return self._both[size], params | _key_params(keys, size)

    def writes_of(self, idents: Sequence[Ident]) -> Select[Any]:
        """Write rows of several checkpoints, grouped by thread for the index."""
        groups: dict[tuple[str, str], list[str]] = {}
        for thread_id, checkpoint_ns, checkpoint_id in idents:
            groups.setdefault((thread_id, checkpoint_ns), []).append(checkpoint_id)
        w = writes.c
        matches: list[ColumnElement[bool]] = [
            and_(w.thread_id == t, w.checkpoint_ns == n, w.checkpoint_id.in_(ids))
            for (t, n), ids in groups.items()
        ]
        return self._writes.where(or_(*matches))


def _padded_size(keys: Sequence[BlobKey]) -> int:
    """A power of two, so a handful of statement shapes serve every request."""
    return 1 << max(len(keys) - 1, 0).bit_length()


def _key_params(keys: Sequence[BlobKey], size: int) -> dict[str, str]:
    # Padding repeats the last key; the recursive UNION drops the duplicates.
    padded = [*keys, *[keys[-1]] * (size - len(keys))]
    return dict(zip(_names(size), [part for key in padded for part in key], strict=True))


@cache
def _names(size: int) -> tuple[str, ...]:
    """The bind names of `size` keys, in key order (this runs on every read)."""
    return tuple(f"{p}{i}" for i in range(size) for p in "tncv")


def _key(table: Any, i: int) -> ColumnElement[bool]:
    return and_(
        table.c.thread_id == bindparam(f"t{i}"),
        table.c.checkpoint_ns == bindparam(f"n{i}"),
        table.c.channel == bindparam(f"c{i}"),
        table.c.version == bindparam(f"v{i}"),
    )


def _exact(size: int) -> list[Select[Any]]:
    """One primary-key lookup per key: planners may otherwise use the index for the thread
    prefix only and filter the rest of the thread's rows."""
    return [_value_rows(blobs).where(_key(blobs, i)) for i in range(size)]


def _value_rows(b: Any) -> Select[Any]:
    return select(
        literal_column("'b'").label("kind"),
        b.c.thread_id,
        b.c.checkpoint_ns,
        cast(null(), ascii_key(ID_LENGTH)).label("checkpoint_id"),
        b.c.channel,
        b.c.version.label("key"),
        b.c.base.label("link"),
        b.c.depth.label("number"),
        b.c.type,
        b.c.data,
    )


def _chains(size: int) -> Select[Any]:
    """Every value row `size` blob keys depend on, following `base` back to a full value.

    Keys bind as t{i}, n{i}, c{i}, v{i}. A few keys (one checkpoint) are each looked up by
    primary key in a UNION ALL of one-row SELECTs: planners may otherwise use the index for
    the thread prefix only and filter the rest of the thread's rows. Many keys (a page of
    checkpoints) use one OR'ed condition. UNION, not UNION ALL, in the recursion makes shared
    chains come back once and stops at a corrupt cycle.
    """
    b = blobs
    columns = (b.c.thread_id, b.c.checkpoint_ns, b.c.channel, b.c.version, b.c.base)
    keys = [_key(b, i) for i in range(size)]
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
        _value_rows(b)
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
