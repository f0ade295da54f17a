"""SQLite's hot operations run at once on the event loop's thread, when the file is free.

A hop to a worker thread and back costs a SQLite turn more than its transactions: two thread
switches per operation, and, with many sessions at once, the loop and the workers taking the
GIL from each other (measured: 6.9 ms of CPU per turn at 200 sessions at once, 3.9 ms with the
hot operations run on the loop's thread). Their statements are primary-key reads and small
writes that SQLite answers in microseconds, so running them where they are asked costs less
than handing them over, as long as nothing makes the loop wait:

- Each loop thread uses a connection of its own, outside the pool, that never waits for a lock
  (`busy_timeout=0`): if another process (or a thread of this one) holds the write lock, the
  operation fails at once with SQLITE_BUSY, having written nothing, and the caller hands it to
  a worker thread, which waits for the lock as every operation did before.
- Its commits never copy the write-ahead log back into the database (`wal_autocheckpoint=0`),
  which with its fsync stalls a commit for milliseconds every few hundred. Every
  `CHECKPOINT_EVERY` writes a worker thread does it instead, while the loop's writes wait
  (as they would for SQLite's own auto-checkpoint) so that the next one starts the log
  afresh; the loop itself, and its reads, go on.

Only native operations run here (see `accord.persistence.ops.native`): the saver's and the
session stores' per-turn reads and writes. Listing, pruning, copying and migrations, whose
size has no bound, stay on the worker threads.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

CHECKPOINT_EVERY = 100
"""Write commits on the loop's connections between two checkpoints of the log by a worker
(SQLite's auto-checkpoint runs at 1,000 pages: about 170 of a checkpoint's commits)."""
SQLITE_BUSY = 5
THREADS_MAX = 8
"""Threads that may run operations at once on connections of their own (each runs an event
loop); the operations of more go to the worker threads."""


class Busy(Exception):
    """The operation would have waited for SQLite's lock; it wrote nothing: run it elsewhere."""


def locked(exc: DBAPIError) -> bool:
    """Whether SQLite refused for a lock another connection holds."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == SQLITE_BUSY


class Inline:
    """The loop threads' own connections to one SQLite file, and when to checkpoint."""

    def __init__(self, engine: Engine) -> None:
        """Connect through `engine` (its connect hooks set WAL and the rest) when first used."""
        self._engine = engine
        # Its own pool, with the engine's connect hooks: never waits for the engine's slots.
        self._pool = engine.pool.recreate()
        self._local = threading.local()
        self._all: dict[threading.Thread, PoolProxiedConnection] = {}
        self._lock = threading.Lock()
        self._writes = 0

    def connection(self) -> PoolProxiedConnection:
        """This thread's connection.

        Raises:
            Busy: `THREADS_MAX` live threads have one already: run it elsewhere.
            DBAPIError: None can be made.
        """
        pooled: PoolProxiedConnection | None = getattr(self._local, "pooled", None)
        if pooled is not None and pooled.is_valid:
            return pooled
        thread = threading.current_thread()
        with self._lock:
            # A thread that ran a loop and ended leaves its connection: closed here.
            ended = [t for t in self._all if not t.is_alive() or t is thread]
            gone = [self._all.pop(t) for t in ended]
            if len(self._all) >= THREADS_MAX:
                raise Busy("every connection of the loops' own is taken")
        _close(gone)
        pooled = self._pool.connect()
        pooled.detach()  # kept by this thread, closed by `close`
        cursor: Any = pooled.cursor()
        try:
            cursor.execute("PRAGMA busy_timeout=0")
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        finally:
            cursor.close()
        self._local.pooled = pooled
        with self._lock:
            self._all[thread] = pooled
        return pooled

    def wrote(self) -> bool:
        """Counts a write commit; whether the log is due a checkpoint."""
        self._writes += 1
        return self._writes % CHECKPOINT_EVERY == 0

    def checkpoint(self) -> None:
        """Copies the log back into the database, as far as no reader needs it (in a worker
        thread: this syncs the file)."""
        pooled = self._engine.raw_connection()
        try:
            cursor: Any = pooled.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.close()
        finally:
            pooled.close()

    def close(self) -> None:
        """Closes every thread's connection (the saver is closing)."""
        with self._lock:
            connections, self._all = list(self._all.values()), {}
            self._local = threading.local()
        _close(connections)


def _close(connections: list[PoolProxiedConnection]) -> None:
    for pooled in connections:
        with suppress(Exception):  # best effort: a connection may be broken already
            pooled.close()
