"""A binding for commands that only read the session stores (`accord sessions list`).

It runs their operations on a sync engine of its own, without the checkpoint saver: the saver
brings LangGraph and LangChain, a third of a second of imports a listing never uses.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from accord.persistence.engine import Target, create_sync, resolve
from accord.persistence.ops.driver import Operation, Setup, SyncDriver

T = TypeVar("T")


class Reader:
    """Runs store operations (`SessionStore(Reader(url))`) on a database URL; a `Saver`."""

    def __init__(self, url: str) -> None:
        self._target = resolve(url)
        self._driver = SyncDriver(create_sync(self._target, {}), self._target, Setup())

    @property
    def target(self) -> Target:
        """The database read."""
        return self._target

    def run(self, op: Operation[T]) -> T:
        """Run an operation in one transaction (migrating the tables first, as a saver would)."""
        return self._driver.run(op)

    async def arun(self, op: Operation[T]) -> T:
        """Async `run`, in a thread."""
        return await asyncio.to_thread(self._driver.run, op)

    def close(self) -> None:
        """Close the engine."""
        self._driver.close()
        self._driver.engine.dispose()

    async def aclose(self) -> None:
        """Async `close`."""
        self.close()
