"""Load across processes: what every other process has in flight, counted per agent.

Two sources. The shared session database: a session run holds its lease (`accord_leases`)
while it works and the session record (`accord_sessions.agent`) says which agent serves it,
so the live leases grouped by agent are the sessions every process is running now
(`LeaseStore.leased_per_agent`, a read-only query). Or any `LoadSource`, such as a fleet's load
board in Redis (`Broker.load()`), where each worker publishes its in-flight steps per agent.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from sqlalchemy.engine import URL

from accord.agents.routing.load import LoadCounter, process_load
from accord.persistence import Call, Flow, LeaseStore, SQLAlchemySaver

OWN_HOLDERS = f"{socket.gethostname()}:{os.getpid()}:"
"""How this process's session runs name their lease holders (`host:pid:uuid`, see
`accord.graphs.Session`): their leases are already in the local counter."""


@runtime_checkable
class LoadSource(Protocol):
    """Reads the in-flight work per agent of every process but this one."""

    def per_agent(self) -> dict[str, int]:
        """The other processes' in-flight work per agent (may block on I/O)."""
        ...

    async def aper_agent(self) -> dict[str, int]:
        """Async `per_agent`."""
        ...

    def close(self) -> None:
        """Releases what the source opened."""
        ...

    async def aclose(self) -> None:
        """Async `close`."""
        ...


class _Leases:
    """The live leases of the shared session database, as a `LoadSource`."""

    def __init__(self, bind: SQLAlchemySaver | str | URL, exclude: str | None) -> None:
        self.store, self.exclude = LeaseStore(bind), exclude

    def per_agent(self) -> dict[str, int]:
        return self.store.leased_per_agent(exclude_holder_prefix=self.exclude)

    async def aper_agent(self) -> dict[str, int]:
        return await self.store.aleased_per_agent(exclude_holder_prefix=self.exclude)

    def close(self) -> None:
        self.store.close()

    async def aclose(self) -> None:
        await self.store.aclose()


class SharedLoad:
    """In-flight work per agent in this process plus the sessions other processes run.

    `load = local in-flight + live leases of other processes' sessions served by the agent`
    (or + what a `LoadSource` reads, e.g. the other workers of a fleet). The source is read at
    most once per `max_age_s` and only in `refreshing` (the router's `refresh`, which the
    routed graph runs before each decision), so a decision itself never waits on I/O.

    Args:
        bind: The shared session database (a saver kept open by its owner, or a URL), or
            another `LoadSource`.
        local: This process's counter (default: the process-wide one, `process_load()`).
        max_age_s: How stale the database reading may be.
        exclude_holder_prefix: Leases this process holds (already counted locally; a
            `LoadSource` leaves this process out itself).
        clock: Monotonic seconds, for the staleness check.
    """

    def __init__(
        self,
        bind: SQLAlchemySaver | str | URL | LoadSource,
        *,
        local: LoadCounter | None = None,
        max_age_s: float = 1.0,
        exclude_holder_prefix: str | None = OWN_HOLDERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Bind to the source; nothing is read until the first refresh."""
        self._source: LoadSource = (
            bind if isinstance(bind, LoadSource) else _Leases(bind, exclude_holder_prefix)
        )
        self.local = local or process_load()
        self.max_age_s = max_age_s
        self.exclude_holder_prefix = exclude_holder_prefix
        self.clock = clock
        self.remote: dict[str, int] = {}
        self._read_at: float | None = None

    def loads(self, names: Sequence[str]) -> list[float]:
        """The in-flight work of every agent in `names`, in that order."""
        get = self.remote.get
        return [n + get(name, 0) for name, n in zip(names, self.local.loads(names), strict=True)]

    def running(self, agent: str) -> AbstractContextManager[None]:
        """Counts one unit of work for `agent` locally while the block runs."""
        return self.local.running(agent)

    def refreshing(self) -> Flow[None]:
        """Reads the live leases again when the last reading is older than `max_age_s`."""
        if self._read_at is not None and self.clock() - self._read_at < self.max_age_s:
            return
        self.remote = yield Call(self._source.per_agent, self._source.aper_agent)
        self._read_at = self.clock()

    def close(self) -> None:
        """Close the source (the database connection, if this object opened it from a URL)."""
        self._source.close()

    async def aclose(self) -> None:
        """Async `close`."""
        await self._source.aclose()
