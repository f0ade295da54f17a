"""One Redis connection follows every turn a process streams (real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from accord.graphs import Broker
from accord.graphs.errors import ServiceUnavailable
from accord.graphs.scale.channel import Channel

pytestmark = pytest.mark.timeout(60)


async def _take(stream: AsyncIterator[tuple[str, dict[str, object]] | None], n: int) -> list:  # type: ignore[type-arg]
    found = []
    async for entry in stream:
        assert entry is not None
        found.append(entry)
        if len(found) == n:
            return found
    return found


async def test_many_followers_share_one_connection_and_miss_nothing(fleet: Broker) -> None:
    channel = Channel(fleet.redis, prefix=fleet.prefix)
    try:
        await channel.publish("t0:m", {"kind": "token", "text": "before"})
        turns = [f"t{k}:m" for k in range(60)]
        readers = [asyncio.create_task(_take(channel.read(turn), 3)) for turn in turns]
        # Two followers of one turn, one of them from its second entry (a reconnect).
        first = await _take(channel.read("t0:m"), 1)
        again = asyncio.create_task(_take(channel.read("t0:m", after=first[0][0]), 2))
        await asyncio.sleep(0.3)
        names = [c["name"] for c in await channel.redis.client_list()]
        assert names.count(f"{fleet.prefix}-reader") == 1
        for k, turn in enumerate(turns):
            for n in range(3 - (k == 0)):
                await channel.publish(turn, {"kind": "token", "text": f"{turn} {n}"})
        got = await asyncio.wait_for(asyncio.gather(*readers), 20)
        assert [[data["text"] for _, data in entries] for entries in got[1:]] == [
            [f"{turn} {n}" for n in range(3)] for turn in turns[1:]
        ]
        assert [data["text"] for _, data in got[0]] == ["before", "t0:m 0", "t0:m 1"]
        assert [data["text"] for _, data in await again] == ["t0:m 0", "t0:m 1"]
    finally:
        await channel.aclose()


async def test_a_follower_gets_a_beat_when_nothing_comes_and_an_error_when_redis_is_gone(
    fleet: Broker,
) -> None:
    channel = Channel(fleet.redis, prefix=fleet.prefix)
    try:
        stream = channel.read("quiet:m", beat=0.2)
        assert await asyncio.wait_for(anext(stream), 5) is None
        await stream.aclose()
    finally:
        await channel.aclose()
    gone = Channel("redis://127.0.0.1:1/0", prefix=fleet.prefix)
    try:
        with pytest.raises(ServiceUnavailable, match="redis-server"):
            await asyncio.wait_for(anext(gone.read("any:m")), 10)
    finally:
        await gone.aclose()


async def test_announced_turns_come_through_the_inbox_whenever_their_entries_came(
    fleet: Broker,
) -> None:
    caller = Channel(fleet.redis, prefix=fleet.prefix)
    worker = Channel(fleet.redis, prefix=fleet.prefix)
    try:
        # Keeps the reader reading while the other turns start and end.
        keeper = asyncio.create_task(_take(caller.read("keeper:m"), 1))
        await asyncio.sleep(0.2)
        # Streamed before its follower came, announced: the reader kept it for the follower.
        await worker.publish("early:m", {"n": 0}, inbox=caller.inbox)
        await asyncio.sleep(0.2)
        early = asyncio.create_task(_take(caller.read("early:m", announced=True), 3))
        # Streamed without the inbox first (as a worker of an older accord would): the next
        # announced entry shows the gap, and the stream itself is read.
        await worker.publish("gap:m", {"n": 0}, {"n": 1})
        gap = asyncio.create_task(_take(caller.read("gap:m", announced=True), 3))
        await asyncio.sleep(0.2)
        await worker.publish("early:m", {"n": 1}, {"n": 2}, inbox=caller.inbox)
        await worker.publish("gap:m", {"n": 2}, inbox=caller.inbox)
        got = await asyncio.wait_for(asyncio.gather(early, gap), 4)  # under BLOCK_MS
        assert [[data["n"] for _, data in entries] for entries in got] == [[0, 1, 2], [0, 1, 2]]
        ids = [entry_id for entry_id, _ in got[0]]
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
        await worker.publish("keeper:m", {"n": 0}, inbox=caller.inbox)
        await asyncio.wait_for(keeper, 4)
    finally:
        await worker.aclose()
        await caller.aclose()
