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
import uuid
from collections.abc import AsyncGenerator, Awaitable
from typing import Any

from accord.graphs.errors import ServiceUnavailable
from accord.graphs.scale.extra import no_client_info, redis_asyncio, redis_errors, shown
from accord.graphs.scale.reader import Reader
from accord.graphs.scale.wire import decode, encode, text_of

REDIS_START = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"

BUCKET_S = 60
"""Arrivals are counted per bucket of this many seconds (`PREFIX:arrivals`, for the forecast)."""

DAYS_2 = 2 * 86_400
"""How long the arrivals counts outlive the last arrival (the forecast learns a daily season)."""

INBOX_LEN = 10_000
"""Entries a process's inbox keeps (about: Redis trims it by whole nodes); its reader takes
them as they come, and reads a stream itself where it finds one missing."""

INBOX_KEEP = 600
"""Seconds a process's inbox outlives its last entry (a process gone leaves it behind)."""

# Appends entries to a turn's stream and, with an inbox, to the inbox too: each entry, its id,
# its stream's key and the id of the stream's entry before it (how a reader knows it missed
# none), atomically, so the two never disagree. With ARGV[4] set, the turn's claim (KEYS[2]) is
# released in the same call: nobody reads the entries before the message may be sent again.
_PUBLISH = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local before = '0'
if last[1] then before = last[1][1] end
local ids = {}
for k = 5, #ARGV do
  local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[k])
  if KEYS[3] then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*',
               'k', KEYS[1], 'p', before, 'i', id, 'e', ARGV[k])
  end
  before = id
  ids[#ids + 1] = id
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
if KEYS[3] then redis.call('EXPIRE', KEYS[3], ARGV[3]) end
if ARGV[4] == '1' then redis.call('DEL', KEYS[2]) end
return ids
"""

MAX_CONNECTIONS = 64
"""Redis connections one process opens at most. Its commands are each one short round trip
(no blocking reads: the reader has a connection of its own), so a few dozen carry thousands
of turns at once; a burst's commands wait for a free one (LIFO) instead of opening hundreds,
each a Redis client and some 10 KB of the process's memory that stays after the burst."""

POOL_WAIT_S = 30.0
"""How long a command waits for a free connection before the channel says Redis is down."""

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


# Claims a message's turn (once: a resend finds it claimed, and gets 0), then takes its
# session's next ticket and counts its arrival, atomically. A claim released by a worker
# (`unclaim`: the database stayed down) leaves the turn's stream and delivery count behind:
# the turn starts afresh.
_CLAIM = """
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('DEL', KEYS[4], KEYS[5])
local ticket = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
redis.call('EXPIRE', KEYS[3], ARGV[3])
return ticket
"""


def turn_key(session_id: str, message_id: str) -> str:
    """What names one turn in Redis: its session and message (message ids are the caller's,
    so two sessions may use the same one)."""
    return f"{session_id}:{message_id}"


class Channel:
    """The Redis of one fleet: `url`, its keys under `prefix`."""

    def __init__(self, url: str, *, prefix: str = "accord", keep: float = 86_400) -> None:
        self.url, self.prefix, self.keep = url, prefix, int(keep)
        # Turns wait in `wait_turn` and publish at once from many tasks: a blocking pool
        # queues them for a connection, where redis-py's default pool would refuse the
        # command past its limit instead.
        # No CLIENT SETINFO on connecting: its two extra round trips made a connection cost
        # about three times the CPU (0.67 vs 0.24 ms).
        aioredis = redis_asyncio()
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT_S,
            socket_timeout=30,
            socket_connect_timeout=3,
            **no_client_info(),
        )
        self.redis: Any = aioredis.Redis.from_pool(pool)  # closes the pool with it
        self._finish = self.redis.register_script(_FINISH)
        self._claim = self.redis.register_script(_CLAIM)
        self._publish = self.redis.register_script(_PUBLISH)
        # Where workers say which of the turns this process enqueued have new entries.
        self.inbox = self._key("inbox", uuid.uuid4().hex)
        # Every stream this process reads, over one connection of the reader's own.
        self.reader = Reader(self._reading_client, self._unavailable, self.inbox)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def claim(self, turn: str, session_id: str) -> int | None:
        """The first time a message is enqueued: its session's next turn number (from 1),
        its arrival counted (the load board's, which the fleet's forecast reads); None if it
        was enqueued already (a resend). One round trip."""
        keys = [self._key("queued", turn), self._key("tickets", session_id), self._key("arrivals")]
        keys += [self._key("turn", turn), self._key("attempts", turn)]
        args = [self.keep, int(time.time() // BUCKET_S), DAYS_2]
        ticket = await self._guard(self._claim(keys=keys, args=args))
        return int(ticket) or None

    async def claimed(self, turn: str) -> bool:
        """Whether the turn was enqueued (and its events not yet expired)."""
        return bool(await self._guard(self.redis.exists(self._key("queued", turn))))

    async def unclaim(self, turn: str) -> None:
        """Forgets a claim whose enqueue failed (or whose turn could not run), so the message
        may be sent again."""
        await self._guard(self.redis.delete(self._key("queued", turn)))

    async def finish(self, session_id: str, ticket: int) -> None:
        """Marks the turn `ticket` finished (or never to come), letting the next one start."""
        keys = [self._key("done", session_id), self._key("finished", session_id)]
        await self._guard(self._finish(keys=keys, args=[ticket, self.keep]))

    async def wait_turn(
        self, session_id: str, ticket: int, *, patience: float, finished: int | None = None
    ) -> bool:
        """Waits until every turn before `ticket` is finished; False after `patience` s.
        `finished`: how many were, as `arrive` just read it (saves a round trip)."""
        key = self._key("done", session_id)
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + patience, 0.01
        if finished is None:
            finished = int(await self._guard(self.redis.get(key)) or 0)
        while finished < ticket - 1:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)
            finished = int(await self._guard(self.redis.get(key)) or 0)
        return True

    async def arrive(self, turn: str, session_id: str) -> tuple[int, int]:
        """Counts one more delivery of the message: the count (from 1), and how many of its
        session's turns are finished (for `wait_turn`), in one round trip."""
        key = self._key("attempts", turn)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key).expire(key, self.keep).get(self._key("done", session_id))
            count, _, finished = await self._guard(pipe.execute())
        return int(count), int(finished or 0)

    async def publish(
        self,
        turn: str,
        *entries: dict[str, Any],
        inbox: str | None = None,
        release: bool = False,
    ) -> list[str]:
        """Appends entries to the turn's stream, and to `inbox` (the inbox of the process that
        enqueued the turn: its reader takes them from there); returns their ids. `release`:
        and forgets the turn's claim (`unclaim`), at once."""
        keys = [self._key("turn", turn), self._key("queued", turn)]
        keys += [inbox] if inbox is not None else []
        args = [self.keep, INBOX_LEN, INBOX_KEEP, int(release), *(encode(d) for d in entries)]
        ids = await self._guard(self._publish(keys=keys, args=args))
        return [text_of(entry) for entry in ids]

    async def streamed(self, turn: str) -> list[dict[str, Any]]:
        """Every entry of the turn's stream so far (what a redelivery finds)."""
        found = await self._guard(self.redis.xrange(self._key("turn", turn)))
        return [decode(fields[b"e"]) for _, fields in found]

    def read(
        self, turn: str, *, after: str = "0", beat: float | None = None, announced: bool = False
    ) -> AsyncGenerator[tuple[str, dict[str, Any]] | None, None]:
        """The turn's entries after the id `after`, as they come (forever: the caller stops);
        with `beat`, None whenever `beat` seconds pass without one (a keep-alive's cue).
        `announced`: the turn was enqueued naming this channel's `inbox`."""
        key = self._key("turn", turn)
        return self.reader.follow(
            key, after=after, beat=beat, control=self.redis, announced=announced
        )

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
