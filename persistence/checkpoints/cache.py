"""The in-process memory of each channel's last stored value: a list's, to write deltas
cheaply; any other's row, so that reading it back needs no statement."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

CacheKey = tuple[str, str, str]
E = TypeVar("E")
"""(thread_id, checkpoint_ns, channel)"""


@dataclass(frozen=True, slots=True)
class Stored:
    """A list value exactly as one blob row (and its delta chain) reconstructs it."""

    version: str
    depth: int
    items: list[Any]
    """A private shallow copy, so later appends to the caller's list cannot change it."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """A value that is not a list, as its one value row stores it (serialized and sealed);
    no type: the version is empty (it has no row)."""

    version: str
    type: str = ""
    data: bytes = b""


SEALED_MAX = 4096
"""Largest serialized value kept as a `Sealed` row (a turn's input, a small dict)."""


class ChannelCache:
    """Thread-safe LRU maps from (thread, namespace, channel) to its last stored list value,
    and to its last stored row of another value.

    An entry is only a hint: writers check the base row still exists before relying on it,
    and a miss only costs one full snapshot.
    """

    def __init__(self, capacity: int) -> None:
        """Create an empty cache.

        Args:
            capacity: How many channels to remember; 0 disables delta encoding.
        """
        self._capacity = capacity
        self._entries: OrderedDict[CacheKey, Stored] = OrderedDict()
        self._rows: OrderedDict[CacheKey, Sealed] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether the cache remembers anything at all."""
        return self._capacity > 0

    def get(self, key: CacheKey) -> Stored | None:
        """The last stored value of a channel, if remembered."""
        return self._find(self._entries, key)

    def remember(self, entries: Iterable[tuple[CacheKey, Stored]]) -> None:
        """Record values that are now committed to the database."""
        self._add(self._entries, entries)

    def row(self, key: CacheKey) -> Sealed | None:
        """The last stored row of a channel whose value is not a list, if remembered."""
        return self._find(self._rows, key)

    def keep(self, entries: Iterable[tuple[CacheKey, Sealed]]) -> None:
        """Record rows of values that are not lists, now committed to the database."""
        self._add(self._rows, entries)

    def _find(self, entries: OrderedDict[CacheKey, E], key: CacheKey) -> E | None:
        with self._lock:
            entry = entries.get(key)
            if entry is not None:
                entries.move_to_end(key)
            return entry

    def _add(self, into: OrderedDict[CacheKey, E], entries: Iterable[tuple[CacheKey, E]]) -> None:
        if not self._capacity or entries == []:  # most checkpoints hold no such value
            return
        with self._lock:
            for key, entry in entries:
                into[key] = entry
                into.move_to_end(key)
            while len(into) > self._capacity:
                into.popitem(last=False)

    def forget(self, thread_ids: Iterable[str]) -> None:
        """Drop every channel of these threads (after deletes, copies and prunes)."""
        doomed = set(thread_ids)
        if not doomed:
            return
        with self._lock:
            for key in [k for k in self._entries if k[0] in doomed]:
                del self._entries[key]
            for key in [k for k in self._rows if k[0] in doomed]:
                del self._rows[key]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self._rows.clear()
