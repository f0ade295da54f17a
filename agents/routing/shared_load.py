"""Load across processes: live session leases in the shared database, counted per agent.

A session run holds its lease (`accord_leases`) while it works and the session record
(`accord_sessions.agent`) says which agent serves it, so the live leases grouped by agent are
the sessions every process is running now. The query is read-only and reads the persistence
tables directly: persistence knows nothing of agents or routers.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.engine import URL

from accord.agents.models.flow import Call, Flow
from accord.agents.routing.load import LoadCounter, process_load
from accord.persistence import SQLAlchemySaver
from accord.persistence.ops.driver import Operation, Outcome, Steps
from accord.persistence.sessions.stores import Bound, leases, sessions, to_db, utcnow

OWN_HOLDERS = f"{socket.gethostname()}:{os.getpid()}:"
"""How this process's session runs name their lease holders (`host:pid:uuid`, see
`accord.graphs.Session`): their leases are already in the local counter."""


def leased_load_op(
    now: datetime | None = None, exclude_holder_prefix: str | None = None
) -> Operation[dict[str, int]]:
    """The read-only operation behind `SharedLoad`: live leases per serving agent.

    Args:
        now: The instant leases must outlive (default: now).
        exclude_holder_prefix: Leave out leases whose holder starts with this.
    """

    def steps() -> Steps[dict[str, int]]:
        query = (
            select(sessions.c.agent, func.count())
            .select_from(leases.join(sessions, leases.c.session_id == sessions.c.session_id))
            .where(leases.c.expires_at > to_db(now or utcnow()), sessions.c.agent.is_not(None))
            .group_by(sessions.c.agent)
        )
        if exclude_holder_prefix:
            query = query.where(~leases.c.holder.startswith(exclude_holder_prefix, autoescape=True))
        outcome: Outcome = yield query, None
        return {str(agent): int(count) for agent, count in outcome.rows}

    return Operation(steps, write=False, what="counting live session leases per agent")


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
        self._bound = Bound(bind)
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
        op = leased_load_op(utcnow(), self.exclude_holder_prefix)
        self.remote = yield Call(partial(self._bound.run, op), partial(self._bound.arun, op))
        self._read_at = self.clock()

    def close(self) -> None:
        """Close the database connection if this object opened it from a URL."""
        self._bound.close()

    async def aclose(self) -> None:
        """Async `close`."""
        await self._bound.aclose()
