"""The offloading driver's worker threads: results, errors, the release hook, shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest

from accord.persistence.ops.workers import Workers


def _fails(_: object) -> None:
    raise ValueError("refused")


async def test_a_call_runs_in_a_worker_thread_and_its_result_comes_back() -> None:
    workers = Workers(2, "test-workers")
    try:
        name = await workers.submit(lambda _: threading.current_thread().name, None)
        assert name.startswith("test-workers_")
        assert await workers.submit(lambda n: n + 1, 41) == 42
        with pytest.raises(ValueError, match="refused"):
            await workers.submit(_fails, None)
    finally:
        workers.shutdown()


def _threads(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(f"{name}_")]


async def test_no_more_threads_than_calls_need_nor_than_the_size() -> None:
    workers, gate = Workers(2, "test-sized"), threading.Event()
    try:
        await workers.submit(lambda _: None, None)
        assert len(_threads("test-sized")) == 1  # one call at a time needs one thread
        held = [workers.submit(lambda _: gate.wait(5), None) for _ in range(3)]
        assert len(_threads("test-sized")) == 2
        gate.set()
        await asyncio.gather(*held)
    finally:
        workers.shutdown()


async def test_after_shutdown_calls_are_refused_and_the_threads_are_gone() -> None:
    workers = Workers(2, "test-stopped")
    await workers.submit(lambda _: None, None)
    workers.shutdown()
    assert _threads("test-stopped") == []
    with pytest.raises(RuntimeError, match="shutdown"):
        workers.submit(lambda _: None, None)
