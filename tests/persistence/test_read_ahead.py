"""A thread's latest checkpoint read ahead (in a session run's first transaction) serves the
next `aget_tuple` of that very checkpoint on the same saver in the same task, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_metadata

from accord.persistence import SQLAlchemySaver
from accord.persistence.checkpoints.ahead import Ahead
from accord.persistence.ops.driver import Operation


@pytest.fixture
async def saver(tmp_path: Path) -> AsyncIterator[SQLAlchemySaver]:
    async with SQLAlchemySaver.from_url(f"sqlite:///{tmp_path / 'ahead.db'}") as made:
        config: RunnableConfig = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
        await made.aput(config, generate_checkpoint(), generate_metadata(), {})
        yield made


async def _read_ahead(saver: SQLAlchemySaver, thread_id: str) -> Ahead:
    ahead = saver.read_ahead(thread_id)
    await saver.arun(Operation(ahead.steps, write=False, what="reading ahead", native=True))
    ahead.hand()
    return ahead


def _latest(thread_id: str, **more: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, **more}}


async def test_the_read_serves_the_next_latest_read_once(
    saver: SQLAlchemySaver, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await saver.aget_tuple(_latest("t1"))
    await _read_ahead(saver, "t1")
    reads: list[str] = []
    arun = saver.arun

    async def counted(op: Operation[object]) -> object:
        reads.append(op.what)
        return await arun(op)

    monkeypatch.setattr(saver, "arun", counted)
    first = await saver.aget_tuple(_latest("t1", checkpoint_ns=""))
    assert reads == []
    second = await saver.aget_tuple(_latest("t1"))
    assert len(reads) == 1  # taken once: the next read goes to the database
    assert expected is not None
    assert first is not None
    assert second is not None
    assert first.checkpoint["id"] == second.checkpoint["id"] == expected.checkpoint["id"]


@pytest.mark.parametrize(
    "config",
    [_latest("t2"), _latest("t1", checkpoint_id="x"), _latest("t1", checkpoint_ns="child")],
)
async def test_the_read_serves_no_other_checkpoint(
    saver: SQLAlchemySaver, config: RunnableConfig
) -> None:
    await _read_ahead(saver, "t1")
    assert (await saver.aget_tuple(config)) is None  # read from the database: none there


async def test_the_read_serves_no_other_saver_and_not_once_dropped(
    saver: SQLAlchemySaver, tmp_path: Path
) -> None:
    ahead = await _read_ahead(saver, "t1")
    async with SQLAlchemySaver.from_url(f"sqlite:///{tmp_path / 'other.db'}") as other:
        assert (await other.aget_tuple(_latest("t1"))) is None
    ahead.drop()
    await saver.adelete_thread("t1")
    assert (await saver.aget_tuple(_latest("t1"))) is None
