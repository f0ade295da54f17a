"""Point-in-time restore: a thread's earlier state written back as its new head.

Nothing is deleted: the restored state becomes a new checkpoint whose parent is the current
head, so the history keeps what happened after the moment restored, and the restore itself.
Only the public `BaseCheckpointSaver` API is used, so any LangGraph checkpointer works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    copy_checkpoint,
)
from langgraph.checkpoint.base.id import uuid6

from accord.persistence.errors import CorruptCheckpoint, NothingToRestore
from accord.persistence.ops.flow import Call, Flow, adrive, drive, twin

RESTORED_FROM = "restored_from"
"""The metadata key naming the checkpoint a restored head copies."""


def restore(
    saver: BaseCheckpointSaver[Any],
    thread_id: str,
    *,
    at: datetime | None = None,
    checkpoint_id: str | None = None,
    checkpoint_ns: str = "",
) -> RunnableConfig:
    """Make a thread's state at `at` (or at `checkpoint_id`) its new head, keeping history.

    Args:
        saver: Any LangGraph checkpointer.
        thread_id: The thread (a session's id).
        at: Restore the latest checkpoint taken at or before this instant (naive: UTC).
        checkpoint_id: Or restore this checkpoint.
        checkpoint_ns: The namespace ("" is the graph itself; a subgraph's otherwise).

    Returns:
        The config of the new head: pass it to `graph.get_state` or go on from it.

    Raises:
        ValueError: Neither or both of `at` and `checkpoint_id` given.
        NothingToRestore: No checkpoint at that moment, or no such id.
    """
    return drive(_restoring(saver, thread_id, at, checkpoint_id, checkpoint_ns))


async def arestore(
    saver: BaseCheckpointSaver[Any],
    thread_id: str,
    *,
    at: datetime | None = None,
    checkpoint_id: str | None = None,
    checkpoint_ns: str = "",
) -> RunnableConfig:
    """Async `restore`."""
    return await adrive(_restoring(saver, thread_id, at, checkpoint_id, checkpoint_ns))


def _restoring(
    saver: BaseCheckpointSaver[Any],
    thread_id: str,
    at: datetime | None,
    checkpoint_id: str | None,
    checkpoint_ns: str,
) -> Flow[RunnableConfig]:
    config = _thread(thread_id, checkpoint_ns, at, checkpoint_id)
    if checkpoint_id is not None:
        found = yield twin(saver.get_tuple, saver.aget_tuple, config)
    else:
        found = yield from _latest_by(saver, config, at)
    source = _found(found, config)
    try:
        head = _found((yield twin(saver.get_tuple, saver.aget_tuple, _head(config))), config)
    except CorruptCheckpoint as exc:
        # The head cannot be read: the restored state goes on top of it all the same.
        if exc.checkpoint_id is None:
            raise
        head = _unreadable(config, exc.checkpoint_id, source)
    stored: RunnableConfig = yield twin(saver.put, saver.aput, *_new_head(saver, source, head))
    return stored


def _latest_by(
    saver: BaseCheckpointSaver[Any], config: RunnableConfig, at: datetime | None
) -> Flow[CheckpointTuple | None]:
    """The newest checkpoint taken by `at`, read one at a time past corrupt ones."""
    before: RunnableConfig | None = None
    while True:
        try:
            page: list[CheckpointTuple] = yield _page(saver, config, before)
        except CorruptCheckpoint as exc:
            skipped = before["configurable"]["checkpoint_id"] if before else None
            if exc.checkpoint_id is None or exc.checkpoint_id == skipped:
                raise
            before = _at(config, exc.checkpoint_id)
            continue
        if not page or _by(page[0], at):
            return page[0] if page else None
        before = page[0].config


def _page(
    saver: BaseCheckpointSaver[Any], config: RunnableConfig, before: RunnableConfig | None
) -> Call[list[CheckpointTuple]]:
    """The one checkpoint just before `before` (a list of at most one), in both faces."""
    return Call(
        lambda: list(saver.list(config, before=before, limit=1)),
        lambda: _collect(saver.alist(config, before=before, limit=1)),
    )


async def _collect(items: AsyncIterator[CheckpointTuple]) -> list[CheckpointTuple]:
    return [item async for item in items]


def _at(config: RunnableConfig, checkpoint_id: str) -> RunnableConfig:
    return {"configurable": {**config["configurable"], "checkpoint_id": checkpoint_id}}


def _unreadable(config: RunnableConfig, checkpoint_id: str, source: CheckpointTuple) -> Any:
    """Stands in for a corrupt head: its id (the new head's parent), no versions to pass."""
    head = _at(_head(config), checkpoint_id)
    empty = {**source.checkpoint, "channel_versions": {}}
    return CheckpointTuple(head, empty, source.metadata)  # type: ignore[arg-type]


def _thread(
    thread_id: str, ns: str, at: datetime | None, checkpoint_id: str | None
) -> RunnableConfig:
    if (at is None) == (checkpoint_id is None):
        raise ValueError("give exactly one of at= (a datetime) or checkpoint_id=")
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _head(config: RunnableConfig) -> RunnableConfig:
    configurable = dict(config["configurable"])
    configurable.pop("checkpoint_id", None)
    return {"configurable": configurable}


def _by(item: CheckpointTuple, at: datetime | None) -> bool:
    """Whether the checkpoint was taken at or before `at`."""
    assert at is not None
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return datetime.fromisoformat(item.checkpoint["ts"]) <= moment


def _found(item: CheckpointTuple | None, config: RunnableConfig) -> CheckpointTuple:
    if item is None:
        wanted = dict(config["configurable"])
        raise NothingToRestore(
            f"no checkpoint to restore for {wanted}; pick a later time or an id listed "
            "by saver.list() for this thread"
        )
    return item


def _new_head(
    saver: BaseCheckpointSaver[Any], source: CheckpointTuple, head: CheckpointTuple
) -> tuple[RunnableConfig, Checkpoint, CheckpointMetadata, ChannelVersions]:
    """The `put` arguments of a copy of `source` on top of `head`.

    Every channel gets a version above both its source and head versions, and each node's
    seen versions move with them, so the state and what is due to run next are exactly as
    they were at `source`, while versions keep increasing along the history (a saver may key
    stored values by version).
    """
    step = int(head.metadata.get("step", -1)) + 1
    checkpoint = copy_checkpoint(source.checkpoint)
    old = source.checkpoint["channel_versions"]
    latest = head.checkpoint["channel_versions"]
    renamed = {
        channel: saver.get_next_version(_newest(version, latest.get(channel)), None)
        for channel, version in old.items()
    }
    checkpoint["id"] = str(uuid6(clock_seq=step))
    checkpoint["ts"] = datetime.now(UTC).isoformat()
    checkpoint["channel_versions"] = renamed
    checkpoint["versions_seen"] = {
        node: {c: renamed[c] if c in renamed and v == old[c] else v for c, v in seen.items()}
        for node, seen in source.checkpoint["versions_seen"].items()
    }
    checkpoint["updated_channels"] = None
    metadata: dict[str, Any] = {
        **source.metadata,
        "source": "update",
        "step": step,
        "parents": source.metadata.get("parents", {}),
        RESTORED_FROM: source.checkpoint["id"],
    }
    return head.config, checkpoint, cast(CheckpointMetadata, metadata), renamed


def _newest(a: str | int | float, b: str | int | float | None) -> str | int | float:
    if b is None:
        return a
    return a if _number(a) >= _number(b) else b


def _number(version: str | int | float) -> float:
    """A version's ordinal: savers' string versions lead with a zero-padded counter."""
    if isinstance(version, (int, float)):
        return float(version)
    return float(version.split(".")[0])
