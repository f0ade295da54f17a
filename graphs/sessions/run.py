"""One run of a session: begin under the lease, stream the graph, meter it, end and audit.

A run takes the session's lease (one writer across processes) with the message's arrival,
finishes first a run that a crash interrupted, answers a message sent again from the history,
meters every model call against the session's limits, and ends by storing the usage and the
assigned agent and by auditing what happened, in one transaction, however it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any, cast
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import StreamMode

from accord.agents import MetricsRecorder
from accord.graphs.errors import BudgetExceeded
from accord.graphs.events import (
    AgentEvent,
    DoneEvent,
    Event,
    HandoffEvent,
    TokenEvent,
    UsageEvent,
    events_of,
)
from accord.graphs.sessions.access import User
from accord.graphs.sessions.budget import Limits, Meter, Usage
from accord.graphs.sessions.reply import Reply, reply_of
from accord.graphs.sessions.runtime import Runtime
from accord.graphs.sessions.tokens import ReplyText, Streamed
from accord.persistence import AuditEvent, SessionBusy, SessionRecord

REASON_CODE = re.compile(r"[a-z][a-z0-9_:-]{0,31}")
WRITE_AFTER_S = 1.0
"""A run writes its audit events mid-run when this long has passed since it last wrote."""


class Run:
    """One run of one user's message (or of a crashed run's rest) on a session.

    `events` yields what happens; `record` is the session's record once the run has ended.
    """

    def __init__(self, runtime: Runtime, session_id: str, user: User) -> None:
        self.runtime, self.session_id, self.user = runtime, session_id, user
        self.config: RunnableConfig = {"configurable": {"thread_id": session_id}}
        self.record: SessionRecord | None = None

    async def events(
        self, text: str | None, message_id: str | None, tokens: bool
    ) -> AsyncGenerator[Event, None]:
        """Runs the graph on the message `text` (None: only what a crash left), as events."""
        runtime = self.runtime
        message = _message(text, message_id)
        arrived = Trail(self.session_id, self.user.id)
        if message is not None:
            arrived.add("message_in", None, {"message_id": message.id, "chars": len(message.text)})
        # Computed per run, not at import: a forked worker has its own pid.
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        # The arrival is recorded with the lease, before the run: a crash cannot lose it.
        begun = await runtime.begin(self.session_id, self.user, holder, arrived.events)
        spend = _Spend(self.session_id, self.user, begun.record, steps=runtime.metrics)
        lost, done = asyncio.Event(), asyncio.Event()
        keeper = asyncio.create_task(self._keep(holder, lost, done))
        try:
            snapshot = await self._snapshot() if begun.interrupted else None
            if snapshot is not None:
                # The last run died before its end was written: audit the replies it gave.
                await self._unaudited(spend, snapshot)
            if snapshot is not None and snapshot.tasks:
                # The last run died mid-way: finish it from its last checkpoint first, or
                # LangGraph would drop the steps it completed but had not yet checkpointed.
                spend.trail.add("recovered", spend.agent, {})
                async for event in self._graph(spend, None, tokens, lost):
                    yield event
            payload, known = await self._input(message, spend.before, resent=message_id is not None)
            if known is not None:
                yield DoneEvent(known)
                return
            async for event in self._graph(spend, payload, tokens, lost):
                yield event
        except BaseException as failure:
            spend.failed(failure)
            raise spend.error(failure) from None
        finally:
            done.set()
            await keeper
            self.record = await runtime.journal.aend(
                self.session_id,
                holder,
                changes=spend.changes(),
                events=spend.trail.events,
                began=begun.record,
            )
        yield UsageEvent(spend.usage)
        yield DoneEvent(reply_of(self.session_id, spend.added, spend.values, spend.usage))

    async def _snapshot(self) -> Any:
        return await self.runtime.graph.aget_state(self.config)

    async def _unaudited(self, spend: _Spend, snapshot: Any) -> None:
        """Audits the replies in the state that no `message_out` event names (issue 14: a
        run killed after its last checkpoint never wrote them)."""
        trail = await self.runtime.audit_trail.aevents(self.session_id, kinds=["message_out"])
        audited = {event.details.get("message_id") for event in trail}
        for message in snapshot.values.get("messages", []):
            if isinstance(message, AIMessage) and message.id not in audited:
                details = {"message_id": message.id, "chars": len(message.text), "recovered": True}
                spend.trail.add("message_out", message.name, details)

    async def _input(
        self, message: HumanMessage | None, usage: Usage, *, resent: bool
    ) -> tuple[dict[str, Any] | None, Reply | None]:
        """The graph input for `message`, or the reply already given if it was sent before.

        Only a message with the caller's own id can have been sent before.
        """
        if message is None:
            return None, None
        if not resent:
            return {"messages": [message]}, None
        snapshot = await self._snapshot()
        history: list[AnyMessage] = snapshot.values.get("messages", [])
        index = next((i for i, m in enumerate(history) if m.id == message.id), None)
        if index is None:
            return {"messages": [message]}, None
        if snapshot.next:
            return None, None  # it arrived, its run did not finish: finish it
        # The turn it started ends where the next user message begins: later turns are not its.
        end = next(
            (i for i in range(index + 1, len(history)) if isinstance(history[i], HumanMessage)),
            len(history),
        )
        return None, reply_of(self.session_id, history[index:end], snapshot.values, usage)

    async def _keep(self, holder: str, lost: asyncio.Event, done: asyncio.Event) -> None:
        """Renews the run's lease until `done`; flags `lost` if another holder took it.

        Stopped by an event, not cancelled, so the run's end waits for a renewal in flight:
        the lease is released after the run's last renewal, never before it.
        """
        runtime = self.runtime
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), runtime.lease_ttl / 3)
                return
            try:
                await runtime.leases.arenew(self.session_id, holder, runtime.lease_ttl)
            except SessionBusy:
                lost.set()
                return

    async def _graph(
        self, spend: _Spend, payload: dict[str, Any] | None, tokens: bool, lost: asyncio.Event
    ) -> AsyncIterator[Event]:
        """Runs the graph on `payload`, yielding its events."""
        runtime = self.runtime
        if spend.left is not None and spend.left <= 0:
            raise spend.meter.refuse("wall_time")
        spend.added += payload["messages"] if payload else []
        output = _Output()
        recorder = [spend.steps] if spend.steps is not None else []
        config: RunnableConfig = {
            **self.config,
            "callbacks": [spend.meter, output, *recorder, *runtime.callbacks],
        }
        if spend.limits.concurrency is not None:
            config["max_concurrency"] = spend.limits.concurrency
        modes: list[StreamMode] = ["updates", "messages"] if tokens else ["updates"]
        streamed, shown = ReplyText(), Streamed()
        try:
            # One deadline for the whole run: a recovered run and the new message share it.
            async with asyncio.timeout_at(spend.deadline()):
                stream = runtime.graph.astream(
                    payload, config, stream_mode=modes, durability=runtime.durability
                )
                async for mode, chunk in cast(AsyncIterator[tuple[str, Any]], stream):
                    if lost.is_set():
                        raise SessionBusy(self.session_id, None, None)
                    if mode == "messages":
                        message, metadata = chunk
                        # Whole messages come again from the node's update; only chunks stream.
                        if isinstance(message, AIMessageChunk) and (
                            piece := streamed.feed(message)
                        ):
                            token = TokenEvent(metadata.get("langgraph_node", ""), piece)
                            shown.check(token)
                            yield token
                    else:
                        found = spend.updates(chunk)
                        if due := spend.due():  # stored before it is shown
                            await runtime.audit_trail.aextend(due)
                        for event in found:
                            if correction := shown.check(event):
                                yield correction
                            yield event
        except TimeoutError:
            raise spend.meter.refuse("wall_time") from None
        spend.values = output.values


class _Output(BaseCallbackHandler):
    """Keeps the graph's final state, which LangGraph hands its root run's callbacks once.

    Cheaper than `stream_mode="values"`, which copies the whole state out at every step.
    """

    run_inline = True

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        if parent_run_id is None and isinstance(outputs, dict):
            self.values = outputs


class _Spend:
    """What one run spends and adds, against the budget it began with, and its audit trail."""

    def __init__(
        self, session_id: str, user: User, record: SessionRecord, *, steps: bool = True
    ) -> None:
        self.session_id = session_id
        self.limits = Limits.from_dict(record.limits)
        self.before = Usage.from_dict(record.usage)
        self.agent = record.agent
        self.started = time.monotonic()
        self.left = (
            None if self.limits.wall_time is None else self.limits.wall_time - self.before.wall_time
        )
        deadline = None if self.left is None else self.started + self.left
        self.meter = Meter(session_id, self.limits, self.before, deadline)
        self.trail = Trail(session_id, user.id)
        self.added: list[AnyMessage] = []
        self.values: dict[str, Any] = {}
        # This run's agent steps, kept in the audit trail for `accord metrics --db`.
        self.steps = MetricsRecorder() if steps else None
        self._taken = 0  # steps moved to the trail
        self._written = self.started  # when the trail was last written
        self._usage: Usage | None = None

    @property
    def usage(self) -> Usage:
        """The session's usage, this run included (frozen once the run is over)."""
        if self._usage is not None:
            return self._usage
        elapsed = time.monotonic() - self.started
        return replace(self.before + self.meter.used, wall_time=self.before.wall_time + elapsed)

    def deadline(self) -> float | None:
        """When the wall-time budget ends, on the event loop's clock."""
        if self.left is None:
            return None
        remaining = self.started + self.left - time.monotonic()
        return asyncio.get_running_loop().time() + remaining

    def updates(self, chunk: dict[str, Any]) -> list[Event]:
        """The events of one `stream_mode="updates"` item, noted on the way."""
        found: list[Event] = []
        for node, change in chunk.items():
            added = _messages(change)
            # Stamped as they come: a message goes out before the handoff it carries.
            for message in added:
                if isinstance(message, AIMessage):
                    details = {"message_id": message.id, "chars": len(message.text)}
                    self.trail.add("message_out", message.name, details)
            for event in events_of(node, change):
                self.trail.note(event)
                found.append(event)
            if isinstance(change, dict) and change.get("facts"):
                # What the session learned about the user (a handoff team's `facts`).
                self.trail.add("facts", node, dict(change["facts"]))
            self.added += added
            now = _agent(change, self.agent)
            if now != self.agent and now is not None:
                self.agent = now
                found.append(AgentEvent(now))
        return found

    def due(self) -> list[AuditEvent]:
        """What to write to the audit trail now, mid-run: everything noted so far once a slow
        step (a model's) ended, so a process killed later in the turn loses none of it; runs
        of quick steps write once, at their end."""
        if time.monotonic() - self._written < WRITE_AFTER_S:
            return []
        self._written = time.monotonic()
        return self._pending()

    def _pending(self) -> list[AuditEvent]:
        """The events noted and not yet written, steps included, in the order they happened."""
        if self.steps is not None:
            actor = self.trail.actor  # the user whose run it was
            steps = self.steps.log.snapshot()[self._taken :]
            self._taken += len(steps)
            self.trail.events += [replace(step.to_audit(), actor=actor) for step in steps]
        pending = sorted(self.trail.events, key=lambda event: event.at)
        self.trail.events = []
        return pending

    def _finish(self) -> None:
        if self._usage is not None:
            return
        self._usage = self.usage
        self.trail.events = self._pending()

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
            return BudgetExceeded(self.session_id, failure.limit, self.usage, self.limits)
        return failure

    def changes(self) -> dict[str, Any]:
        """What the session record takes from this run."""
        self._finish()
        return {"usage": self.usage.to_dict(), "agent": self.agent}


