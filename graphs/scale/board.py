"""The fleet's load board in Redis: what each worker has in flight, seen by every process.

Each worker writes its entry every `beat` seconds (`PREFIX:worker:HOST:PID`, a hash that
expires after three beats, so a dead worker drops off by itself): its turns in flight, how many
it runs at once, the mean seconds of its recent turns, and its agents' steps in flight. The
enqueuing side counts arrivals per minute (`PREFIX:arrivals`, see `Channel.ticket`).

Readers: a router's `SharedLoad(broker.board())` adds the other workers' steps per agent to its
own process's (a `LoadSource`), and `Broker.recommend()` sizes the fleet from the whole board.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from accord.graphs.errors import ServiceUnavailable
from accord.graphs.scale.channel import BUCKET_S, guarded, redis_unavailable
from accord.graphs.scale.extra import need, redis_asyncio, redis_errors
from accord.persistence import Call, Flow, adrive, drive

ME = f"{socket.gethostname()}:{os.getpid()}"
"""This process's name on the board."""

AGENT = "a:"
"""The prefix of an agent's field in a worker's entry."""

KEEP_BUCKETS = 2 * 1440
"""Buckets of arrivals kept: two days, so the daily season has a day to learn from."""


@dataclass(frozen=True, slots=True)
class WorkerLoad:
    """One worker's entry on the board."""

    name: str
    turns: int
    concurrency: int
    turn_s: float
    agents: dict[str, int]


class Board:
    """The load board of the fleet whose Redis is `url` and keys `prefix`.

    Args:
        beat: Seconds between a worker's writes; entries live three beats.
        me: This process's name (its own entry is left out of `per_agent`).
    """

    def __init__(self, url: str, prefix: str, *, beat: float = 1.0, me: str = ME) -> None:
        self.url, self.prefix, self.beat, self.me = url, prefix, beat, me
        self._sync: Any = None
        self._async: Any = None

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @property
    def _redis(self) -> Any:
        if self._sync is None:
            self._sync = need("redis").Redis.from_url(self.url, socket_connect_timeout=3)
        return self._sync

    @property
    def _aredis(self) -> Any:
        if self._async is None:
            self._async = redis_asyncio().from_url(self.url, socket_connect_timeout=3)
        return self._async

    async def apost(
        self, *, turns: int, concurrency: int, turn_s: float, agents: dict[str, int]
    ) -> None:
        """Writes this worker's entry (replacing the last one)."""
        key = self._key("worker", self.me)
        entry: dict[str, Any] = {"turns": turns, "concurrency": concurrency, "turn_s": turn_s}
        entry.update({AGENT + name: count for name, count in agents.items() if count})
        async with self._aredis.pipeline(transaction=True) as pipe:
            pipe.delete(key).hset(key, mapping=entry).pexpire(key, int(3000 * self.beat))
            pipe.sadd(self._key("workers"), self.me)
            await self._guard(pipe.execute())

    async def aretire(self) -> None:
        """Takes this worker's entry off the board (it stops taking turns)."""
        async with self._aredis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key("worker", self.me)).srem(self._key("workers"), self.me)
            await self._guard(pipe.execute())

    def workers(self) -> list[WorkerLoad]:
        """Every live worker's entry (stale names are swept from the index)."""
        try:
            return drive(self._reading())
        except redis_errors() as error:
            raise self._unavailable(error) from None

    async def aworkers(self) -> list[WorkerLoad]:
        """Async `workers`."""
        try:
            return await adrive(self._reading())
        except redis_errors() as error:
            raise self._unavailable(error) from None

    def _reading(self) -> Flow[list[WorkerLoad]]:
        index = self._key("workers")
        members = yield Call(
            lambda: self._redis.smembers(index), lambda: self._aredis.smembers(index)
        )
        names = sorted(member.decode() for member in members)
        entries = yield Call(
            lambda: self._fetch(self._redis, names), lambda: self._fetch(self._aredis, names)
        )
        gone = [name for name, entry in zip(names, entries, strict=True) if not entry]
        if gone:
            yield Call(
                lambda: self._redis.srem(index, *gone), lambda: self._aredis.srem(index, *gone)
            )
        return _parsed(names, entries)

    def _fetch(self, client: Any, names: list[str]) -> Any:
        """Reads each named worker's entry in one round trip (`execute()`'s result)."""
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._key("worker", name))
        return pipe.execute()

    def per_agent(self) -> dict[str, int]:
        """The other workers' steps in flight per agent (a `LoadSource` for `SharedLoad`)."""
        return _summed(self.workers(), self.me)

    async def aper_agent(self) -> dict[str, int]:
        """Async `per_agent`."""
        return _summed(await self.aworkers(), self.me)

    def arrivals(self, now: float | None = None) -> list[tuple[float, int]]:
        """The turns enqueued per bucket (its start in seconds, the count), oldest dropped."""
        key = self._key("arrivals")
        oldest = int((now or time.time()) // BUCKET_S) - KEEP_BUCKETS
        try:
            counts = {int(b): int(n) for b, n in self._redis.hgetall(key).items()}
            stale = [bucket for bucket in counts if bucket < oldest]
            if stale:
                self._redis.hdel(key, *stale)
        except redis_errors() as error:
            raise self._unavailable(error) from None
        return [(b * BUCKET_S, n) for b, n in sorted(counts.items()) if b >= oldest]

    def close(self) -> None:
        """Closes the sync client (the async one: `aclose`)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Closes the async client (and the sync one)."""
        self.close()
        if self._async is not None:
            await self._async.aclose()
            self._async = None

    async def _guard(self, call: Awaitable[Any]) -> Any:
        return await guarded(self.url, call)

    def _unavailable(self, error: BaseException) -> ServiceUnavailable:
        return redis_unavailable(self.url, error)


def _parsed(names: list[str], entries: list[dict[bytes, bytes]]) -> list[WorkerLoad]:
    found = []
    for name, entry in zip(names, entries, strict=True):
        if not entry:
            continue
        fields = {k.decode(): v.decode() for k, v in entry.items()}
        agents = {k[len(AGENT) :]: int(v) for k, v in fields.items() if k.startswith(AGENT)}
        found.append(
            WorkerLoad(
                name,
                int(fields.get("turns", 0)),
                int(fields.get("concurrency", 0)),
                float(fields.get("turn_s", 0.0)),
                agents,
            )
        )
    return found


def _summed(workers: list[WorkerLoad], me: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for worker in workers:
        if worker.name != me:
            for agent, count in worker.agents.items():
                total[agent] = total.get(agent, 0) + count
    return total
