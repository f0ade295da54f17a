"""Integrity: each stored blob carries a checksum, and restore gets past a corrupt head.

Issue 14: flipped bytes inside a message blob decoded silently into wrong values (messages
that came back as None), and restore could not reach an earlier good checkpoint because it
decoded the corrupt head first.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from sqlalchemy import select, update

from accord.persistence import CorruptCheckpoint, SQLAlchemySaver, arestore, restore
from accord.persistence.schema import blobs, checkpoints, writes


@pytest.fixture
async def thread(saver: SQLAlchemySaver) -> AsyncIterator[str]:
    """A thread id whose rows a test corrupts; deleted afterwards."""
    thread = f"integrity-{uuid.uuid4()}"
    yield thread
    await saver.adelete_thread(thread)


async def _history(saver: SQLAlchemySaver, thread: str) -> list[RunnableConfig]:
    """Three checkpoints of a growing list; returns their configs, oldest first."""
    configs: list[RunnableConfig] = []
    parent = generate_config(thread)
    for n, items in enumerate((["hello world"], ["hello world", "b"], ["hello world", "b", "c"])):
        version = f"{n + 1}"
        checkpoint = generate_checkpoint(
            channel_values={"m": items}, channel_versions={"m": version}
        )
        parent = await saver.aput(parent, checkpoint, generate_metadata(step=n), {"m": version})
        configs.append(parent)
    return configs


def _flip(store: Any, table: Any, column: str, where: Any, old: bytes, new: bytes) -> None:
    """Changes bytes inside a stored value so that it still decodes (to something else)."""
    (data,) = [bytes(row[0]) for row in store.query(select(table.c[column]).where(where))]
    assert old in data
    store.execute(update(table).where(where).values({column: data.replace(old, new, 1)}))


async def test_a_flipped_byte_is_corrupt_not_a_wrong_value(
    saver: SQLAlchemySaver, store: Any, thread: str
) -> None:
    first, *_ = await _history(saver, thread)
    where = (blobs.c.thread_id == thread) & (blobs.c.version == "1")
    _flip(store, blobs, "data", where, b"hello", b"jello")
    async with SQLAlchemySaver.from_url(store.url) as cold:  # nothing cached
        with pytest.raises(CorruptCheckpoint, match="checksum") as caught:
            await cold.aget_tuple(first)
    assert caught.value.thread_id == thread
    assert caught.value.checkpoint_id == first["configurable"]["checkpoint_id"]
    assert thread in str(caught.value)
    assert first["configurable"]["checkpoint_id"] in str(caught.value)


async def test_a_flipped_checkpoint_or_write_is_corrupt(
    saver: SQLAlchemySaver, store: Any, thread: str
) -> None:
    configs = await _history(saver, thread)
    await saver.aput_writes(configs[-1], [("m", "pending hello")], "task-1")
    where = (writes.c.thread_id == thread) & (writes.c.task_id == "task-1")
    _flip(store, writes, "value", where, b"hello", b"jello")
    with pytest.raises(CorruptCheckpoint, match="checksum"):
        await saver.aget_tuple(configs[-1])
    head_id = configs[-1]["configurable"]["checkpoint_id"]
    where = (checkpoints.c.thread_id == thread) & (checkpoints.c.checkpoint_id == head_id)
    (stored,) = store.query(select(checkpoints.c.checkpoint).where(where))
    flipped = bytes(stored[0]).replace(head_id[-4:].encode(), b"zzzz", 1)
    store.execute(update(checkpoints).where(where).values(checkpoint=flipped))
    with pytest.raises(CorruptCheckpoint, match="checksum"):
        await saver.aget_tuple(configs[-1])


async def test_restore_gets_past_a_corrupt_head(
    saver: SQLAlchemySaver, store: Any, thread: str
) -> None:
    first, second, third = await _history(saver, thread)
    where = (blobs.c.thread_id == thread) & (blobs.c.version == "3")
    _flip(store, blobs, "data", where, b"c", b"x")
    async with SQLAlchemySaver.from_url(store.url) as cold:
        with pytest.raises(CorruptCheckpoint):
            await cold.aget_tuple(generate_config(thread))
        # By time: the scan steps over the corrupt head instead of decoding it.
        by_time = restore(cold, thread, at=datetime.now(UTC))
        latest = cold.get_tuple(generate_config(thread))
        assert latest is not None
        assert latest.config == by_time
        assert latest.checkpoint["channel_values"] == {"m": ["hello world", "b"]}
        assert latest.parent_config is not None
        parent = latest.parent_config["configurable"]["checkpoint_id"]
        assert parent == third["configurable"]["checkpoint_id"]
        # By id, from any earlier good checkpoint.
        head = await arestore(cold, thread, checkpoint_id=first["configurable"]["checkpoint_id"])
        restored = await cold.aget_tuple(head)
        assert restored is not None
        assert restored.checkpoint["channel_values"] == {"m": ["hello world"]}
    assert second != head
