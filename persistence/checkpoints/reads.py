"""Operations that read checkpoints back: one checkpoint, or a page of a listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from sqlalchemy import ColumnElement, select, tuple_

from accord.persistence.checkpoints.cache import CacheKey, ChannelCache, Sealed, Stored
from accord.persistence.checkpoints.codec import (
    BlobKey,
    Chains,
    corrupt,
    decode_checkpoint,
    decode_metadata,
    decode_writes,
)
from accord.persistence.checkpoints.filters import matches, prefilter
from accord.persistence.checkpoints.statements import CHECKPOINT_COLUMNS, Statements
from accord.persistence.errors import Undecodable
from accord.persistence.ops.driver import Steps
from accord.persistence.schema import checkpoints

PAGE_SIZE = 50


@dataclass(slots=True)
class Loaded:
    """Checkpoints read in one transaction, and the list values the cache may learn."""

    tuples: list[CheckpointTuple] = field(default_factory=list)
    learned: list[tuple[CacheKey, Stored]] = field(default_factory=list)
    last: tuple[str, str, str] | None = None
    """(checkpoint_id, thread_id, checkpoint_ns) of the last row read, to page on from."""
    exhausted: bool = False


def get_tuple(
    sql: Statements, serde: SerializerProtocol, config: RunnableConfig, cache: ChannelCache
) -> Steps[Loaded]:
    """Read one checkpoint: the given `checkpoint_id`, or the thread's latest.

    List values the cache holds at the very version asked for are taken from it, so reading
    the head of a long conversation does not decode the whole history again.
    """
    conf = config["configurable"]
    params = {
        "thread_id": str(conf["thread_id"]),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
    }
    found = yield sql.fetch.head(latest=not params["checkpoint_id"]), params
    head = [r for r in found.rows if r.kind == "c"]
    if not head:
        return Loaded()
    r = head[0]
    row = Head(r.thread_id, r.checkpoint_ns, r.checkpoint_id, r.channel, r.type, r.data, r.link)
    pending = [r for r in found.rows if r.kind == "w"]
    return (yield from _assemble(sql, serde, [row], cache=cache, pending=pending))


class Head(NamedTuple):
    """A checkpoint row as `Fetches.head` returns it, under the checkpoint table's names."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    type: str
    checkpoint: bytes
    metadata: str


def prebuilt(config: RunnableConfig | None, filter: dict[str, Any] | None) -> bool:
    """Whether `list_page` reads on statements built once (so DBAPI can run them): one
    namespace with no filter, LangGraph's state history."""
    return bool(config and config["configurable"].get("checkpoint_ns") is not None) and not filter


def list_page(
    sql: Statements,
    serde: SerializerProtocol,
    config: RunnableConfig | None,
    *,
    filter: dict[str, Any] | None,
    before: RunnableConfig | None,
    after: tuple[str, str, str] | None,
    size: int,
) -> Steps[Loaded]:
    """Read up to `size` checkpoints, newest first, starting after the row `after`."""
    if size <= 0:
        raise ValueError("a page holds at least one checkpoint")
    c = checkpoints.c
    conf = config["configurable"] if config is not None else {}
    if prebuilt(config, filter):
        found = yield (
            sql.page(bool(conf.get("checkpoint_id")), before, after),
            {
                "thread_id": str(conf["thread_id"]),
                "checkpoint_ns": conf["checkpoint_ns"],
                "checkpoint_id": conf.get("checkpoint_id"),
                "before_id": before["configurable"].get("checkpoint_id") if before else None,
                "after_id": after[0] if after else None,
                "size": size,
            },
        )
        return (yield from _page(sql, serde, found.rows, found.rows, size))
    where: list[ColumnElement[bool]] = []
    if config is not None:
        conf = config["configurable"]
        where.append(c.thread_id == str(conf["thread_id"]))
        if conf.get("checkpoint_ns") is not None:
            where.append(c.checkpoint_ns == conf["checkpoint_ns"])
        if conf.get("checkpoint_id"):
            where.append(c.checkpoint_id == conf["checkpoint_id"])
    if before is not None and (before_id := before["configurable"].get("checkpoint_id")):
        where.append(c.checkpoint_id < before_id)
    if after is not None:
        where.append(tuple_(c.checkpoint_id, c.thread_id, c.checkpoint_ns) < tuple_(*after))
    where.extend(prefilter(sql.dialect, c.metadata, filter or {}))
    statement = (
        select(*CHECKPOINT_COLUMNS)
        .where(*where)
        .order_by(c.checkpoint_id.desc(), c.thread_id.desc(), c.checkpoint_ns.desc())
        .limit(size)
    )
    found = yield statement, None
    rows = [r for r in found.rows if not filter or matches(_metadata_of(r), filter)]
    return (yield from _page(sql, serde, found.rows, rows, size))


