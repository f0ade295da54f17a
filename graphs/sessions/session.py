"""`Session`: one user's conversation with a team — send, stream, resume, within its budget.

Each run takes the session's lease (one writer across processes), checks the caller against
the session's scope, meters every model call against the session's limits, writes each step
durably, and records what happened in the audit trail and the usage on the session record.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any, Self, cast

from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.types import StreamMode

from accord.graphs.sessions.access import Scope, User
from accord.graphs.errors import BudgetExceeded, SessionClosed
from accord.graphs.sessions.budget import Limits, Meter, Usage
from accord.graphs.sessions.events import (
    AgentEvent,
    DoneEvent,
    Event,
    HandoffEvent,
    ReplyText,
    TokenEvent,
    UsageEvent,
    events_of,
)
from accord.graphs.sessions.manager import Sessions
from accord.graphs.sessions.portal import iterate
from accord.graphs.sessions.reply import Reply, reply_of
from accord.persistence import AuditEvent, SessionBusy, SessionRecord

HOST = f"{socket.gethostname()}:{os.getpid()}"


class Session:
    """A handle on one session, for one user. Get it from `Sessions` or `Session.open`.

    Handles hold no conversation state of their own: everything is read from and written to
    the database, so any number of handles, in any processes, see the same session.
    """

    def __init__(self, sessions: Sessions, record: SessionRecord, user: User) -> None:
        self.sessions = sessions
        self.record = record
        self.user = user
        self._owns_sessions = False

    @property
    def id(self) -> str:
        """The session id (also the LangGraph thread_id of its checkpoints)."""
        return self.record.session_id

    @property
    def usage(self) -> Usage:
        """What the session had spent when this handle last ran or read it."""
        return Usage.from_dict(self.record.usage)

    @property
    def limits(self) -> Limits:
        """The session's budget."""
        return Limits.from_dict(self.record.limits)

    @property
    def config(self) -> RunnableConfig:
        """The LangGraph config of the session's thread (for `get_state`, time travel...)."""
        return {"configurable": {"thread_id": self.id}}

    # --- convenience constructors ----------------------------------------------------------

    @classmethod
    async def aopen(
        cls,
        graph: Pregel[Any, Any, Any, Any],
        *,
        user: User | str,
        db: BaseCheckpointSaver[Any] | str | None = None,
        scope: Scope | None = None,
        limits: Limits | None = None,
    ) -> Session:
        """Opens a session on `graph` with a `Sessions` of its own (closed with the session)."""
        sessions = Sessions(graph, db=db)
        return await _aadopt(sessions, sessions.aopen(user, scope=scope, limits=limits))

    @classmethod
    def open(
        cls,
        graph: Pregel[Any, Any, Any, Any],
        *,
        user: User | str,
        db: BaseCheckpointSaver[Any] | str | None = None,
        scope: Scope | None = None,
        limits: Limits | None = None,
    ) -> Session:
        """Sync `aopen`."""
        sessions = Sessions(graph, db=db)
        return _adopt(sessions, lambda: sessions.open(user, scope=scope, limits=limits))

    @classmethod
    async def aresume(
        cls,
        graph: Pregel[Any, Any, Any, Any],
        session_id: str,
        *,
        user: User | str,
        db: BaseCheckpointSaver[Any] | str | None = None,
    ) -> Session:
        """Resumes a session on `graph`, in this or any other process."""
        sessions = Sessions(graph, db=db)
        return await _aadopt(sessions, sessions.aresume(session_id, user))

    @classmethod
    def resume(
        cls,
        graph: Pregel[Any, Any, Any, Any],
        session_id: str,
        *,
        user: User | str,
        db: BaseCheckpointSaver[Any] | str | None = None,
    ) -> Session:
        """Sync `aresume`."""
        sessions = Sessions(graph, db=db)
        return _adopt(sessions, lambda: sessions.resume(session_id, user))

    # --- async API -------------------------------------------------------------------------

    async def asend(self, text: str, *, message_id: str | None = None) -> Reply:
        """Sends the user's message and returns the team's reply once the run is over.

        Args:
            text: The message.
            message_id: An id the caller chose for this message. Sending the same id again
                (say, after a crash, not knowing whether it arrived) never adds it twice: a
                run it started is completed, a finished one is answered from the history.

        Raises:
            NotAuthorized: The user may not send to this session.
            SessionBusy: Another run holds the session (after `Sessions(wait=...)`).
            BudgetExceeded: A limit was reached; the steps before it are kept.
            SessionClosed: The session was ended.
        """
        return await self.sessions._enter(self._reply(self._run(text, message_id, False)))

    async def astream(self, text: str, *, message_id: str | None = None) -> AsyncIterator[Event]:
        """Sends the message and yields what happens as it happens, ending with `DoneEvent`.

        Token events carry each agent's reply as the model writes it. Raises as `asend`.
        """
        stream = self._run(text, message_id, True)
        if self.sessions._loop is None or self.sessions._loop is asyncio.get_running_loop():
            await self.sessions._enter(asyncio.sleep(0))  # binds the manager to this loop
            # Closed at once if the caller stops early, so the lease is given back now.
            async with contextlib.aclosing(stream):
                async for event in stream:
                    yield event
            return
        # On another loop than the manager's: the run happens there, its events come after.
        for event in await self.sessions._enter(_drain(stream)):
            yield event

    async def acontinue(self) -> Reply | None:
        """Completes a run that a crash interrupted, from its last checkpoint; None if none."""
        return await self.sessions._enter(self._continue())

    async def ahistory(self) -> list[AnyMessage]:
        """The conversation so far."""
        values = await self.astate()
        return list(values.get("messages", []))

    async def astate(self) -> dict[str, Any]:
        """The graph's current state (requires read access)."""
        return await self.sessions._enter(self._state())

    async def aend(self) -> None:
        """Ends the session: it stays readable, but takes no more messages."""
        await self.sessions._enter(self._end())

    async def aclose(self) -> None:
        """Releases this handle (and its own `Sessions`, if `Session.open` made one)."""
        if self._owns_sessions:
            await self.sessions.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- sync API --------------------------------------------------------------------------

    def send(self, text: str, *, message_id: str | None = None) -> Reply:
        """Sync `asend`."""
        return self.sessions.call(self._reply(self._run(text, message_id, False)))

    def stream(self, text: str, *, message_id: str | None = None) -> Iterator[Event]:
        """Sync `astream`: events as they happen."""
        loop = self.sessions._loop
        if loop is None or loop.is_closed():
            self.sessions.call(asyncio.sleep(0))  # binds the manager to its loop
            loop = self.sessions._loop
        assert loop is not None
        return iterate(loop, self._run(text, message_id, True))

    def continue_(self) -> Reply | None:
        """Sync `acontinue`."""
        return self.sessions.call(self._continue())

    def history(self) -> list[AnyMessage]:
        """Sync `ahistory`."""
        return list(self.state().get("messages", []))

    def state(self) -> dict[str, Any]:
        """Sync `astate`."""
        return self.sessions.call(self._state())

    def end(self) -> None:
        """Sync `aend`."""
        self.sessions.call(self._end())

    def close(self) -> None:
        """Sync `aclose`."""
        if self._owns_sessions:
            self.sessions.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one run -----------------------------------------------------------------------------

    async def _reply(self, events: AsyncIterator[Event]) -> Reply:
        # Run to the end, not just to the DoneEvent: the lease is given back after it.
        done = [event async for event in events if isinstance(event, DoneEvent)]
        return done[-1].reply

    async def _continue(self) -> Reply | None:
        snapshot = await self.sessions.graph.aget_state(self.config)
        if not snapshot.next:
            return None
        return await self._reply(self._run(None, None, False))

    async def _run(
        self, text: str | None, message_id: str | None, tokens: bool
    ) -> AsyncGenerator[Event, None]:
        """The one implementation of a run, as the events it yields."""
        sessions = self.sessions
        record = await sessions.authorize(self.id, self.user, "send")
        if record.status != "open":
            raise SessionClosed(f"session {self.id!r} is {record.status}; open a new one")
        message = _message(text, message_id)
        arrived = _Trail(self.id, self.user.id)
        if message is not None:
            details = {"message_id": message.id, "chars": len(message.text)}
            arrived.add("message_in", None, details)
        holder = f"{HOST}:{uuid.uuid4().hex}"
        # The arrival is recorded with the lease, before the run: a crash cannot lose it.
        begun = await sessions.journal.abegin(
            self.id, holder, sessions.lease_ttl, wait=sessions.wait, events=arrived.events
        )
        run = _Run(self, begun.record)
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep(holder, lost))
        try:
            if begun.interrupted and await self._unfinished():
                # The last run died mid-way: finish it from its last checkpoint first, or
                # LangGraph would drop the steps it completed but had not yet checkpointed.
                run.trail.add("recovered", run.agent, {})
                async for event in run.events(None, tokens, lost):
                    yield event
            payload, known = await self._input(message, resent=message_id is not None)
            if known is not None:
                yield DoneEvent(known)
                return
            async for event in run.events(payload, tokens, lost):
                yield event
        except BaseException as failure:
            run.failed(failure)
            raise run.error(failure) from None
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            self.record = await sessions.journal.aend(
                self.id, holder, changes=run.changes(), events=run.trail.events
            )
        yield UsageEvent(run.usage)
        yield DoneEvent(reply_of(self.id, run.added, run.values, run.usage))

    async def _unfinished(self) -> bool:
        """Whether the thread's last checkpoint has work left (tasks, or writes not applied)."""
        snapshot = await self.sessions.graph.aget_state(self.config)
        return bool(snapshot.tasks)

    async def _input(
        self, message: HumanMessage | None, *, resent: bool
    ) -> tuple[dict[str, Any] | None, Reply | None]:
        """The graph input for `message`, or the reply already given if it was sent before.

        Only a message with the caller's own id can have been sent before.
        """
        if message is None:
            return None, None
        if not resent:
            return {"messages": [message]}, None
        snapshot = await self.sessions.graph.aget_state(self.config)
        history: list[AnyMessage] = snapshot.values.get("messages", [])
        index = next((i for i, m in enumerate(history) if m.id == message.id), None)
        if index is None:
            return {"messages": [message]}, None
        if snapshot.next:
            return None, None  # it arrived, its run did not finish: finish it
        return None, reply_of(self.id, history[index:], snapshot.values, self.usage)

    async def _keep(self, holder: str, lost: asyncio.Event) -> None:
        """Renews the run's lease until cancelled; flags `lost` if another holder took it."""
        sessions = self.sessions
        while True:
            await asyncio.sleep(sessions.lease_ttl / 3)
            try:
                await sessions.leases.arenew(self.id, holder, sessions.lease_ttl)
            except SessionBusy:
                lost.set()
                return

    async def _state(self) -> dict[str, Any]:
        return await self.sessions._state(self.id, self.user)

    async def _end(self) -> None:
        await self.sessions.authorize(self.id, self.user, "send")
        self.record = await self.sessions.records.aupdate(self.id, status="closed")
        await self.sessions.audit_trail.aappend(self.id, "closed", actor=self.user.id)


