"""Operations that delete, copy and prune threads, keeping delta chains intact."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from accord.persistence.checkpoints.codec import corrupt, decode_checkpoint
from accord.persistence.checkpoints.statements import Statements
from accord.persistence.errors import PersistenceError, Undecodable, UnsupportedOperation
from accord.persistence.ops.driver import Steps

PRUNE_STRATEGIES = ("keep_latest", "delete")
CHUNK = 500
"""Keys per `IN (...)` list: well under every driver's parameter limit."""


def delete_threads(sql: Statements, thread_ids: Sequence[str]) -> Steps[None]:
    """Delete every checkpoint, value and write of the threads."""
    for thread_id in thread_ids:
        for statement in sql.delete_thread:
            yield statement, {"thread_id": thread_id}


def delete_for_runs(
    sql: Statements, serde: SerializerProtocol, run_ids: Sequence[str]
) -> Steps[set[str]]:
    """Delete the checkpoints (and their writes) made by the runs; return the threads touched.

    Channel values no remaining checkpoint needs are deleted too; values other checkpoints'
    delta chains build on are kept.
    """
    doomed: dict[tuple[str, str], list[str]] = {}
    for chunk in _chunks(list(run_ids)):
        found = yield sql.runs, {"run_ids": chunk}
        for r in found.rows:
            doomed.setdefault((r.thread_id, r.checkpoint_ns), []).append(r.checkpoint_id)
    for (thread_id, checkpoint_ns), ids in doomed.items():
        params = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
        for chunk in _chunks(ids):
            for statement in sql.delete_checkpoints:
                yield statement, params | {"checkpoint_ids": chunk}
        yield from collect_garbage(sql, serde, thread_id, checkpoint_ns)
    return {thread_id for thread_id, _ in doomed}


def copy_thread(sql: Statements, source: str, target: str) -> Steps[None]:
    """Copy every row of thread `source` to thread `target`, which must hold no checkpoint."""
    if source == target:
        return
    taken = yield sql.exists, {"thread_id": target}
    if taken.rows:
        raise PersistenceError(
            f"cannot copy thread {source!r} to {target!r}: {target!r} already has checkpoints;"
            " delete it first (delete_thread) or copy to a new thread id"
        )
    for statement in sql.copy:
        yield statement, {"source": source, "target": target}


def prune(
    sql: Statements, serde: SerializerProtocol, thread_ids: Sequence[str], strategy: str
) -> Steps[None]:
    """Prune threads: "delete" everything, or "keep_latest" checkpoint per namespace.

    "keep_latest" keeps each namespace's newest checkpoint with its pending writes and every
    channel value it needs (delta chains included), and clears its parent link. It refuses
    threads that use a LangGraph `DeltaChannel`, whose values are rebuilt from the writes of
    older checkpoints.
    """
    if strategy not in PRUNE_STRATEGIES:
        raise ValueError(f"unknown prune strategy {strategy!r}; use one of {PRUNE_STRATEGIES}")
    if strategy == "delete":
        yield from delete_threads(sql, thread_ids)
        return
    for chunk in _chunks(list(thread_ids)):
        delta = yield sql.delta_threads, {"thread_ids": chunk}
        if delta.rows:
            raise UnsupportedOperation(
                f"prune(strategy='keep_latest') cannot prune thread {delta.rows[0].thread_id!r}:"
                " it uses a DeltaChannel, whose latest value is rebuilt from older checkpoints'"
                " writes; use strategy='delete', or copy_thread and delete the original"
            )
    for thread_id in thread_ids:
        heads = yield sql.heads, {"thread_id": thread_id}
        for head in heads.rows:
            params = {"thread_id": thread_id, "checkpoint_ns": head.checkpoint_ns}
            # Only ids older than the head: a run may be adding newer checkpoints meanwhile.
            older = yield sql.older, params | {"head": head.head}
            ids = [r.checkpoint_id for r in older.rows]
            for chunk in _chunks(ids):
                for statement in sql.delete_checkpoints:
                    yield statement, params | {"checkpoint_ids": chunk}
            yield (
                sql.orphan,
                {
                    "of_thread_id": thread_id,
                    "of_checkpoint_ns": head.checkpoint_ns,
                    "head": head.head,
                },
            )
            if ids:
                yield from collect_garbage(sql, serde, thread_id, head.checkpoint_ns)


def collect_garbage(
    sql: Statements, serde: SerializerProtocol, thread_id: str, checkpoint_ns: str
) -> Steps[None]:
    """Delete the channel values of a namespace that no remaining checkpoint can reach.

    Only rows read here are deleted, so rows a concurrent writer adds meanwhile survive.
    """
    params = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    kept = yield sql.versions, params
    stored = yield sql.blob_keys, params
    bases = {(r.channel, r.version): r.base for r in stored.rows}
    reachable: set[tuple[str, str]] = set()
    for row in kept.rows:
        try:
            checkpoint = decode_checkpoint(serde, row.type, row.checkpoint)
        except Undecodable as exc:
            raise corrupt(thread_id, checkpoint_ns, row.checkpoint_id, str(exc)) from exc
        for channel, version in checkpoint["channel_versions"].items():
            _reach(bases, reachable, (channel, str(version)))
    garbage = [key for key in bases if key not in reachable]
    for chunk in _chunks(garbage):
        yield sql.delete_blobs, params | {"keys": chunk}


def _reach(
    bases: dict[tuple[str, str], str | None],
    reachable: set[tuple[str, str]],
    key: tuple[str, str],
) -> None:
    cursor: tuple[str, str] | None = key
    while cursor is not None and cursor in bases and cursor not in reachable:
        reachable.add(cursor)
        base = bases[cursor]
        cursor = None if base is None else (cursor[0], base)


def _chunks(items: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])
