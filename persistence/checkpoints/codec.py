"""Turning checkpoints into rows and rows back into checkpoints.

Channel values are stored once per (thread, namespace, channel, version). A list value that
extends the list stored at an earlier version is stored as a delta: only the appended items,
plus the version it extends. Reading follows the `base` links back to a full value.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zlib import crc32

from langgraph.checkpoint.base import PendingWrite, writes_sort_key
from langgraph.checkpoint.serde.base import SerializerProtocol

from accord.persistence.checkpoints.cache import SEALED_MAX, CacheKey, ChannelCache, Sealed, Stored
from accord.persistence.errors import CorruptCheckpoint, PersistenceError, Undecodable

BlobKey = tuple[str, str, str, str]
"""(thread_id, checkpoint_ns, channel, version)"""

DEFAULT_MAX_CHAIN = 960
"""Deltas allowed in a row before a full value is stored again.

Reads fetch a whole chain in one recursive query; MySQL 8 refuses recursion deeper than 1000.
"""


INLINE_MAX = 256
"""Longest str value stored inline in its checkpoint row (see `inline_values`)."""

_SCALARS = (bool, int, float, type(None))

SEAL = "#"
"""Separates a row's serializer type from the checksum of its bytes in the `type` column."""


def sealed(typed: tuple[str, bytes]) -> tuple[str, bytes]:
    """A serialized value with the CRC-32 of its bytes appended to its type ("msgpack#1a2b3c4d").

    Stored beside the bytes, it turns a flipped byte into a `CorruptCheckpoint` on read,
    where the serializer alone could decode garbage into a wrong value (issue 14: messages
    that came back as None).
    """
    type_, data = typed
    return f"{type_}{SEAL}{crc32(data):08x}", data


def unsealed(type_: str, data: bytes) -> str:
    """The serializer type of a sealed row, once its checksum matched (unsealed rows pass).

    Raises:
        Undecodable: The bytes do not match their checksum.
    """
    plain, seal, checksum = type_.partition(SEAL)
    if seal and checksum != f"{crc32(data):08x}":
        raise Undecodable(
            f"its stored bytes do not match their checksum ({checksum}): they changed after"
            " they were written"
        )
    return plain


@dataclass(slots=True)
class Delta:
    """A list delta waiting for its base row to be confirmed present."""

    row: dict[str, Any]
    value: list[Any]
    key: CacheKey


@dataclass(slots=True)
class Encoded:
    """The blob rows of one checkpoint, and what the cache learns once they are committed."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    deltas: list[Delta] = field(default_factory=list)
    learned: list[tuple[CacheKey, Stored]] = field(default_factory=list)
    kept: list[tuple[CacheKey, Sealed]] = field(default_factory=list)
    """Rows of values that are not lists, for `ChannelCache.keep`."""

    def rebase(self, serde: SerializerProtocol, present: set[tuple[str, str]]) -> None:
        """Turn deltas whose base row is gone into full values."""
        for delta in self.deltas:
            if (delta.key[2], delta.row["base"]) in present:
                continue
            delta.row["type"], delta.row["data"] = sealed(serde.dumps_typed(delta.value))
            delta.row["base"], delta.row["depth"] = None, 0
            self.learned = [
                (k, Stored(e.version, 0, e.items) if k == delta.key else e) for k, e in self.learned
            ]


def inline_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The channel values stored inside the checkpoint row itself: scalars and short strings.

    Such values are as small as a blob row's key, so storing them again in each checkpoint
    keeps the storage per turn flat, and saves `put` a row and `get_tuple` a lookup per
    channel. Exact types only: a subclass (an enum) may not survive the round trip alike, and
    bytes stay value rows, where a serializer may store them as they are.
    Lists are never inline: they grow, and are stored as deltas instead.
    """
    return {
        channel: value
        for channel, value in values.items()
        if type(value) in _SCALARS or (type(value) is str and len(value) <= INLINE_MAX)
    }


