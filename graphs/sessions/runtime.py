"""`Runtime`: a graph bound to a database and an event loop — what every session runs on.

It holds the graph (its checkpointer replaced by the database's saver), the session records,
leases, audit trail and run journal in that database, the run settings, and the `Portal` to
the loop all of it runs on. It decides who may do what to a session and begins each run.
`Sessions` is the runtime with the front desk's methods; `Session.open` makes one of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.types import Durability

from accord.graphs.errors import BudgetExceeded, NotAuthorized
from accord.graphs.sessions.access import Action, Scope, User
from accord.graphs.sessions.budget import Limits, Usage
from accord.graphs.sessions.cost import Prices
from accord.graphs.sessions.pause import check_status
from accord.graphs.sessions.portal import Portal
from accord.persistence import (
    AuditEvent,
    AuditTrail,
    Begun,
    LeaseStore,
    RunJournal,
    SessionRecord,
    SessionStore,
    SQLAlchemySaver,
)

if TYPE_CHECKING:
    from accord.graphs.scale.broker import Broker
    from accord.graphs.scale.remote import Remote


class ReadAhead(Protocol):
    """The saver's read of a thread's latest checkpoint, done inside another transaction."""

    def steps(self) -> Generator[Any, Any, None]:
        """The read, as steps of the transaction that takes it."""
        ...

    def hand(self) -> None:
        """Once that transaction committed: LangGraph's next read of the thread takes it."""
        ...

    def drop(self) -> None:
        """The run is over: the read is no longer current."""
        ...


