"""The micro-operations of bench/checkpointer.py: put, put_writes, get_tuple and list.

Each runs through a saver's sync methods, or its async ones (`aput`, ...) on an event loop
the caller owns: Sessions and LangGraph's async graphs use the async methods, so those are
measured against the official async savers.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, empty_checkpoint

OPERATIONS = ("put", "put_writes", "get_tuple", "list")
LISTED = 10
"""Checkpoints one `list` reads: a page of a thread's history, newest first."""


def _checkpoint(saver: BaseCheckpointSaver[Any], previous: Checkpoint | None, i: int) -> Any:
    """A typical step: two small channels change, the rest keep their versions."""
    base = previous or empty_checkpoint()
    versions = dict(base["channel_versions"])
    new = {ch: saver.get_next_version(versions.get(ch), None) for ch in ("step", "route")}
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"step": i, "route": f"node-{i % 7}"}
    checkpoint["channel_versions"] = versions | new
    checkpoint["versions_seen"] = {"agent": dict(versions), "tools": dict(versions)}
    return checkpoint, new


class Micro:
    """One saver's share of the throughput runs: a thread of small checkpoints.

    With a `loop`, each batch is one coroutine on it calling the saver's async methods.
    """

    def __init__(
        self, saver: BaseCheckpointSaver[Any], loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self.saver = saver
        self.loop = loop
        self.config: RunnableConfig = {
            "configurable": {"thread_id": f"micro-{uuid.uuid4()}", "checkpoint_ns": ""}
        }
        self.previous: Checkpoint | None = None
        self.stored: list[RunnableConfig] = []
        self.step = 0

    def run(self, op: str, n: int) -> None:
        """`op` `n` times, through the sync or the async methods."""
        if self.loop is None:
            for i in range(n):
                getattr(self, f"_{op}")(i, _sync)
        else:
            self.loop.run_until_complete(self._batch(op, n))
        self.step += n

    async def _batch(self, op: str, n: int) -> None:
        for i in range(n):
            await getattr(self, f"_{op}")(i, _async)

    def _put(self, i: int, call: Call) -> Any:
        self.previous, new = _checkpoint(self.saver, self.previous, self.step + i)
        metadata: Any = {"source": "loop", "step": self.step + i, "parents": {}}

        def stored(config: RunnableConfig) -> None:
            self.config = config
            self.stored.append(config)

        return call(self.saver, "put", (self.config, self.previous, metadata, new), stored)

    def _put_writes(self, i: int, call: Call) -> Any:
        target = self.stored[(self.step + i) % len(self.stored)]
        writes = [("route", f"node-{i}"), ("step", i)]
        return call(self.saver, "put_writes", (target, writes, f"task-{i}"), None)

    def _get_tuple(self, i: int, call: Call) -> Any:
        return call(self.saver, "get_tuple", (self._latest(),), _found)

    def _list(self, i: int, call: Call) -> Any:
        if self.loop is None:
            found = list(self.saver.list(self._latest(), limit=LISTED))
            _listed(found)
            return None
        return _alist(self.saver, self._latest())

    def _latest(self) -> RunnableConfig:
        conf = self.config["configurable"]
        return {"configurable": {"thread_id": conf["thread_id"], "checkpoint_ns": ""}}


Call = Callable[[Any, str, tuple[Any, ...], Callable[[Any], None] | None], Any]


def _sync(saver: Any, name: str, args: tuple[Any, ...], then: Callable[[Any], None] | None) -> Any:
    result = getattr(saver, name)(*args)
    if then is not None:
        then(result)


async def _async(
    saver: Any, name: str, args: tuple[Any, ...], then: Callable[[Any], None] | None
) -> None:
    result = await getattr(saver, f"a{name}")(*args)
    if then is not None:
        then(result)


async def _alist(saver: Any, config: RunnableConfig) -> None:
    _listed([t async for t in saver.alist(config, limit=LISTED)])


def _found(found: Any) -> None:
    assert found is not None


def _listed(found: list[Any]) -> None:
    assert len(found) == LISTED, len(found)


def micro(
    savers: dict[str, BaseCheckpointSaver[Any]],
    n: int,
    rounds: int = 5,
    loop: asyncio.AbstractEventLoop | None = None,
) -> dict[str, dict[str, tuple[float, float]]]:
    """Each operation's throughput (ops/s) and process CPU per call (µs, all threads: the
    async savers work in threads of their own), as the medians of interleaved rounds.

    Rounds alternate between the savers so that the disk's fsync latency, which swings
    several-fold from one second to the next on shared machines, weighs on both alike.
    """
    runs = {name: Micro(saver, loop) for name, saver in savers.items()}
    rates: dict[str, dict[str, list[tuple[float, float]]]] = {name: {} for name in savers}
    batch = max(n // rounds, 1)
    for op in OPERATIONS:
        for _ in range(rounds):
            for name, run in runs.items():
                start, cpu = time.perf_counter(), time.process_time()
                run.run(op, batch)
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                rates[name].setdefault(op, []).append((batch / wall, cpu / batch * 1e6))
    return {
        name: {
            op: (statistics.median(r for r, _ in got), statistics.median(c for _, c in got))
            for op, got in ops.items()
        }
        for name, ops in rates.items()
    }
