"""Current load: the work each agent has in flight, counted while it runs.

`LoadCounter` counts the steps running in this process (every session, every graph that shares
it: `process_load()` by default). `SharedLoad` (`routing/shared_load.py`) adds the sessions
other processes run, read from the shared session database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from itertools import repeat
from typing import Protocol

from accord.persistence import Flow


class LoadGauge(Protocol):
    """Tells each agent's in-flight work and counts the work this process starts."""

    def loads(self, names: Sequence[str]) -> list[float]:
        """The in-flight work of every agent in `names`, in that order."""
        ...

    def running(self, agent: str) -> AbstractContextManager[None]:
        """Counts one unit of work for `agent` while the block runs (released on error too)."""
        ...

    def refreshing(self) -> Flow[None]:
        """The effects that bring any cached outside reading up to date (I/O, if any)."""
        ...


class LoadCounter:
    """In-flight work per agent in this process; safe from threads and tasks alike.

    The counter is changed only inside a lock and never across an `await`, so one counter
    serves sync graphs on many threads and async graphs on one loop at once.

    Example:
        ```python
        with load.running("billing"):
            answer = billing_node.invoke(state)
        ```
    """

    def __init__(self) -> None:
        """Start with nothing in flight."""
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def running(self, agent: str) -> Iterator[None]:
        """Counts one unit of work for `agent` while the block runs (released on error too)."""
        with self._lock:
            self._counts[agent] = self._counts.get(agent, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._counts[agent] - 1
                if left:
                    self._counts[agent] = left
                else:
                    del self._counts[agent]

    def in_flight(self, agent: str) -> int:
        """The work `agent` has in flight now."""
        return self._counts.get(agent, 0)

    def counts(self) -> dict[str, int]:
        """Every agent with work in flight now, and how much (a copy: what a fleet's worker
        publishes for the other workers' routers)."""
        with self._lock:
            return dict(self._counts)

    def loads(self, names: Sequence[str]) -> list[float]:
        """The in-flight work of every agent in `names`, in that order."""
        # map over the bound `get` runs in C: a third of a comprehension's time for 1,000 names.
        return list(map(self._counts.get, names, repeat(0.0)))

    def refreshing(self) -> Flow[None]:
        """Nothing to refresh: the counter is always current."""
        yield from ()


_PROCESS = LoadCounter()


def process_load() -> LoadCounter:
    """The counter every router uses unless given another: load is per process, not per graph."""
    return _PROCESS