def encode_values(
    serde: SerializerProtocol,
    cache: ChannelCache,
    *,
    thread_id: str,
    checkpoint_ns: str,
    values: Mapping[str, Any],
    versions: Mapping[str, str | int | float],
    incremental: bool,
    max_chain: int,
) -> Encoded:
    """Rows for the channels that changed in a checkpoint.

    Args:
        serde: The serializer of values.
        cache: Last stored list values; consulted only when `incremental`.
        thread_id: The thread.
        checkpoint_ns: The namespace.
        values: The checkpoint's channel values.
        versions: The new versions of the channels that changed.
        incremental: Whether deltas may be written (not for a thread's first checkpoint,
            which may reuse the id of a deleted thread).
        max_chain: How many deltas may follow a full value.

    Returns:
        The rows and pending deltas.
    """
    out = Encoded()
    for channel, raw_version in versions.items():
        if channel not in values:
            # Versioned but empty (a trigger consumed, the input once read): nothing to
            # store, and a read of this version needs nothing fetched.
            if cache.enabled:
                out.kept.append(((thread_id, checkpoint_ns, channel), Sealed(str(raw_version))))
            continue
        value = values[channel]
        version = str(raw_version)
        row: dict[str, Any] = {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "channel": channel,
            "version": version,
        }
        ck = (thread_id, checkpoint_ns, channel)
        is_list = type(value) is list
        last = cache.get(ck) if is_list and incremental and cache.enabled else None
        if (
            last is not None
            and last.version != version
            and last.depth < max_chain
            and len(value) >= len(last.items)
            and value[: len(last.items)] == last.items
        ):
            row["type"], row["data"] = sealed(serde.dumps_typed(value[len(last.items) :]))
            row["base"], row["depth"] = last.version, last.depth + 1
            out.deltas.append(Delta(row, value, ck))
        else:
            row["type"], row["data"] = sealed(serde.dumps_typed(value))
            row["base"], row["depth"] = None, 0
        out.rows.append(row)
        if is_list and cache.enabled:
            out.learned.append((ck, Stored(version, row["depth"], list(value))))
        elif cache.enabled and len(row["data"]) <= SEALED_MAX:
            out.kept.append((ck, Sealed(version, row["type"], row["data"])))
    return out


class Chains:
    """Blob rows fetched by the chain query, decoded once each and shared within one read."""

    def __init__(self, serde: SerializerProtocol, rows: Iterable[Any]) -> None:
        """Index the rows by key.

        Args:
            serde: The serializer of values.
            rows: Value rows of `Fetches` (key=version, link=base, number=depth).
        """
        self._serde = serde
        self._rows: dict[BlobKey, tuple[str | None, int, str, bytes]] = {}
        self._decoded: dict[BlobKey, Any] = {}
        self._known: dict[BlobKey, tuple[list[Any], int]] = {}
        self.add(rows)

    def __contains__(self, key: BlobKey) -> bool:
        return key in self._rows or key in self._known

    def add(self, rows: Iterable[Any]) -> None:
        """Index more value rows (the rest of chains fetched afterwards)."""
        for r in rows:
            self._rows[(r.thread_id, r.checkpoint_ns, r.channel, r.key)] = (
                r.link,
                r.number,
                r.type,
                r.data,
            )

    def unresolved(self) -> list[BlobKey]:
        """Bases of delta rows that are neither fetched nor known: the chains still to read."""
        missing = []
        for key, (base, *_) in self._rows.items():
            if base is not None:
                prior = (*key[:3], base)
                if prior not in self._rows and prior not in self._known:
                    missing.append(prior)
        return missing

    def keep(self, key: BlobKey, row: Sealed) -> None:
        """Supply a value's row already in memory (from the cache) instead of fetching it."""
        self._rows[key] = (None, 0, row.type, row.data)

    def know(self, key: BlobKey, items: list[Any], depth: int) -> None:
        """Supply a list value already in memory (from the cache) instead of a chain."""
        self._known[key] = (items, depth)

    def value(self, key: BlobKey) -> tuple[Any, int]:
        """The value stored at `key` and its delta depth (a fresh list for list values).

        Building a list costs one pass over its items, however long its delta chain.

        Raises:
            Undecodable: A row of the chain is missing or cannot be decoded.
        """
        if key in self._known:
            items, depth = self._known[key]
            return list(items), depth
        deltas: list[BlobKey] = []
        cursor = key
        while True:
            if cursor in self._known:
                start = list(self._known[cursor][0])
                break
            row = self._rows.get(cursor)
            if row is None:
                raise Undecodable(
                    f"channel {cursor[2]!r} version {cursor[3]} is missing from the"
                    f" delta chain of version {key[3]}"
                )
            if row[0] is None:
                start = self._decode(cursor)
                if not deltas:
                    return (list(start) if type(start) is list else start), row[1]
                break
            deltas.append(cursor)
            if len(deltas) > len(self._rows):
                raise Undecodable(f"channel {key[2]!r} has a cyclic delta chain")
            cursor = (*cursor[:3], row[0])
        if not isinstance(start, list):
            raise Undecodable(f"channel {key[2]!r} version {key[3]} extends a non-list")
        value = list(start)
        for step in reversed(deltas):
            suffix = self._decode(step)
            if not isinstance(suffix, list):
                raise Undecodable(f"channel {step[2]!r} version {step[3]} is not a list delta")
            value.extend(suffix)
        return value, self._rows[key][1]

    def _decode(self, key: BlobKey) -> Any:
        if key not in self._decoded:
            _, _, type_, data = self._rows[key]
            try:
                self._decoded[key] = self._serde.loads_typed((unsealed(type_, data), data))
            except Exception as exc:
                raise Undecodable(
                    f"channel {key[2]!r} version {key[3]} cannot be decoded ({exc!r})"
                ) from exc
        return self._decoded[key]


