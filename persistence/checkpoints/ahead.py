"""A thread's latest checkpoint read ahead, in a transaction that has to happen anyway.

A session's run takes its lease and reads its record in one transaction; LangGraph then reads
the thread's latest checkpoint in another. Reading the checkpoint in the first saves each turn
a transaction. Under the lease no other run writes the thread, so the read stays current until
the run's own first write; it is handed to the next `aget_tuple` of the thread's latest
checkpoint on the same saver in the run's task (a context variable, so no other run sees it),
once, and dropped when the run ends.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.base import SerializerProtocol

from accord.persistence.checkpoints import reads
from accord.persistence.checkpoints.cache import ChannelCache
from accord.persistence.checkpoints.statements import Statements
from accord.persistence.ops.driver import Steps

# A one-item list, emptied when taken: child tasks copy the context, not the list, so a read
# taken in one is gone for all.
_HANDED: ContextVar[list[Ahead] | None] = ContextVar("accord_checkpoint_ahead", default=None)


class Ahead:
    """The latest checkpoint of `thread_id`, to read within another operation (`steps`)."""

    def __init__(
        self,
        owner: object,
        sql: Statements,
        serde: SerializerProtocol,
        cache: ChannelCache,
        thread_id: str,
    ) -> None:
        self.owner, self.thread_id = owner, thread_id
        self._sql, self._serde, self._cache = sql, serde, cache
        self.loaded: reads.Loaded | None = None

    def steps(self) -> Steps[None]:
        """Reads the checkpoint, as `aget_tuple` would (retried with the operation)."""
        config: RunnableConfig = {"configurable": {"thread_id": self.thread_id}}
        self.loaded = yield from reads.get_tuple(self._sql, self._serde, config, self._cache)

    def hand(self) -> None:
        """Once the operation committed: the read is the next `aget_tuple`'s in this task."""
        if self.loaded is not None:
            self._cache.remember(self.loaded.learned)
            _HANDED.set([self])

    def drop(self) -> None:
        """The run is over: the read is no longer current."""
        handed = _HANDED.get()
        if handed and handed[0] is self:
            handed.clear()


def take(owner: object, config: RunnableConfig) -> reads.Loaded | None:
    """The read handed to this task for `config`, if it asks the same saver's latest
    checkpoint of the same thread (else None: read it)."""
    handed = _HANDED.get()
    if not handed:
        return None
    ahead, conf = handed[0], config.get("configurable") or {}
    if ahead.owner is not owner or _latest_of(conf) != ahead.thread_id:
        return None
    handed.clear()
    return ahead.loaded


def _latest_of(conf: dict[str, Any]) -> str | None:
    """The thread whose latest root checkpoint `conf` asks for, else None."""
    if conf.get("checkpoint_id") or conf.get("checkpoint_ns"):
        return None
    thread = conf.get("thread_id")
    return None if thread is None else str(thread)