class Trail:
    """The audit events of one run not yet written (`_Spend.due` writes them mid-run)."""

    def __init__(self, session_id: str, actor: str) -> None:
        self.session_id, self.actor = session_id, actor
        self.events: list[AuditEvent] = []

    def add(self, kind: str, agent: str | None, details: dict[str, Any]) -> None:
        """Adds an event of `kind` about `agent`."""
        self.events.append(AuditEvent(self.session_id, kind, self.actor, agent, details))

    def note(self, event: Event) -> None:
        """Adds what the trail keeps of a run's `event` (its handoffs)."""
        if isinstance(event, HandoffEvent):
            reason = _short_reason(event.reason)
            details = {"source": event.source, "target": event.target, "reason": reason}
            self.add("handoff", event.target, details)


def _short_reason(reason: str) -> str:
    """What the audit trail keeps of a handoff's reason: a code, never the conversation.

    A standby's handover says "failover" or "overload"; an agent's own handoff carries its
    reply (message content, which must not land in the append-only trail).
    """
    return reason if REASON_CODE.fullmatch(reason) else "agent decision"


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


def _message(text: str | None, message_id: str | None) -> HumanMessage | None:
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a message must be non-empty text")
    return HumanMessage(text, id=message_id or str(uuid.uuid4()))