class _Run:
    """One run of the graph: what it streams, spends and adds, and its bookkeeping."""

    def __init__(self, session: Session, record: SessionRecord) -> None:
        self.session = session
        self.limits = Limits.from_dict(record.limits)
        self.before = Usage.from_dict(record.usage)
        self.agent = record.agent
        self.started = time.monotonic()
        self.left = (
            None if self.limits.wall_time is None else self.limits.wall_time - self.before.wall_time
        )
        deadline = None if self.left is None else self.started + self.left
        self.meter = Meter(session.id, self.limits, self.before, deadline)
        self.trail = _Trail(session.id, session.user.id)
        self.added: list[AnyMessage] = []
        self.values: dict[str, Any] = {}
        self._usage: Usage | None = None

    @property
    def usage(self) -> Usage:
        """The session's usage, this run included (frozen once the run is over)."""
        if self._usage is not None:
            return self._usage
        elapsed = time.monotonic() - self.started
        return replace(self.before + self.meter.used, wall_time=self.before.wall_time + elapsed)

    def _deadline(self) -> float | None:
        """When the wall-time budget ends, on the event loop's clock."""
        if self.left is None:
            return None
        remaining = self.started + self.left - time.monotonic()
        return asyncio.get_running_loop().time() + remaining

    async def events(
        self, payload: dict[str, Any] | None, tokens: bool, lost: asyncio.Event
    ) -> AsyncIterator[Event]:
        """Runs the graph on `payload`, yielding its events."""
        session, limits = self.session, self.limits
        if self.left is not None and self.left <= 0:
            raise self.meter.refuse("wall_time")
        self.added += payload["messages"] if payload else []
        handlers = [self.meter, *session.sessions.callbacks]
        config: RunnableConfig = {**session.config, "callbacks": handlers}
        if limits.concurrency is not None:
            config["max_concurrency"] = limits.concurrency
        modes: list[StreamMode] = ["updates", "values"]
        if tokens:
            modes.append("messages")
        streamed = ReplyText()
        try:
            # One deadline for the whole run: a recovered run and the new message share it.
            async with asyncio.timeout_at(self._deadline()):
                stream = session.sessions.graph.astream(
                    payload, config, stream_mode=modes, durability=session.sessions.durability
                )
                async for mode, chunk in cast(AsyncIterator[tuple[str, Any]], stream):
                    if lost.is_set():
                        raise SessionBusy(session.id, None, None)
                    if mode == "values":
                        self.values = chunk
                    elif mode == "messages":
                        message, metadata = chunk
                        # Whole messages come again from the node's update; only chunks stream.
                        if isinstance(message, AIMessageChunk) and (
                            piece := streamed.feed(message)
                        ):
                            yield TokenEvent(metadata.get("langgraph_node", ""), piece)
                    else:
                        for event in self._updates(chunk):
                            yield event
        except TimeoutError:
            raise self.meter.refuse("wall_time") from None

    def _updates(self, chunk: dict[str, Any]) -> list[Event]:
        found: list[Event] = []
        for node, change in chunk.items():
            for event in events_of(node, change):
                self.trail.note(event)
                found.append(event)
            self.added += _messages(change)
            now = _agent(change, self.agent)
            if now != self.agent and now is not None:
                self.agent = now
                found.append(AgentEvent(now))
        return found

    def _finish(self) -> None:
        if self._usage is not None:
            return
        self._usage = self.usage
        for message in self.added:
            if isinstance(message, AIMessage):
                details = {"message_id": message.id, "chars": len(message.text)}
                self.trail.add("message_out", message.name, details)

    def failed(self, failure: BaseException) -> None:
        """Records what the run did before `failure`, and the failure."""
        self._finish()
        if isinstance(failure, BudgetExceeded):
            details = {"limit": failure.limit, "used": self.usage.to_dict()}
            self.trail.add("budget_hit", self.agent, details)
        elif not isinstance(failure, GeneratorExit):
            self.trail.add("error", self.agent, {"error": type(failure).__name__})

    def error(self, failure: BaseException) -> BaseException:
        """The error to raise for `failure`: a budget refusal carries the session's usage."""
        if isinstance(failure, BudgetExceeded):
            return BudgetExceeded(self.session.id, failure.limit, self.usage, self.limits)
        return failure

    def changes(self) -> dict[str, Any]:
        """What the session record takes from this run."""
        self._finish()
        return {"usage": self.usage.to_dict(), "agent": self.agent}