def _page(
    sql: Statements, serde: SerializerProtocol, read: Sequence[Any], rows: Sequence[Any], size: int
) -> Steps[Loaded]:
    """The checkpoints of a page: `read` came back, `rows` of them matched the filter."""
    loaded = Loaded()
    if rows:
        loaded = yield from _assemble(sql, serde, rows, cache=None)
    if read:
        last = read[-1]
        loaded.last = (last.checkpoint_id, last.thread_id, last.checkpoint_ns)
    loaded.exhausted = len(read) < size
    return loaded


def _metadata_of(row: Any) -> dict[str, Any]:
    try:
        return decode_metadata(row.metadata)
    except Undecodable as exc:
        raise corrupt(*_ident(row), str(exc)) from exc


def _assemble(
    sql: Statements,
    serde: SerializerProtocol,
    rows: Sequence[Any],
    *,
    cache: ChannelCache | None,
    pending: Sequence[Any] | None = None,
) -> Steps[Loaded]:
    """Decode checkpoint rows, fetching their channel values and pending writes.

    One checkpoint takes one more statement, none when its writes came with it (`pending`)
    and its values are inline or cached; a page takes two. List values the cache holds are
    not fetched, and the values read are learned.
    """
    decoded: list[tuple[Any, dict[str, Any]]] = []
    keys: list[BlobKey] = []
    known: dict[BlobKey, Stored] = {}
    rows_kept: dict[BlobKey, Sealed] = {}
    for row in rows:
        try:
            checkpoint = decode_checkpoint(serde, row.type, row.checkpoint)
        except Undecodable as exc:
            raise corrupt(*_ident(row), str(exc)) from exc
        decoded.append((row, checkpoint))
        inline = checkpoint.get("channel_values") or {}
        for channel, raw_version in checkpoint["channel_versions"].items():
            if channel in inline:
                continue
            key = (row.thread_id, row.checkpoint_ns, channel, str(raw_version))
            hit = cache.get(key[:3]) if cache is not None else None
            kept = cache.row(key[:3]) if cache is not None and hit is None else None
            if hit is not None and hit.version == key[3]:
                known[key] = hit
            elif kept is not None and kept.version == key[3]:
                if kept.type:  # else stored empty: no row to fetch
                    rows_kept[key] = kept
            else:
                keys.append(key)
    if len(keys) > 1:
        keys = list(dict.fromkeys(keys))
    fetched: list[Any]
    namespace = None  # (thread_id, checkpoint_ns) of write rows fetched without them
    if pending is not None:
        fetched = list(pending)
        if keys:
            fetched.extend((yield sql.fetch.exact(keys)).rows)
    elif len(rows) == 1:
        fetched = list((yield sql.fetch.rows_and_writes(keys, _ident(rows[0]))).rows)
    elif len({(r.thread_id, r.checkpoint_ns) for r in rows}) == 1:
        # One namespace: its writes in the page's id range, by a statement built once.
        ids = [r.checkpoint_id for r in rows]
        namespace = (rows[0].thread_id, rows[0].checkpoint_ns)
        fetched = list(
            (
                yield (
                    sql.fetch.writes_between,
                    {
                        "w_thread_id": namespace[0],
                        "w_checkpoint_ns": namespace[1],
                        "w_low": min(ids),
                        "w_high": max(ids),
                    },
                )
            ).rows
        )
        if keys:
            fetched.extend((yield sql.fetch.values(keys)).rows)
    else:
        idents = [_ident(r) for r in rows]
        fetched = list((yield sql.fetch.writes_of(idents), None).rows)
        if keys:
            fetched.extend((yield sql.fetch.values(keys)).rows)
    chains = None  # every value inline: nothing fetched, nothing taken from the cache
    if keys or known or rows_kept:
        chains = Chains(serde, [r for r in fetched if r.kind == "b"])
        for key, hit in known.items():
            chains.know(key, hit.items, hit.depth)
        for key, row in rows_kept.items():
            chains.keep(key, row)
        if missing := chains.unresolved():
            # A delta whose base we neither fetched nor remember: read the rest of its chain.
            chains.add((yield sql.fetch.values(missing)).rows)
    by_checkpoint: dict[tuple[str, str, str], list[Any]] = {}
    for r in fetched:
        if r.kind == "w":
            ident = (
                (*namespace, r.checkpoint_id)
                if namespace
                else (r.thread_id, r.checkpoint_ns, r.checkpoint_id)
            )
            by_checkpoint.setdefault(ident, []).append(
                (r.link, r.key, r.number, r.channel, r.type, r.data)
            )
    loaded = Loaded()
    for row, checkpoint in decoded:
        ident = (row.thread_id, row.checkpoint_ns, row.checkpoint_id)
        try:
            learned = loaded.learned if cache is not None else None
            values = _values(chains, ident, checkpoint, learned)
            metadata = decode_metadata(row.metadata)
            writes = decode_writes(serde, by_checkpoint.get(ident, ()))
        except Undecodable as exc:
            raise corrupt(*ident, str(exc)) from exc
        loaded.tuples.append(_tuple(row, checkpoint, values, metadata, writes))
    return loaded