def corrupt(thread_id: str, checkpoint_ns: str, checkpoint_id: str, why: str) -> CorruptCheckpoint:
    """The error for a checkpoint whose stored rows cannot be read back."""
    where = f" (namespace {checkpoint_ns!r})" if checkpoint_ns else ""
    return CorruptCheckpoint(
        f"checkpoint {checkpoint_id} of thread (session) {thread_id!r}{where} is corrupt: {why}."
        " If the serializer changed, pass the original one as `serde=`; otherwise restore an"
        " earlier checkpoint (`restore(saver, thread_id, checkpoint_id=...)`, or"
        " `Sessions.arestore`), delete the thread with `delete_thread`, or restore the"
        " database from a backup.",
        thread_id=thread_id,
        checkpoint_ns=checkpoint_ns,
        checkpoint_id=checkpoint_id,
    )


def decode_checkpoint(serde: SerializerProtocol, type_: str, data: bytes) -> dict[str, Any]:
    """The checkpoint dict stored without its channel values."""
    try:
        checkpoint = serde.loads_typed((unsealed(type_, data), data))
    except Undecodable:
        raise
    except Exception as exc:
        raise Undecodable(f"the checkpoint row cannot be decoded ({exc!r})") from exc
    if not isinstance(checkpoint, dict) or "channel_versions" not in checkpoint:
        raise Undecodable("the checkpoint row does not hold a checkpoint")
    return checkpoint


_JSON = json.JSONDecoder()


def _loads(text: str) -> Any:
    """`json.loads`, three times faster on a short text without surrounding whitespace (what
    `encode_metadata` writes): `json.loads` scans for it on both sides."""
    try:
        value, end = _JSON.raw_decode(text)
    except (ValueError, TypeError):
        return json.loads(text)  # leading whitespace, bytes or invalid: json.loads decides
    return value if end == len(text) else json.loads(text)


def decode_metadata(text: str) -> dict[str, Any]:
    """The checkpoint metadata, stored as JSON."""
    try:
        metadata = _loads(text)
    except ValueError as exc:
        raise Undecodable(f"the metadata is not valid JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise Undecodable("the metadata is not a JSON object")
    return metadata


_METADATA_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""One encoder for every put: `json.dumps` with options builds a new one per call."""


def encode_metadata(metadata: Mapping[str, Any], thread_id: str) -> str:
    """JSON for the metadata column, so databases can filter on it."""
    try:
        return _METADATA_JSON.encode(metadata)
    except (TypeError, ValueError) as exc:
        raise PersistenceError(
            f"the metadata of a checkpoint of thread {thread_id!r} is not JSON-serializable"
            f" ({exc}); keep metadata values to str, int, float, bool, None, lists and dicts"
        ) from exc


def _write_order(row: Sequence[Any]) -> Any:
    return writes_sort_key(row[0], row[1], row[2])


def decode_writes(serde: SerializerProtocol, rows: Sequence[Any]) -> list[PendingWrite]:
    """Pending writes in `writes_sort_key` order, the order live execution applies them.

    Args:
        serde: The serializer of values.
        rows: (task_path, task_id, idx, channel, type, value) tuples.
    """
    if not rows:
        return []
    ordered = sorted(rows, key=_write_order) if len(rows) > 1 else rows
    loads = serde.loads_typed
    try:
        return [
            (task_id, channel, loads((unsealed(t, v), v)))
            for _, task_id, _, channel, t, v in ordered
        ]
    except Exception as exc:
        for _, task_id, idx, channel, t, v in ordered:
            try:
                loads((unsealed(t, v), v))
            except Exception:
                raise Undecodable(
                    f"the pending write {idx} of task {task_id} to channel {channel!r}"
                    f" cannot be decoded ({exc!r})"
                ) from exc
        raise


def next_version(current: str | int | float | None) -> str:
    """A channel version greater than `current`, with a random tail so forks never collide."""
    if current is None:
        number = 0
    elif isinstance(current, (int, float)):
        number = int(current)
    else:
        number = int(str(current).split(".")[0])
    return f"{number + 1:032}.{random.random():016}"
