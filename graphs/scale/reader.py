"""`Reader`: one Redis connection and one blocking XREAD for every turn a process streams.

Each turn being streamed used to block a connection of its own in XREAD; a server streaming
2,000 turns held 2,000 connections. The reader follows every stream at once: one XREAD names
them all (each after the last entry it handed on), and each entry goes to the queues of the
followers of its stream. A new follower interrupts the blocked XREAD (`CLIENT UNBLOCK`) so
the next one names its stream too; the reader stops when nobody follows anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from accord.graphs.scale.extra import redis_errors
from accord.graphs.scale.wire import decode

BLOCK_MS = 5_000
"""How long one XREAD waits for any followed stream (a new follower cuts it short)."""

Entry = tuple[str, dict[str, Any]]


def _order(entry_id: str) -> tuple[int, int]:
    """A stream entry id (`ms-seq`, or "0") as numbers, to compare."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(eq=False)
class _Follower:
    after: str
    queue: asyncio.Queue[Entry | BaseException] = field(default_factory=asyncio.Queue)


class Reader:
    """Follows many streams over one connection of its own (`connect()` opens it).

    Args:
        connect: Opens the reader's own client (a single connection, a socket timeout longer
            than `BLOCK_MS`).
        failed: Turns a Redis error into the error the followers raise.
    """

    def __init__(
        self, connect: Callable[[], Any], failed: Callable[[BaseException], BaseException]
    ) -> None:
        self._connect, self._failed = connect, failed
        self._client: Any = None
        self._id: int | None = None
        self._follow: dict[str, list[_Follower]] = {}
        # Where the next XREAD reads each stream from: kept as entries are handed on, not
        # worked out again for every stream at every XREAD (that cost grew with the streams
        # followed, hundreds in a busy server, on each of its turns).
        self._from: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._control: Any = None

    async def follow(
        self, key: str, *, after: str, beat: float | None, control: Any
    ) -> AsyncGenerator[Entry | None, None]:
        """The stream `key`'s entries after `after`, as they come; with `beat`, None whenever
        `beat` seconds pass without one. `control`: a client to interrupt the XREAD with."""
        follower = _Follower(after)
        self._follow.setdefault(key, []).append(follower)
        self._from[key] = _first(self._follow[key])
        self._control = control
        try:
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
            followers = self._follow.get(key, [])
            if follower in followers:
                followers.remove(follower)
            if not followers:
                self._follow.pop(key, None)
                self._from.pop(key, None)

    async def _wake(self) -> None:
        """Starts the reading task, or makes the blocked XREAD start again with every key."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._read())
        elif self._id is not None:
            with contextlib.suppress(*redis_errors()):
                await self._control.client_unblock(self._id)

    async def _read(self) -> None:
        try:
            if self._client is None:
                self._client = self._connect()
                self._id = int(await self._client.client_id())
            while self._follow:
                found = await self._client.xread(dict(self._from), count=100, block=BLOCK_MS)
                for raw_key, entries in found or []:
                    key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                    self._hand_on(key, entries)
        except redis_errors() as error:
            self._task = None  # a follower added from here on starts a new reader
            failure = self._failed(error)
            for followers in self._follow.values():
                for follower in followers:
                    follower.queue.put_nowait(failure)
            await self._drop_client()

    def _hand_on(self, key: str, entries: list[tuple[Any, dict[bytes, bytes]]]) -> None:
        followers = self._follow.get(key, [])
        for raw_id, fields in entries:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
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
