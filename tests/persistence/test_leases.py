"""Leases: exactly one winner under real concurrency, expiry takeover, holder-only release."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from accord.persistence import LeaseStore, SessionBusy, SessionStore, SQLAlchemySaver
from accord.persistence.sessions.leases import Lease


def _sid() -> str:
    return f"lease-{uuid.uuid4().hex}"


async def test_acquire_renew_release(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        leases = LeaseStore(saver)
        lease = await leases.aacquire(sid, "p1", ttl=30)
        assert isinstance(lease, Lease)
        assert lease.holder == "p1"
        again = await leases.aacquire(sid, "p1", ttl=60)  # re-entrant: the holder renews
        assert again.expires_at > lease.expires_at
        renewed = await leases.arenew(sid, "p1", ttl=90)
        assert renewed.expires_at > again.expires_at
        current = await leases.aholder(sid)
        assert current is not None
        assert current.holder == "p1"
        await leases.arelease(sid, "p1")
        assert await leases.aholder(sid) is None
        assert leases.acquire(sid, "p2", ttl=30).holder == "p2"


async def test_busy_names_the_holder(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        leases = LeaseStore(saver)
        lease = await leases.aacquire(sid, "p1", ttl=30)
        with pytest.raises(SessionBusy) as caught:
            await leases.aacquire(sid, "p2", ttl=30)
        assert caught.value.holder == "p1"
        assert caught.value.expires_at is not None
        assert abs((caught.value.expires_at - lease.expires_at).total_seconds()) < 0.01
        with pytest.raises(SessionBusy):
            leases.acquire(sid, "p2", ttl=30)


async def test_release_or_renew_by_a_non_holder_is_refused(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        leases = LeaseStore(saver)
        await leases.aacquire(sid, "p1", ttl=30)
        with pytest.raises(SessionBusy) as caught:
            await leases.arelease(sid, "intruder")
        assert caught.value.holder == "p1"
        with pytest.raises(SessionBusy):
            leases.release(sid, "intruder")
        with pytest.raises(SessionBusy):
            await leases.arenew(sid, "intruder", ttl=30)
        current = await leases.aholder(sid)
        assert current is not None
        assert current.holder == "p1"


async def test_expired_lease_is_taken_over(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        leases = LeaseStore(saver)
        await leases.aacquire(sid, "dead-process", ttl=0.2)
        with pytest.raises(SessionBusy):
            await leases.aacquire(sid, "p2", ttl=30)
        await asyncio.sleep(0.3)
        taken = await leases.aacquire(sid, "p2", ttl=30)
        assert taken.holder == "p2"
        with pytest.raises(SessionBusy):  # the dead holder lost it for good
            await leases.arenew(sid, "dead-process", ttl=30)


async def test_wait_succeeds_after_the_holder_releases(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        leases = LeaseStore(saver)
        await leases.aacquire(sid, "p1", ttl=30)

        async def release_soon() -> None:
            await asyncio.sleep(0.3)
            await leases.arelease(sid, "p1")

        releasing = asyncio.create_task(release_soon())
        started = time.monotonic()
        lease = await leases.aacquire(sid, "p2", ttl=30, wait=10)
        await releasing
        assert lease.holder == "p2"
        assert time.monotonic() - started >= 0.25
        with pytest.raises(SessionBusy):  # and gives up after its wait
            await leases.aacquire(sid, "p3", ttl=30, wait=0.2)


def test_sync_wait_succeeds_after_the_holder_releases(saver_url: str) -> None:
    sid = _sid()
    with SQLAlchemySaver.from_url(saver_url) as saver:
        leases = LeaseStore(saver)
        leases.acquire(sid, "p1", ttl=30)
        timer = threading.Timer(0.3, leases.release, (sid, "p1"))
        timer.start()
        try:
            assert leases.acquire(sid, "p2", ttl=30, wait=10).holder == "p2"
        finally:
            timer.join()


async def test_exactly_one_of_many_racers_wins(saver_url: str) -> None:
    sid = _sid()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        leases = LeaseStore(saver)
        # Separate savers per thread: separate engines and connections, like other processes.
        others = [SQLAlchemySaver.from_url(saver_url) for _ in range(4)]
        barrier = threading.Barrier(4)

        def race_thread(n: int) -> str | None:
            store = LeaseStore(others[n])
            barrier.wait()
            try:
                return store.acquire(sid, f"thread-{n}", ttl=30).holder
            except SessionBusy:
                return None

        async def race_task(n: int) -> str | None:
            try:
                return (await leases.aacquire(sid, f"task-{n}", ttl=30)).holder
            except SessionBusy:
                return None

        try:
            await saver.asetup()
            for other in others:
                other.setup()
            with ThreadPoolExecutor(4) as pool:
                threads = [pool.submit(race_thread, n) for n in range(4)]
                tasks = await asyncio.gather(*(race_task(n) for n in range(20)))
                results = [*tasks, *(f.result() for f in threads)]
        finally:
            for other in others:
                other.close()
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        current = await leases.aholder(sid)
        assert current is not None
        assert current.holder == winners[0]


async def test_live_leases_are_counted_per_serving_agent(saver_url: str) -> None:
    agent = f"agent-{uuid.uuid4().hex}"
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        records, leases = SessionStore(saver), LeaseStore(saver)
        first = await records.acreate(owner="alice", agent=agent)
        second = await records.acreate(owner="alice", agent=agent)
        await records.acreate(owner="alice", agent=agent)  # not running: no lease
        await leases.aacquire(first.session_id, "here:1:a", ttl=60)
        await leases.aacquire(second.session_id, "there:2:b", ttl=60)
        assert (await leases.aleased_per_agent()).get(agent) == 2
        assert leases.leased_per_agent(exclude_holder_prefix="here:").get(agent) == 1
        later = datetime.now(UTC) + timedelta(seconds=120)
        assert leases.leased_per_agent(now=later).get(agent) is None
        await leases.arelease(second.session_id, "there:2:b")
        assert leases.leased_per_agent().get(agent) == 1
