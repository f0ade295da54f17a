"""Many sessions at once: concurrent async puts, and sync puts from several threads."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)

from accord.persistence import SQLAlchemySaver


async def _conversation(store: Any, thread: str, turns: int) -> None:
    config = None
    for n in range(turns):
        config = await store.put(thread, {"m": list(range(n + 1))}, parent=config)
        await store.saver.aput_writes(config, [("m", [n])], f"task-{n}")


async def test_concurrent_async_puts_to_many_threads(store: Any) -> None:
    prefix = f"crowd-{uuid.uuid4()}"
    threads = [f"{prefix}-{i}" for i in range(40)]
    await asyncio.gather(*(_conversation(store, t, 4) for t in threads))
    for thread in threads:
        latest = await store.saver.aget_tuple(generate_config(thread))
        assert latest is not None
        assert latest.checkpoint["channel_values"] == {"m": [0, 1, 2, 3]}
        assert latest.pending_writes == [("task-3", "m", [3])]


def _sync_conversation(saver: SQLAlchemySaver, thread: str, turns: int) -> None:
    config = generate_config(thread)
    version = None
    for n in range(turns):
        version = saver.get_next_version(version, None)
        checkpoint = generate_checkpoint(
            channel_values={"m": list(range(n + 1))}, channel_versions={"m": version}
        )
        config = saver.put(config, checkpoint, generate_metadata(step=n), {"m": version})
        saver.put_writes(config, [("m", [n])], f"task-{n}")


def test_sync_puts_from_many_threads(saver_url: str) -> None:
    prefix = f"threads-{uuid.uuid4()}"
    with SQLAlchemySaver.from_url(saver_url) as saver, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: _sync_conversation(saver, f"{prefix}-{i}", 3), range(16)))
        for i in range(16):
            latest = saver.get_tuple(generate_config(f"{prefix}-{i}"))
            assert latest is not None
            assert latest.checkpoint["channel_values"] == {"m": [0, 1, 2]}
            assert latest.pending_writes == [("task-2", "m", [2])]


async def test_a_cancelled_write_still_completes_on_file_sqlite(tmp_path: Any) -> None:
    # While another process holds SQLite's write lock, a write refused at once on the loop's
    # own connection (see `ops.inline`) waits in a worker thread, never on the loop; the
    # offloading driver hands it over without a task of its own when nothing queues:
    # cancelling the caller must neither stop it nor let the saver close under it.
    path = tmp_path / "cancelled.db"
    thread = f"cancelled-{uuid.uuid4()}"
    async with SQLAlchemySaver.from_url(f"sqlite:///{path}") as saver:
        await saver.asetup()
        other = sqlite3.connect(str(path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        put = saver.aput(generate_config(thread), generate_checkpoint(), generate_metadata(), {})
        call = asyncio.ensure_future(put)
        started = time.monotonic()
        await asyncio.sleep(0.05)  # the loop runs on while the write waits for the lock
        assert time.monotonic() - started < 1
        assert not call.done()
        call.cancel()
        other.execute("COMMIT")
        other.close()
        await asyncio.gather(call, return_exceptions=True)
        assert call.cancelled()
    async with SQLAlchemySaver.from_url(f"sqlite:///{path}") as cold:
        assert await cold.aget_tuple(generate_config(thread)) is not None
