"""SQLite's hot operations on the event loop's thread (accord.persistence.ops.inline).

They run on a connection of the loop's own that never waits for a lock and never copies the
write-ahead log back itself; these check that the log stays bounded all the same, and that
nothing is lost when the operations fall back to the worker threads.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import empty_checkpoint

from accord.persistence import SessionStore, SQLAlchemySaver
from accord.persistence.ops.inline import CHECKPOINT_EVERY, THREADS_MAX
from accord.persistence.ops.native import HELD_MAX


async def _puts(saver: SQLAlchemySaver, thread: str, count: int) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    for step in range(count):
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"note": "x" * 300}
        checkpoint["channel_versions"] = {"note": saver.get_next_version(None, None)}
        versions = checkpoint["channel_versions"]
        config = await saver.aput(config, checkpoint, {"step": step}, versions)


async def test_the_log_stays_bounded_under_back_to_back_writes(tmp_path: Path) -> None:
    # Without its checkpoints the log grows by every commit (about 14 MB here).
    path = tmp_path / "log.db"
    async with SQLAlchemySaver.from_url(f"sqlite:///{path}") as saver:
        await saver.asetup()
        await _puts(saver, "t", 6 * CHECKPOINT_EVERY)
        assert _size(Path(f"{path}-wal")) < 6_000_000
        latest = await saver.aget_tuple({"configurable": {"thread_id": "t"}})
        assert latest is not None
        assert latest.metadata["step"] == 6 * CHECKPOINT_EVERY - 1


def _size(path: Path) -> int:
    return path.stat().st_size


async def test_writes_from_two_loops_and_another_process_all_land(tmp_path: Path) -> None:
    # Two loops each write on their own thread's connection; another process takes the write
    # lock meanwhile: what is refused at once waits in a worker thread instead.
    path = tmp_path / "shared.db"
    async with SQLAlchemySaver.from_url(f"sqlite:///{path}") as saver:
        await saver.asetup()
        store = SessionStore(saver)

        def other_loop() -> None:
            asyncio.run(_puts(saver, "other", 150))

        beside = threading.Thread(target=other_loop)
        beside.start()
        other = sqlite3.connect(str(path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        made = asyncio.gather(*(store.acreate(owner=f"u{i}") for i in range(20)))
        await asyncio.sleep(0.05)
        other.execute("COMMIT")
        other.close()
        records = await made
        await _puts(saver, "here", 150)
        await asyncio.to_thread(beside.join)
        assert [await store.aget(r.session_id) for r in records] == list(records)
        for thread in ("other", "here"):
            latest = await saver.aget_tuple({"configurable": {"thread_id": thread}})
            assert latest is not None
            assert latest.metadata["step"] == 149


async def test_threads_that_ran_a_loop_and_ended_leave_no_connection_open(tmp_path: Path) -> None:
    # Each thread that runs an event loop gets a connection of its own, at most THREADS_MAX
    # at once; one left by a thread that ended is closed when another thread needs one: here
    # one thread runs at a time, so besides the workers' (and a checkpoint's) at most two.
    path = tmp_path / "threads.db"
    async with SQLAlchemySaver.from_url(f"sqlite:///{path}") as saver:
        await saver.asetup()
        for i in range(3 * THREADS_MAX):
            one = threading.Thread(target=asyncio.run, args=(_puts(saver, f"t{i}", 3),))
            one.start()
            await asyncio.to_thread(one.join)
            assert _open_files(path) <= 2 + HELD_MAX + 1
        for i in range(3 * THREADS_MAX):
            latest = await saver.aget_tuple({"configurable": {"thread_id": f"t{i}"}})
            assert latest is not None
    assert _open_files(path) == 0


def _open_files(path: Path) -> int:
    """This process's open descriptors on the database file (Linux)."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if _target(fd) == str(path))


def _target(fd: Path) -> str | None:
    try:
        return str(fd.readlink())
    except OSError:
        return None