class _Trail:
    """The audit events of one run, written together when it ends."""

    def __init__(self, session_id: str, actor: str) -> None:
        self.session_id, self.actor = session_id, actor
        self.events: list[AuditEvent] = []

    def add(self, kind: str, agent: str | None, details: dict[str, Any]) -> None:
        self.events.append(AuditEvent(self.session_id, kind, self.actor, agent, details))

    def note(self, event: Event) -> None:
        if isinstance(event, HandoffEvent):
            details = {"source": event.source, "target": event.target, "reason": event.reason}
            self.add("handoff", event.target, details)


def _messages(change: Any) -> list[AnyMessage]:
    if not isinstance(change, dict):
        return []
    return [m for m in change.get("messages") or [] if isinstance(m, BaseMessage)]  # type: ignore[misc]


def _agent(change: Any, current: str | None) -> str | None:
    """The agent holding the conversation after `change`."""
    if not isinstance(change, dict):
        return current
    if isinstance(active := change.get("active_agent"), str):
        return active
    for message in reversed(change.get("messages") or []):
        if isinstance(message, AIMessage) and message.name:
            return message.name
    return current


def _adopt(sessions: Sessions, make: Callable[[], Session]) -> Session:
    """The session `make` returns, owning `sessions`; closes them if it fails (no leak)."""
    try:
        session = make()
    except BaseException:
        sessions.close()
        raise
    session._owns_sessions = True
    return session


async def _aadopt(sessions: Sessions, making: Awaitable[Session]) -> Session:
    """Async `_adopt`."""
    try:
        session = await making
    except BaseException:
        await sessions.aclose()
        raise
    session._owns_sessions = True
    return session


def _message(text: str | None, message_id: str | None) -> HumanMessage | None:
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a message must be non-empty text")
    return HumanMessage(text, id=message_id or str(uuid.uuid4()))


async def _drain(stream: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in stream]
