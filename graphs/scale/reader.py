"""`Reader`: one Redis connection and one blocking XREAD for every turn a process streams.

Each turn being streamed used to block a connection of its own in XREAD; a server streaming
2,000 turns held 2,000 connections. The reader follows every stream over one connection.

A turn this process enqueued names the process's inbox (a Redis Stream of its own): with each
entry the worker appends to the turn's stream, it appends to the inbox the same entry, its
id, its stream's key and the id of the entry before it (`Channel.publish`). Such a turn is
*announced*: the blocking XREAD names only the inbox, which carries every announced turn's
entries. Naming every followed stream in each XREAD cost the reader time in proportion to the
streams followed, on every entry: hundreds of streams in a busy process, most of its CPU. A
turn enqueued elsewhere (a reconnecting client's, a message sent again) is not announced
here: the blocking XREAD names its stream itself (after the last entry handed on).

An announced turn's entries that the inbox carried before its follower came are kept for it
(`UNCLAIMED`), so a new follower of an announced turn costs nothing. Each inbox entry names
the entry before it in its stream; a follower that missed one has its stream read at once.
A follower of a stream that is not announced, or whose stream has to be read, interrupts the
blocked XREAD (`CLIENT UNBLOCK`, once per XREAD however many followers come). After `BLOCK_MS`
without any entry, every announced stream is read once (a worker of an older accord names no
inbox). The reader stops when nobody follows anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from accord.graphs.scale.extra import redis_errors
from accord.graphs.scale.wire import decode, text_of

BLOCK_MS = 5_000
"""How long one XREAD waits for any followed stream (a new follower cuts it short)."""

COUNT = 500
"""Entries one XREAD takes from each stream at most (the rest: the next XREAD's)."""

UNCLAIMED = 10_000
"""Inbox entries the reader keeps of streams nobody follows (a follower that comes later takes
them): entries that came before their turn's follower (a rare race), or after it left."""

Entry = tuple[str, dict[str, Any]]


def _order(entry_id: str) -> tuple[int, int]:
    """A stream entry id (`ms-seq`, or "0") as numbers, to compare."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(eq=False)
class _Follower:
    after: str
    announced: bool
    queue: asyncio.Queue[Entry | BaseException] = field(default_factory=asyncio.Queue)


class Reader:
    """Follows many streams over one connection of its own (`connect()` opens it).

    Args:
        connect: Opens the reader's own client (a single connection, a socket timeout longer
            than `BLOCK_MS`).
        failed: Turns a Redis error into the error the followers raise.
        inbox: The key of this process's inbox (None: every stream is read by naming it).
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        failed: Callable[[BaseException], BaseException],
        inbox: str | None = None,
    ) -> None:
        self._connect, self._failed, self._inbox = connect, failed, inbox
        self._client: Any = None
        self._id: int | None = None
        self._follow: dict[str, list[_Follower]] = {}
        # Where the next XREAD reads each stream from: kept as entries are handed on, not
        # worked out again for every stream at every XREAD.
        self._from: dict[str, str] = {}
        self._named: set[str] = set()  # streams the blocking XREAD names (not announced)
        self._due: set[str] = set()  # streams to read without blocking, next
        self._inbox_from = "0"  # the inbox is this process's alone: all of it is for us
        self._blocked = False  # the blocking XREAD is out, and nobody interrupted it yet
        # The inbox's entries of streams nobody followed when they came, the latest streams'.
        self._unclaimed: OrderedDict[str, list[tuple[str, str, bytes]]] = OrderedDict()
        self._kept = 0  # entries in `_unclaimed`
        self._task: asyncio.Task[None] | None = None
        self._control: Any = None

    async def follow(
        self, key: str, *, after: str, beat: float | None, control: Any, announced: bool = False
    ) -> AsyncGenerator[Entry | None, None]:
        """The stream `key`'s entries after `after`, as they come; with `beat`, None whenever
        `beat` seconds pass without one. `control`: a client to interrupt the XREAD with.
        `announced`: the turn names this process's inbox (this process enqueued it)."""
        follower = _Follower(after, announced and self._inbox is not None)
        followers = self._follow.setdefault(key, [])
        alone = not followers
        followers.append(follower)
        self._from[key] = _first(followers)
        if not follower.announced:
            self._named.add(key)
        elif not alone:
            self._due.add(key)  # it may be behind the others: read what they had
        else:
            # What the inbox carried before anyone followed the stream (the worker was
            # quick), then everything after it comes through the inbox.
            kept = self._unclaimed.pop(key, [])
            self._kept -= len(kept)
            for before, entry_id, raw in kept:
                self._announced(key, before, entry_id, raw)
        self._control = control
        try:
            if not follower.announced or key in self._due or not self._reading():
                await self._wake()
            while True:
                try:
                    item = await asyncio.wait_for(follower.queue.get(), beat)
                except TimeoutError:
                    yield None
                    continue
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._leave(key, follower)

    def _leave(self, key: str, follower: _Follower) -> None:
        followers = self._follow.get(key, [])
        if follower in followers:
            followers.remove(follower)
        if not followers:
            self._follow.pop(key, None)
            self._from.pop(key, None)
            self._due.discard(key)
        if all(f.announced for f in followers):
            self._named.discard(key)

    def _reading(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _wake(self) -> None:
        """Starts the reading task, or makes the blocked XREAD start again."""
        if not self._reading():
            self._task = asyncio.get_running_loop().create_task(self._read())
        elif self._blocked and self._id is not None:
            self._blocked = False  # one interruption serves every follower until the next
            with contextlib.suppress(*redis_errors()):
                await self._control.client_unblock(self._id)

    async def _read(self) -> None:
        try:
            if self._client is None:
                self._client = self._connect()
                self._id = int(await self._client.client_id())
            while self._follow:
                if self._due:
                    due, self._due = self._due, set()
                    streams = {key: self._from[key] for key in due if key in self._from}
                    if streams:
                        found = await self._client.xread(streams, count=COUNT)
                        self._hand_all(found, more=self._due)
                    continue
                streams = {key: self._from[key] for key in self._named}
                if self._inbox is not None:
                    streams[self._inbox] = self._inbox_from
                self._blocked = True
                try:
                    found = await self._client.xread(streams, count=COUNT, block=BLOCK_MS)
                    timed_out = not found and self._blocked
                finally:
                    self._blocked = False
                self._hand_all(found)
                if timed_out:
                    # Nothing for BLOCK_MS: read every announced stream once, in case the
                    # inbox missed an entry (a worker of an older accord names no inbox).
                    self._due.update(key for key in self._follow if key not in self._named)
        except redis_errors() as error:
            self._task = None  # a follower added from here on starts a new reader
            failure = self._failed(error)
            for followers in self._follow.values():
                for follower in followers:
                    follower.queue.put_nowait(failure)
            await self._drop_client()

    def _hand_all(self, found: Any, more: set[str] | None = None) -> None:
        """Hands on what an XREAD found; a stream that gave `COUNT` entries goes in `more`
        (read it again: it may have others)."""
        for raw_key, entries in found or []:
            key = text_of(raw_key)
            if key == self._inbox:
                self._hand_on_announced(entries)
                continue
            self._hand_on(key, entries)
            if more is not None and len(entries) >= COUNT and key in self._follow:
                more.add(key)

    def _hand_on_announced(self, entries: list[tuple[Any, dict[bytes, bytes]]]) -> None:
        """Hands on the entries the inbox carries."""
        for raw_id, fields in entries:
            self._inbox_from = text_of(raw_id)
            key, before = text_of(fields[b"k"]), text_of(fields[b"p"])
            entry_id, raw = text_of(fields[b"i"]), fields[b"e"]
            if key in self._follow:
                self._announced(key, before, entry_id, raw)
                continue
            self._unclaimed.setdefault(key, []).append((before, entry_id, raw))
            self._unclaimed.move_to_end(key)
            self._kept += 1
            while self._kept > UNCLAIMED:  # the oldest streams' go first
                self._kept -= len(self._unclaimed.popitem(last=False)[1])

    def _announced(self, key: str, before: str, entry_id: str, raw: bytes) -> None:
        """Hands on an entry of a followed stream that the inbox carried. It names the entry
        before it in its stream: a follower that has that one gets it; one that has an
        earlier one missed some (they came before it followed, or the inbox lost them), so
        the stream itself is read next."""
        if key in self._due:
            return  # the read of the stream itself, next, has it
        followers = self._follow[key]
        data: dict[str, Any] | None = None
        for follower in followers:
            had = _order(follower.after)
            if had == _order(before):
                data = data if data is not None else decode(raw)
                follower.after = entry_id
                follower.queue.put_nowait((entry_id, dict(data)))
            elif had < _order(before):
                self._due.add(key)
        self._from[key] = _first(followers)

    def _hand_on(self, key: str, entries: list[tuple[Any, dict[bytes, bytes]]]) -> None:
        followers = self._follow.get(key, [])
        for raw_id, fields in entries:
            entry_id = text_of(raw_id)
            data = decode(fields[b"e"])
            for follower in followers:
                if _order(entry_id) > _order(follower.after):
                    follower.after = entry_id
                    follower.queue.put_nowait((entry_id, dict(data)))
        if followers:
            self._from[key] = _first(followers)

    async def _drop_client(self) -> None:
        client, self._client, self._id = self._client, None, None
        if client is not None:
            with contextlib.suppress(*redis_errors()):
                await client.aclose()

    async def aclose(self) -> None:
        """Stops reading and closes the reader's connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_client()


def _first(followers: list[_Follower]) -> str:
    """Where to read a stream from: after the entry its least advanced follower has."""
    return min((f.after for f in followers), key=_order)