class Runtime:
    """A graph bound to a database and an event loop (see `Sessions` for the arguments)."""

    def __init__(
        self,
        graph: Pregel[Any, Any, Any, Any] | None,
        *,
        db: BaseCheckpointSaver[Any] | str | None = None,
        lease_ttl: float = 30.0,
        wait: float = 0.0,
        durability: Durability = "sync",
        callbacks: Sequence[BaseCallbackHandler] = (),
        metrics: bool = True,
        prices: Prices | None = None,
        broker: Broker | str | None = None,
    ) -> None:
        if lease_ttl <= 0:
            raise ValueError(f"lease_ttl must be positive, got {lease_ttl}")
        remote = _remote(broker)  # first: a missing extra must not leave a database open
        saver, self._owned = _saver(graph, db)
        self.saver = saver
        self._graph = (
            graph
            if graph is None or graph.checkpointer is saver
            else graph.copy({"checkpointer": saver})
        )
        self.records = SessionStore(saver)  # type: ignore[arg-type]
        self.leases = LeaseStore(saver)  # type: ignore[arg-type]
        self.audit_trail = AuditTrail(saver)  # type: ignore[arg-type]
        self.journal = RunJournal(self.leases)
        self.lease_ttl = lease_ttl
        self.wait = wait
        self.durability: Durability = durability
        self.callbacks = tuple(callbacks)
        self.metrics = metrics
        self.prices = prices or Prices.default()
        self.portal = Portal()
        self.remote = remote

    @property
    def graph(self) -> Pregel[Any, Any, Any, Any]:
        """The graph the sessions run (on this runtime's database)."""
        if self._graph is None:
            raise TypeError(
                "this Sessions was made without a graph: it can list, read, audit and restore "
                "sessions, but running them needs Sessions(graph, db=...)"
            )
        return self._graph

    async def values(self, session_id: str) -> dict[str, Any]:
        """The session's current state, read through the graph or, without one, the saver."""
        config: RunnableConfig = {"configurable": {"thread_id": session_id}}
        if self._graph is not None:
            return dict((await self._graph.aget_state(config)).values)
        stored = await self.saver.aget_tuple(config)
        return dict(stored.checkpoint["channel_values"]) if stored else {}

    async def read(self, session_id: str, user: User) -> dict[str, Any]:
        """The session's current state, for a user allowed to read it (else audits, raises)."""
        await self.authorize(session_id, user, "read")
        return await self.values(session_id)

    async def authorize(self, session_id: str, user: User, action: Action) -> SessionRecord:
        """The session's record if `user` may do `action`; else audits and raises.

        Raises:
            SessionNotFound: No such session.
            NotAuthorized: Not allowed; a `denied` event is in the session's audit trail.
        """
        record = await self.records.aget(session_id)
        try:
            _admit(record, user, action)
        except NotAuthorized:
            await self._deny(session_id, user, action)
            raise
        return record

    async def create(
        self,
        user: User,
        scope: Scope | None,
        limits: Limits | None,
        agent: str | None,
        session_id: str | None = None,
    ) -> SessionRecord:
        """Records a new session owned by `user` (audited as opened); its id is unguessable
        unless the caller gives one (an Agent Server client naming its thread)."""
        return await self.journal.aopen(
            user.id,
            session_id=session_id,
            agent=agent,
            scope=(scope or Scope.private()).to_dict(),
            limits=(limits or Limits()).to_dict(),
            usage=Usage().to_dict(),
        )

    async def begin(
        self,
        session_id: str,
        user: User,
        holder: str,
        events: Sequence[AuditEvent],
        *,
        answering: bool = False,
        message_id: str | None = None,
        then: Callable[[], Generator[Any, Any, Any]] | None = None,
    ) -> Begun:
        """Begins a run of `user`'s on an open session: its lease, record and `events`.

        The record is read once, under the lease, and checked there; `Begun.resent` says
        whether `message_id` (the caller's own id for the message) arrived before; `then`
        adds steps to the same transaction (see `read_ahead`).

        Raises:
            SessionNotFound: No such session.
            NotAuthorized: The user may not send to it (the attempt is audited).
            SessionClosed: The session was ended.
            SessionPaused: A message, while the session waits for an answer (`answering`:
                NotPaused, an answer while it waits for none).
            SessionBusy: Another run holds the session (after `wait`).
            BudgetExceeded: The session has spent one of its limits (audited as `budget_hit`;
                the message is not kept).
        """

        def admit(record: SessionRecord) -> None:
            _admit(record, user, "send")
            check_status(record, answering=answering)
            Limits.from_dict(record.limits).check(Usage.from_dict(record.usage), session_id)

        try:
            return await self.journal.abegin(
                session_id,
                holder,
                self.lease_ttl,
                wait=self.wait,
                events=events,
                admit=admit,
                message_id=message_id,
                then=then,
            )
        except NotAuthorized:
            await self._deny(session_id, user, "send")
            raise
        except BudgetExceeded as spent:  # refused before it arrived: the message is not kept
            details = {"limit": spent.limit, "used": spent.used.to_dict(), "refused": True}
            await self.audit_trail.aappend(session_id, "budget_hit", actor=user.id, details=details)
            raise

    def read_ahead(self, session_id: str) -> ReadAhead | None:
        """A read of the session's latest checkpoint for its run's first transaction, which
        LangGraph's own read then takes instead of a transaction of its own (None: the saver
        cannot, a replicated one say)."""
        if isinstance(self.saver, SQLAlchemySaver):
            return self.saver.read_ahead(session_id)
        return None

    async def aclose(self) -> None:
        """Closes the database this runtime opened (not one it was given) and its loop."""
        await self.portal.enter(self._close())
        self.portal.close()

    def close(self) -> None:
        """Sync `aclose`."""
        self.portal.call(self._close())
        self.portal.close()

    async def _deny(self, session_id: str, user: User, action: Action) -> None:
        details = {"action": action}
        await self.audit_trail.aappend(session_id, "denied", actor=user.id, details=details)

    async def _close(self) -> None:
        if self.remote is not None:
            await self.remote.aclose()
        if self._owned:
            await self.saver.aclose()  # type: ignore[attr-defined]


def _admit(record: SessionRecord, user: User, action: Action) -> None:
    if not Scope.from_dict(record.scope).allows(record.owner, user, action):
        raise NotAuthorized(record.session_id, user.id, action)


def _remote(broker: Broker | str | None) -> Remote | None:
    """Where turns run when not in this process: a fleet of workers (`accord worker`)."""
    if broker is None:
        return None
    from accord.graphs.scale.broker import Broker
    from accord.graphs.scale.remote import Remote

    return Remote(Broker.of(broker))


def _saver(
    graph: Pregel[Any, Any, Any, Any] | None, db: BaseCheckpointSaver[Any] | str | None
) -> tuple[BaseCheckpointSaver[Any], bool]:
    """The saver sessions live in, and whether this runtime made it (and must close it)."""
    if isinstance(db, str):
        return SQLAlchemySaver(db), True
    if db is not None:
        return db, False
    if graph is not None and isinstance(graph.checkpointer, SQLAlchemySaver):
        return graph.checkpointer, False
    raise TypeError(
        "sessions keep their records beside the checkpoints in an accord database: pass "
        "db='sqlite:///sessions.db' (or a SQLAlchemySaver), or compile the graph with one"
    )
