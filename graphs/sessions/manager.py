"""`Sessions`: the sessions of one graph in one database — open, resume, list, audit.

A manager binds a compiled graph (any accord pattern or plain LangGraph graph) to a database:
the checkpoints, the session records, the leases and the audit trail all live there. It is
async at its core; each sync method runs the same coroutine on the event loop the manager is
bound to (the caller's first loop, or a private one for sync-only use).
"""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any, Self

from langchain_core.runnables import RunnableConfig

from accord.graphs.events import Event
from accord.graphs.sessions.access import OPERATOR, Scope, User
from accord.graphs.sessions.budget import Limits
from accord.graphs.sessions.run import turn
from accord.graphs.sessions.runtime import Runtime
from accord.graphs.sessions.session import Session
from accord.persistence import AuditEvent, SessionRecord, arestore

LIST_PAGE = 500


class Sessions(Runtime):
    """The sessions of one graph, kept in one database.

    Args:
        graph: A compiled graph. Its checkpointer is replaced by the database's saver.
        db: The database: a URL (`"sqlite:///sessions.db"`, `postgresql+psycopg://...`) or a
            saver. Without it, the graph's own checkpointer must be a `SQLAlchemySaver`.
        lease_ttl: Seconds a run's lease lasts unless renewed (renewed while the run goes
            on). A process that dies holding it blocks the session at most this long.
        wait: Seconds a send waits for another run on the same session before it raises
            `SessionBusy`; 0 fails fast.
        durability: LangGraph's checkpoint durability for runs. `"sync"` (the default)
            writes each step before the next starts, so a killed process loses no step;
            `"async"` is faster and may lose the last step on a hard crash.
        callbacks: LangChain callback handlers added to every run, e.g. a
            `MetricsRecorder` (accord.agents) for the reliability metrics of every session.
        metrics: Keep a step event per agent step in the session's audit trail (kind
            `"step"`, written with the run's end), which `accord metrics --db` and
            `load_steps` read back. On by default; False skips it.
        prices: What each model's tokens cost, for `Limits(cost=...)` and `Usage.cost`
            (default: the embedded models at 0, plus the `ACCORD_PRICES` file if set).
        broker: Run turns on a fleet of workers (`accord worker`) instead of in this
            process: a RabbitMQ URL, or a `Broker` (with its Redis and queue prefix). A send
            returns once the turn is durably queued; its events stream back through Redis.

    Example:
        ```python
        async with Sessions(graph, db="sqlite:///chat.db") as sessions:
            session = await sessions.aopen("alice", limits=Limits(tokens=20_000))
            reply = await session.asend("I'd like to open an account")
        ```
    """

    async def astate(self, session_id: str, user: User | str) -> dict[str, Any]:
        """The session's current state, for a user allowed to read it."""
        return await self.portal.enter(self.read(session_id, User.of(user)))

    # --- async API -------------------------------------------------------------------------

    async def aopen(
        self,
        user: User | str,
        *,
        scope: Scope | None = None,
        limits: Limits | None = None,
        agent: str | None = None,
    ) -> Session:
        """Starts a session owned by `user`, with an unguessable id.

        Args:
            user: The owner.
            scope: Who else may read, send to, resume or restore it (default: nobody).
            limits: Its budget (default: unlimited).
            agent: The agent first assigned to it, if the graph has that notion.
        """
        return await self.portal.enter(self._open(User.of(user), scope, limits, agent))

    async def aresume(self, session_id: str, user: User | str) -> Session:
        """A handle on an existing session, for a user allowed to resume it.

        Raises:
            SessionNotFound: No such session.
            NotAuthorized: The user may not resume it (the attempt is audited).
        """
        return await self.portal.enter(self._resume(session_id, User.of(user)))

    def astream(
        self,
        session_id: str,
        user: User | str,
        text: str,
        *,
        message_id: str | None = None,
        started: asyncio.Future[None] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Sends `text` to the session `session_id` and yields what happens, as
        `Session.astream` does, without reading anything first: the run's first transaction
        reads the session's record and checks the user's access, its status and its budget.

        Args:
            started: A future of the caller's loop, resolved once that transaction has
                committed (the lease taken, the message's arrival recorded) or with the
                refusal (`SessionNotFound`, `NotAuthorized`, `SessionBusy`, `SessionClosed`,
                `SessionPaused`, `BudgetExceeded`). A server awaits it to answer a refusal
                with a status before it streams anything.
        """
        events = turn(self, session_id, User.of(user), text, message_id, True, started=started)
        return self.portal.relay(events)

    async def aget(self, session_id: str, user: User | str) -> SessionRecord:
        """The session's record, for a user allowed to read it."""
        return await self.portal.enter(self.authorize(session_id, User.of(user), "read"))

    async def alist(
        self, user: User | str, *, status: str | None = None
    ) -> builtins.list[SessionRecord]:
        """The sessions `user` may read: their own, then those shared with them."""
        return await self.portal.enter(self._list(User.of(user), status))

    async def aaudit(self, session_id: str, user: User | str) -> Sequence[AuditEvent]:
        """The session's audit trail, oldest first, for a user allowed to read it."""
        return await self.portal.enter(self._audit(session_id, User.of(user)))

    async def arestore(
        self,
        session_id: str,
        user: User | str,
        *,
        at: datetime | None = None,
        checkpoint_id: str | None = None,
    ) -> RunnableConfig:
        """Makes the session's state at a moment (or checkpoint) its current state again.

        The restored state becomes a new head; the history after it is kept. Needs restore
        access, takes the session's lease (no run may be going on) and is audited.

        Raises:
            NothingToRestore: The session had no state at that moment.
            SessionBusy: A run holds the session.
        """
        return await self.portal.enter(self._restore(session_id, User.of(user), at, checkpoint_id))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- sync API --------------------------------------------------------------------------

    def open(
        self,
        user: User | str,
        *,
        scope: Scope | None = None,
        limits: Limits | None = None,
        agent: str | None = None,
    ) -> Session:
        """Sync `aopen`."""
        return self.portal.call(self._open(User.of(user), scope, limits, agent))

    def resume(self, session_id: str, user: User | str) -> Session:
        """Sync `aresume`."""
        return self.portal.call(self._resume(session_id, User.of(user)))

    def get(self, session_id: str, user: User | str) -> SessionRecord:
        """Sync `aget`."""
        return self.portal.call(self.authorize(session_id, User.of(user), "read"))

    def list(self, user: User | str, *, status: str | None = None) -> builtins.list[SessionRecord]:
        """Sync `alist`."""
        return self.portal.call(self._list(User.of(user), status))

    def audit(self, session_id: str, user: User | str) -> Sequence[AuditEvent]:
        """Sync `aaudit`."""
        return self.portal.call(self._audit(session_id, User.of(user)))

    def state(self, session_id: str, user: User | str) -> dict[str, Any]:
        """Sync `astate`."""
        return self.portal.call(self.read(session_id, User.of(user)))

    def restore(
        self,
        session_id: str,
        user: User | str,
        *,
        at: datetime | None = None,
        checkpoint_id: str | None = None,
    ) -> RunnableConfig:
        """Sync `arestore`."""
        return self.portal.call(self._restore(session_id, User.of(user), at, checkpoint_id))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _open(
        self, user: User, scope: Scope | None, limits: Limits | None, agent: str | None
    ) -> Session:
        return Session(self, await self.create(user, scope, limits, agent), user)

    async def _resume(self, session_id: str, user: User) -> Session:
        record = await self.authorize(session_id, user, "resume")
        return Session(self, record, user)

    async def _list(self, user: User, status: str | None) -> builtins.list[SessionRecord]:
        if OPERATOR in user.roles:
            return await self._all(owner=None, status=status)
        own = await self._all(owner=user.id, status=status)
        shared = [
            record
            for record in await self._all(owner=None, status=status)
            if record.owner != user.id
            and Scope.from_dict(record.scope).allows(record.owner, user, "read")
        ]
        return [*own, *shared]

    async def _all(self, *, owner: str | None, status: str | None) -> builtins.list[SessionRecord]:
        found: builtins.list[SessionRecord] = []
        while True:
            page = await self.records.alist(
                owner=owner, status=status, limit=LIST_PAGE, offset=len(found)
            )
            found += page
            if len(page) < LIST_PAGE:
                return found

    async def _audit(self, session_id: str, user: User) -> Sequence[AuditEvent]:
        await self.authorize(session_id, user, "read")
        return await self.audit_trail.aevents(session_id)

    async def _restore(
        self, session_id: str, user: User, at: datetime | None, checkpoint_id: str | None
    ) -> RunnableConfig:
        await self.authorize(session_id, user, "restore")
        holder = f"restore:{uuid.uuid4().hex}"
        await self.journal.abegin(session_id, holder, self.lease_ttl, wait=self.wait)
        asked = {"at": at.isoformat() if at else None, "checkpoint_id": checkpoint_id}
        try:
            head = await arestore(self.saver, session_id, at=at, checkpoint_id=checkpoint_id)
        except BaseException as exc:
            failed = AuditEvent(session_id, "error", user.id, None, {**asked, "error": repr(exc)})
            await self.journal.aend(session_id, holder, changes={}, events=[failed])
            raise
        details = {**asked, "new_checkpoint_id": head["configurable"]["checkpoint_id"]}
        restored = AuditEvent(session_id, "restored", user.id, None, details)
        await self.journal.aend(session_id, holder, changes={}, events=[restored])
        return head
