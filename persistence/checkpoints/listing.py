"""Paging through `list` results, one short transaction per page."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.serde.base import SerializerProtocol

from accord.persistence.checkpoints import reads
from accord.persistence.checkpoints.statements import Statements
from accord.persistence.ops.driver import Operation


class Listing:
    """The state of one `list` call: where the next page starts and how many are still due.

    Pages keep memory flat while a caller walks a long history, and let the exact metadata
    check drop rows without coming up short of `limit`.
    """

    def __init__(
        self,
        sql: Statements,
        serde: SerializerProtocol,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> None:
        """Start before the first page."""
        self._sql = sql
        self._serde = serde
        self._config = config
        self._filter = filter
        self._before = before
        self._remaining = limit
        self._after: tuple[str, str, str] | None = None
        self._done = limit is not None and limit <= 0

    def next_page(self) -> Operation[reads.Loaded] | None:
        """The operation reading the next page, or None when the listing is complete."""
        if self._done:
            return None
        size = reads.PAGE_SIZE
        if self._remaining is not None and not self._filter:
            size = min(size, self._remaining)
        after = self._after

        def page() -> Any:
            return reads.list_page(
                self._sql,
                self._serde,
                self._config,
                filter=self._filter,
                before=self._before,
                after=after,
                size=size,
            )

        return Operation(
            page,
            write=False,
            what="listing checkpoints",
            after=self._advance,
            native=reads.prebuilt(self._config, self._filter),
        )

    def take(self, loaded: reads.Loaded) -> list[CheckpointTuple]:
        """The tuples of a page that are still due."""
        tuples = loaded.tuples
        if self._remaining is not None:
            tuples = tuples[: self._remaining]
            self._remaining -= len(tuples)
            if self._remaining <= 0:
                self._done = True
        return tuples

    def _advance(self, loaded: reads.Loaded) -> None:
        self._after = loaded.last
        if loaded.exhausted:
            self._done = True
