"""Operations that store checkpoints and pending writes.

Everything is serialized before the transaction starts, so a value that cannot be serialized
fails the call before the database is touched, and locks are held only for the statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from accord.persistence.checkpoints.cache import ChannelCache
from accord.persistence.checkpoints.codec import (
    Encoded,
    encode_metadata,
    encode_values,
    inline_values,
    sealed,
)
from accord.persistence.checkpoints.statements import Statements
from accord.persistence.ops.driver import Steps


@dataclass(slots=True)
class PreparedPut:
    """A checkpoint turned into rows, ready to store."""

    thread_id: str
    checkpoint_ns: str
    row: dict[str, Any]
    values: Encoded
    config: RunnableConfig
    """The config `put` returns: it names the stored checkpoint."""


def prepare_put(
    serde: SerializerProtocol,
    cache: ChannelCache,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    new_versions: ChannelVersions,
    *,
    max_chain: int,
) -> PreparedPut:
    """Serialize a checkpoint, its metadata and its changed channel values."""
    conf = config["configurable"]
    thread_id = str(conf["thread_id"])
    checkpoint_ns = conf.get("checkpoint_ns", "")
    parent_id = conf.get("checkpoint_id")
    inline = inline_values(checkpoint["channel_values"])
    # Rows written before values went inline have no "channel_values": every value is a blob.
    stored = {**checkpoint, "channel_values": inline}
    type_, data = sealed(serde.dumps_typed(stored))
    meta = get_serializable_checkpoint_metadata(config, metadata)
    run_id = meta.get("run_id")
    values = encode_values(
        serde,
        cache,
        thread_id=thread_id,
        checkpoint_ns=checkpoint_ns,
        values=checkpoint["channel_values"],
        versions={ch: v for ch, v in new_versions.items() if ch not in inline},
        incremental=parent_id is not None,
        max_chain=max_chain,
    )
    row = {
        "thread_id": thread_id,
        "checkpoint_ns": checkpoint_ns,
        "checkpoint_id": checkpoint["id"],
        "parent_checkpoint_id": parent_id,
        "run_id": None if run_id is None else str(run_id),
        "type": type_,
        "checkpoint": data,
        "metadata": encode_metadata(meta, thread_id),
    }
    out: RunnableConfig = {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint["id"],
        }
    }
    return PreparedPut(thread_id, checkpoint_ns, row, values, out)


def put(sql: Statements, serde: SerializerProtocol, prepared: PreparedPut) -> Steps[None]:
    """Store a prepared checkpoint: its changed channel values, then the checkpoint row."""
    values = prepared.values
    if sql.oneshot is not None:
        bases = [(d.key[2], d.row["base"]) for d in values.deltas]
        stored = yield sql.oneshot.put(prepared.row, values.rows, bases)
        if bases and not stored.rows:
            # A base is gone (see `oneshot`): store every value in full instead.
            values.rebase(serde, set())
            yield sql.oneshot.put(prepared.row, values.rows, [])
        return
    if values.deltas:
        statement, params = sql.bases([(d.key[2], d.row["base"]) for d in values.deltas])
        params |= {"thread_id": prepared.thread_id, "checkpoint_ns": prepared.checkpoint_ns}
        present = yield statement, params
        # Another process may have deleted or pruned the rows our cache remembers.
        values.rebase(serde, {(r.channel, r.version) for r in present.rows})
    if values.rows:
        yield sql.put_blobs, values.rows
    yield sql.put_checkpoint, prepared.row


def prepare_writes(
    serde: SerializerProtocol,
    config: RunnableConfig,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> list[dict[str, Any]]:
    """Rows for `put_writes`; special channels (errors, interrupts) get fixed negative idx."""
    conf = config["configurable"]
    thread_id, checkpoint_ns = str(conf["thread_id"]), conf.get("checkpoint_ns", "")
    checkpoint_id = conf["checkpoint_id"]
    rows: dict[int, dict[str, Any]] = {}
    for position, (channel, value) in enumerate(writes):
        type_, data = sealed(serde.dumps_typed(value))
        idx = WRITES_IDX_MAP.get(channel, position)
        # Two writes to one special channel share an idx: the last one wins.
        rows[idx] = {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
            "task_id": task_id,
            "task_path": task_path,
            "idx": idx,
            "channel": channel,
            "type": type_,
            "value": data,
        }
    return list(rows.values())


def put_writes(sql: Statements, rows: list[dict[str, Any]], replace: bool) -> Steps[None]:
    """Store pending writes.

    Args:
        sql: The statements.
        rows: From `prepare_writes`.
        replace: Overwrite existing rows (all special channels) instead of keeping them, as
            LangGraph's own savers do, so a retried task never duplicates its writes.
    """
    if not rows:
        return
    if sql.oneshot is not None:
        yield sql.oneshot.writes(rows, replace)
    else:
        yield (sql.put_writes if replace else sql.add_writes), rows