def _ident(row: Any) -> tuple[str, str, str]:
    return row.thread_id, row.checkpoint_ns, row.checkpoint_id


def _values(
    chains: Chains | None,
    ident: tuple[str, str, str],
    checkpoint: dict[str, Any],
    learned: list[tuple[CacheKey, Stored]] | None,
) -> dict[str, Any]:
    thread_id, checkpoint_ns, _ = ident
    values: dict[str, Any] = dict(checkpoint.get("channel_values") or {})
    if chains is None:
        return values
    for channel, raw_version in checkpoint["channel_versions"].items():
        if channel in values:
            continue  # stored inline
        key = (thread_id, checkpoint_ns, channel, str(raw_version))
        if key not in chains:
            continue  # versioned but empty (for example a DeltaChannel between snapshots)
        value, depth = chains.value(key)
        values[channel] = value
        if learned is not None and type(value) is list:
            learned.append(
                ((thread_id, checkpoint_ns, channel), Stored(key[3], depth, list(value)))
            )
    return values


def _tuple(
    row: Any,
    checkpoint: dict[str, Any],
    values: dict[str, Any],
    metadata: dict[str, Any],
    pending: list[PendingWrite],
) -> CheckpointTuple:
    checkpoint["channel_values"] = values
    thread_id, checkpoint_ns, parent = row.thread_id, row.checkpoint_ns, row.parent_checkpoint_id
    return CheckpointTuple(
        config=_config(thread_id, checkpoint_ns, row.checkpoint_id),
        checkpoint=cast(Checkpoint, checkpoint),
        metadata=cast(CheckpointMetadata, metadata),
        parent_config=_config(thread_id, checkpoint_ns, parent) if parent else None,
        pending_writes=pending,
    )


def _config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def first(loaded: Loaded) -> CheckpointTuple | None:
    """The newest checkpoint `loaded` holds, if any (what `get_tuple` returns)."""
    return loaded.tuples[0] if loaded.tuples else None
