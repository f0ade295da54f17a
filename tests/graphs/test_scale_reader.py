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
