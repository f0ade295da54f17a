"""Load across processes: live session leases in the shared database, counted per agent.

A session run holds its lease (`accord_leases`) while it works and the session record
(`accord_sessions.agent`) says which agent serves it, so the live leases grouped by agent are
the sessions every process is running now (`LeaseStore.leased_per_agent`, a read-only query).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import partial

from sqlalchemy.engine import URL

from accord.agents.routing.load import LoadCounter, process_load
from accord.persistence import Call, Flow, LeaseStore, SQLAlchemySaver

OWN_HOLDERS = f"{socket.gethostname()}:{os.getpid()}:"
"""How this process's session runs name their lease holders (`host:pid:uuid`, see
`accord.graphs.Session`): their leases are already in the local counter."""


class SharedLoad:
    """In-flight work per agent in this process plus the sessions other processes run.

    `load = local in-flight + live leases of other processes' sessions served by the agent`.
    The database is read at most once per `max_age_s` and only in `refreshing` (the router's
    `refresh`, which the routed graph runs before each decision), so a decision itself never
    waits on I/O.

    Args:
        bind: The shared session database: a saver (kept open by its owner) or a URL.
        local: This process's counter (default: the process-wide one, `process_load()`).
        max_age_s: How stale the database reading may be.
        exclude_holder_prefix: Leases this process holds (already counted locally).
        clock: Monotonic seconds, for the staleness check.
    """

    def __init__(
        self,
        bind: SQLAlchemySaver | str | URL,
        *,
        local: LoadCounter | None = None,
        max_age_s: float = 1.0,
        exclude_holder_prefix: str | None = OWN_HOLDERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Bind to the database; nothing is read until the first refresh."""
        self._leases = LeaseStore(bind)
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
        self.remote = yield Call(
            partial(
                self._leases.leased_per_agent, exclude_holder_prefix=self.exclude_holder_prefix
            ),
            partial(
                self._leases.aleased_per_agent, exclude_holder_prefix=self.exclude_holder_prefix
            ),
        )
        self._read_at = self.clock()

    def close(self) -> None:
        """Close the database connection if this object opened it from a URL."""
        self._leases.close()

    async def aclose(self) -> None:
        """Async `close`."""
        await self._leases.aclose()
