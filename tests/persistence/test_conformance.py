"""LangGraph's checkpointer conformance suite, base and extended capabilities, on every backend.

The suite drives only async methods, so it also runs on `SyncFacade`, whose async methods
call the saver's sync ones in a worker thread: that proves the sync methods conform too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from accord.persistence import SQLAlchemySaver


class SyncFacade(BaseCheckpointSaver[str]):
    """Async methods that run the wrapped saver's sync methods in a worker thread."""

    def __init__(self, inner: SQLAlchemySaver) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.inner.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def collect() -> list[CheckpointTuple]:
            return list(self.inner.list(config, filter=filter, before=before, limit=limit))

        for item in await asyncio.to_thread(collect):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.inner.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.inner.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.inner.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.inner.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.inner.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.inner.prune, thread_ids, strategy=strategy)


async def _conform(name: str, make: Any) -> None:
    registered = checkpointer_test(name=name)(make)
    report = await validate(registered)
    failures = {cap: result.failures for cap, result in report.results.items() if result.failures}
    assert report.passed_all(), failures
    detected = {cap for cap, result in report.results.items() if result.detected}
    assert detected == {cap.value for cap in ALL_CAPABILITIES}


async def test_async_methods_conform(saver_url: str) -> None:
    async def make() -> AsyncGenerator[SQLAlchemySaver, None]:
        async with SQLAlchemySaver.from_url(saver_url) as saver:
            yield saver

    await _conform("SQLAlchemySaver", make)


async def test_sync_methods_conform(saver_url: str) -> None:
    async def make() -> AsyncGenerator[BaseCheckpointSaver[str], None]:
        with SQLAlchemySaver.from_url(saver_url) as saver:
            yield SyncFacade(saver)

    await _conform("SQLAlchemySaver (sync)", make)


async def test_conforms_without_delta_cache(saver_url: str) -> None:
    async def make() -> AsyncGenerator[SQLAlchemySaver, None]:
        async with SQLAlchemySaver.from_url(saver_url, cache_size=0) as saver:
            yield saver

    await _conform("SQLAlchemySaver (no cache)", make)


async def test_in_memory_sqlite_conforms() -> None:
    async def make() -> AsyncGenerator[SQLAlchemySaver, None]:
        async with SQLAlchemySaver.from_url("sqlite://") as saver:
            yield saver

    await _conform("SQLAlchemySaver (memory)", make)
