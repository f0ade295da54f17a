"""What workers and the processes that enqueue turns share through Redis.

- Each turn's events, in a Redis Stream of its own (`PREFIX:turn:SESSION_ID:MESSAGE_ID`): the worker
  appends them as they happen, any process reads them (one `Reader` per process follows every
  stream it streams, over one connection), and a reader that reconnects goes on after the last
  entry id it saw (the SSE `Last-Event-ID`).
- The order of a session's turns: each enqueued turn takes the session's next ticket, and a
  worker starts a turn only once every earlier ticket is finished (answered, failed or
  dead-lettered), so a busy session's next turn waits instead of failing or overtaking.
- Each message's delivery count, so a poison message is dead-lettered after N attempts even
  when it kills its worker every time.

Keys expire after `keep` seconds of silence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable
from typing import Any

from accord.graphs.errors import ServiceUnavailable
from accord.graphs.scale.extra import redis_asyncio, redis_errors, shown
from accord.graphs.scale.reader import Reader
from accord.graphs.scale.wire import decode, encode

REDIS_START = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"

BUCKET_S = 60
"""Arrivals are counted per bucket of this many seconds (`PREFIX:arrivals`, for the forecast)."""

DAYS_2 = 2 * 86_400
"""How long the arrivals counts outlive the last arrival (the forecast learns a daily season)."""

MAX_CONNECTIONS = 5_000
"""Redis connections one process may open (Redis itself takes 10,000 clients by default)."""

# Marks `ticket` finished and moves the session's "finished up to" mark over every finished
# ticket that follows it, atomically (tickets finish in any order when one is skipped).
_FINISH = """
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
while redis.call('ZSCORE', KEYS[2], done + 1) do
  done = done + 1
  redis.call('ZREM', KEYS[2], done)
end
redis.call('SET', KEYS[1], done, 'EX', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return done
"""


def turn_key(session_id: str, message_id: str) -> str:
    """What names one turn in Redis: its session and message (message ids are the caller's,
    so two sessions may use the same one)."""
    return f"{session_id}:{message_id}"


class Channel:
    """The Redis of one fleet: `url`, its keys under `prefix`."""

    def __init__(self, url: str, *, prefix: str = "accord", keep: float = 86_400) -> None:
        self.url, self.prefix, self.keep = url, prefix, int(keep)
        # Turns wait in `wait_turn` and publish at once from many tasks: redis-py's default
        # pool (100 connections) would refuse the 101st instead of connecting.
        self.redis: Any = redis_asyncio().from_url(
            url, socket_timeout=30, socket_connect_timeout=3, max_connections=MAX_CONNECTIONS
        )
        self._finish = self.redis.register_script(_FINISH)
        # Every stream this process reads, over one connection of the reader's own.
        self.reader = Reader(self._reading_client, self._unavailable)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def claim(self, turn: str) -> bool:
        """True the first time a message is enqueued; False if it was already (a resend)."""
        return bool(
            await self._guard(self.redis.set(self._key("queued", turn), 1, nx=True, ex=self.keep))
        )

    async def claimed(self, turn: str) -> bool:
        """Whether the turn was enqueued (and its events not yet expired)."""
        return bool(await self._guard(self.redis.exists(self._key("queued", turn))))

    async def unclaim(self, turn: str) -> None:
        """Forgets a claim whose enqueue failed, so the message may be sent again."""
        await self._guard(self.redis.delete(self._key("queued", turn)))

    async def ticket(self, session_id: str) -> int:
        """The session's next turn number (from 1); counts the turn's arrival (the load
        board's, which the fleet's forecast reads)."""
        key, arrivals = self._key("tickets", session_id), self._key("arrivals")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key).expire(key, self.keep)
            pipe.hincrby(arrivals, str(int(time.time() // BUCKET_S)), 1).expire(arrivals, DAYS_2)
            count, *_ = await self._guard(pipe.execute())
        return int(count)

    async def finish(self, session_id: str, ticket: int) -> None:
        """Marks the turn `ticket` finished (or never to come), letting the next one start."""
        keys = [self._key("done", session_id), self._key("finished", session_id)]
        await self._guard(self._finish(keys=keys, args=[ticket, self.keep]))

    async def wait_turn(self, session_id: str, ticket: int, *, patience: float) -> bool:
        """Waits until every turn before `ticket` is finished; False after `patience` s."""
        key = self._key("done", session_id)
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + patience, 0.01
        while int(await self._guard(self.redis.get(key)) or 0) < ticket - 1:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)
        return True

    async def attempt(self, turn: str) -> int:
        """Counts one more delivery of the message; returns the count (from 1)."""
        return await self._count(self._key("attempts", turn))

    async def publish(self, turn: str, data: dict[str, Any]) -> str:
        """Appends an entry to the turn's stream; returns its id."""
        key = self._key("turn", turn)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"e": encode(data)}).expire(key, self.keep)
            entry, _ = await self._guard(pipe.execute())
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    async def streamed(self, turn: str) -> list[dict[str, Any]]:
        """Every entry of the turn's stream so far (what a redelivery finds)."""
        found = await self._guard(self.redis.xrange(self._key("turn", turn)))
        return [decode(fields[b"e"]) for _, fields in found]

    def read(
        self, turn: str, *, after: str = "0", beat: float | None = None
    ) -> AsyncGenerator[tuple[str, dict[str, Any]] | None, None]:
        """The turn's entries after the id `after`, as they come (forever: the caller stops);
        with `beat`, None whenever `beat` seconds pass without one (a keep-alive's cue)."""
        key = self._key("turn", turn)
        return self.reader.follow(key, after=after, beat=beat, control=self.redis)

    def _reading_client(self) -> Any:
        """The reader's own connection: its XREAD blocks for up to `BLOCK_MS`."""
        return redis_asyncio().from_url(
            self.url,
            socket_timeout=30,
            socket_connect_timeout=3,
            single_connection_client=True,
            client_name=f"{self.prefix}-reader",  # in CLIENT LIST: one per process
        )

    async def ping(self) -> None:
        """Raises `ServiceUnavailable` unless Redis answers."""
        await self._guard(self.redis.ping())

    async def aclose(self) -> None:
        """Closes the connections."""
        await self.reader.aclose()
        await self.redis.aclose()

    async def _count(self, key: str) -> int:
        """Adds one to the counter `key` (kept `keep` seconds more); its new value."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key).expire(key, self.keep)
            count, _ = await self._guard(pipe.execute())
        return int(count)

    async def _guard(self, call: Awaitable[Any]) -> Any:
        return await guarded(self.url, call)

    def _unavailable(self, error: BaseException) -> ServiceUnavailable:
        return redis_unavailable(self.url, error)


def redis_unavailable(url: str, error: BaseException) -> ServiceUnavailable:
    """The typed error for a Redis that cannot be reached: which one, and what starts it."""
    return ServiceUnavailable("redis", shown(url), error, REDIS_START)


async def guarded(url: str, call: Awaitable[Any]) -> Any:
    """Awaits a Redis call; an unreachable Redis raises `ServiceUnavailable`."""
    try:
        return await call
    except redis_errors() as error:
        raise redis_unavailable(url, error) from None
