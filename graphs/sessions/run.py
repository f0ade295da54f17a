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
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import replace
from typing import Any, cast
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, StreamMode

from accord.agents import MetricsRecorder
from accord.graphs.errors import BudgetExceeded, SessionPaused
from accord.graphs.events import (
    AgentEvent,
    DoneEvent,
    Event,
    GraphChunk,
    HandoffEvent,
    InterruptEvent,
    TokenEvent,
    UsageEvent,
    events_of,
)
from accord.graphs.sessions.access import User
from accord.graphs.sessions.budget import Limits, Meter, Usage
from accord.graphs.sessions.pause import OPEN, PAUSED, answered, asked, pending, resume_command
from accord.graphs.sessions.reply import Reply, reply_of
from accord.graphs.sessions.runtime import Runtime
from accord.graphs.sessions.tokens import ReplyText
from accord.graphs.sessions.traces import Traces
from accord.persistence import AuditEvent, SessionBusy, SessionRecord

REASON_CODE = re.compile(r"[a-z][a-z0-9_:-]{0,31}")
Payload = dict[str, Any] | Command[Any] | None
UNANSWERED: Any = object()  # no answer: the run is a message's, not a question's answer


class Run:
    """One run of one user's message (or of a crashed run's rest) on a session.

    `events` yields what happens; `record` is the session's record once the run has ended.
    `modes` are LangGraph stream modes whose items it also yields, as `GraphChunk`s.
    """

    def __init__(
        self, runtime: Runtime, session_id: str, user: User, modes: Sequence[StreamMode] = ()
    ) -> None:
        self.runtime, self.session_id, self.user = runtime, session_id, user
        self.modes = tuple(modes)
        self.config: RunnableConfig = {"configurable": {"thread_id": session_id}}
        self.record: SessionRecord | None = None

    async def events(
        self,
        text: str | None,
        message_id: str | None,
        tokens: bool,
        answer: Any = UNANSWERED,
        given: Any = None,
    ) -> AsyncGenerator[Event, None]:
        """Runs the graph on the message `text` (None: only what a crash left), on `given` (the
        graph's own input, or a `Command`), or resumes it with the `answer` to the question it
        paused on, as events."""
        runtime = self.runtime
        if isinstance(given, Command) and given.resume is not None and answer is UNANSWERED:
            # A LangGraph client answers with Command(resume=...): the audited answer path.
            answer, given = given.resume, None
        message = _message(text, message_id)
        arrived = Trail(self.session_id, self.user.id)
        for new in [message] if message is not None else _messages(given):
            if isinstance(new, HumanMessage):
                arrived.add("message_in", None, {"message_id": new.id, "chars": len(new.text)})
        resume: Command[Any] | None = None
        if answering := answer is not UNANSWERED:
            questions = await pending(runtime.graph, self.config)
            resume = resume_command(self.session_id, questions, answer)
            arrived.add("answered", None, answered(questions, answer))
        # Computed per run, not at import: a forked worker has its own pid.
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        # The arrival is recorded with the lease, before the run: a crash cannot lose it.
        begun = await runtime.begin(
            self.session_id,
            self.user,
            holder,
            arrived.events,
            message_id=message_id,
            answering=answering,
        )
        spend = _Spend(self.session_id, self.user, begun.record, runtime)
        lost, done = asyncio.Event(), asyncio.Event()
        keeper = asyncio.create_task(self._keep(holder, lost, done))
        try:
            # Read once for both needs; a message that never arrived needs no read at all.
            snapshot = await self._snapshot() if begun.interrupted or begun.resent else None
            if begun.interrupted:
                # The last run died before its end was written: audit the replies it gave.
                await self._unaudited(spend, snapshot)
            if begun.interrupted and snapshot is not None and snapshot.tasks:
                # The last run died mid-way: finish it from its last checkpoint first, or
                # LangGraph would drop the steps it completed but had not yet checkpointed.
                spend.trail.add("recovered", spend.agent, {})
                async for event in self._graph(spend, None, tokens, lost):
                    yield event
                snapshot = None  # moved on
            if spend.interrupts and resume is None:
                # The finished run paused on a question: the message waits for its answer.
                raise SessionPaused(f"session {self.session_id!r} is waiting for an answer")
            payload, known = await self._input(message, spend.before, begun.resent, snapshot)
            payload = given if given is not None else payload
            if known is not None:
                yield DoneEvent(known)
                return
            async for event in self._graph(spend, resume or payload, tokens, lost):
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
        reply = reply_of(self.session_id, spend.added, spend.values, spend.usage)
        yield DoneEvent(replace(reply, interrupts=tuple(spend.interrupts)))

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
        self, message: HumanMessage | None, usage: Usage, resent: bool, snapshot: Any
    ) -> tuple[dict[str, Any] | None, Reply | None]:
        """The graph input for `message`, or the reply already given if it was sent before.

        Only a message with the caller's own id can have been sent before (`resent`: its
        arrival is in the audit trail); `snapshot` is the state, if read already.
        """
        if message is None:
            return None, None
        if not resent:
            return {"messages": [message]}, None
        snapshot = snapshot or await self._snapshot()
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
        self, spend: _Spend, payload: Payload, tokens: bool, lost: asyncio.Event
    ) -> AsyncIterator[Event]:
        """Runs the graph on `payload`, yielding its events."""
        runtime = self.runtime
        if spend.left is not None and spend.left <= 0:
            raise spend.meter.refuse("wall_time")
        spend.added += _messages(payload)
        output = _Output()
        # The recorder keeps this run's steps; the traces give its steps and calls their spans.
        extra = [spend.steps] if spend.steps is not None else []
        callbacks = [spend.meter, output, Traces(self.session_id), *extra, *runtime.callbacks]
        config: RunnableConfig = {**self.config, "callbacks": callbacks}
        if spend.limits.concurrency is not None:
            config["max_concurrency"] = spend.limits.concurrency
        modes: list[StreamMode] = ["updates", "messages"] if tokens else ["updates"]
        modes += [mode for mode in self.modes if mode not in modes]
        streamed = ReplyText()
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
                        piece = (
                            streamed.feed(message) if isinstance(message, AIMessageChunk) else None
                        )
                        if piece:
                            yield TokenEvent(metadata.get("langgraph_node", ""), piece)
                        if mode in self.modes and piece != "":
                            # Clients read a reply as a user does: a JSON answer's text, no JSON.
                            shown = (
                                message.model_copy(update={"content": piece}) if piece else message
                            )
                            yield GraphChunk(mode, (shown, metadata))
                    elif mode in self.modes:
                        yield GraphChunk(mode, chunk)
                    if mode == "updates":
                        for event in spend.updates(chunk):
                            yield event
        except TimeoutError:
            raise spend.meter.refuse("wall_time") from None
        spend.values = output.values
        spend.finished = True


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
        self, session_id: str, user: User, record: SessionRecord, runtime: Runtime
    ) -> None:
        self.session_id = session_id
        self.limits = Limits.from_dict(record.limits)
        self.before = Usage.from_dict(record.usage)
        self.agent = record.agent
        self.status = record.status
        self.interrupts: list[InterruptEvent] = []
        self.finished = False  # the graph ran to its end or to a question
        self.started = time.monotonic()
        self.left = (
            None if self.limits.wall_time is None else self.limits.wall_time - self.before.wall_time
        )
        deadline = None if self.left is None else self.started + self.left
        self.meter = Meter(session_id, self.limits, self.before, deadline, runtime.prices)
        self.trail = Trail(session_id, user.id)
        self.added: list[AnyMessage] = []
        self.values: dict[str, Any] = {}
        # This run's agent steps, kept in the audit trail for `accord metrics --db`.
        self.steps = MetricsRecorder() if runtime.metrics else None
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
                if isinstance(event, InterruptEvent):
                    self.interrupts.append(event)
            if isinstance(change, dict) and change.get("facts"):
                # What the session learned about the user (a handoff team's `facts`).
                self.trail.add("facts", node, dict(change["facts"]))
            self.added += added
            now = _agent(change, self.agent)
            if now != self.agent and now is not None:
                self.agent = now
                found.append(AgentEvent(now))
        return found

    def _finish(self) -> None:
        if self._usage is not None:
            return
        self._usage = self.usage
        if self.steps is not None:
            actor = self.trail.actor  # the user whose run it was
            steps = self.steps.log.snapshot()
            self.trail.events += [replace(step.to_audit(), actor=actor) for step in steps]
        # Each event keeps the moment it happened; the trail stores them in that order.
        self.trail.events.sort(key=lambda event: event.at)

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
        changes: dict[str, Any] = {"usage": self.usage.to_dict(), "agent": self.agent}
        # Paused when the run stopped on a question; open again once one runs to its end.
        status = PAUSED if self.interrupts else OPEN if self.finished else self.status
        if status != self.status:
            changes["status"] = status
        return changes


class Trail:
    """The audit events of one run, written together when it ends."""

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
        elif isinstance(event, InterruptEvent):
            self.add("interrupt", *asked(event))


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
