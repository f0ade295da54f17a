"""One run of a session: begin under the lease, stream the graph, meter it, end and audit.

A run takes the session's lease (one writer across processes) with the message's arrival,
finishes first a run that a crash interrupted, answers a message sent again from the history,
meters every model call against the session's limits, and ends by storing the usage and the
assigned agent and by auditing what happened, in one transaction, however it stopped.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, StreamMode

from accord.graphs.errors import SessionPaused
from accord.graphs.events import (
    DoneEvent,
    Event,
    GraphChunk,
    TokenEvent,
    UsageEvent,
)
from accord.graphs.sessions.access import User
from accord.graphs.sessions.budget import Usage
from accord.graphs.sessions.hooks import Hooks
from accord.graphs.sessions.keeper import Keeper
from accord.graphs.sessions.pause import answered, pending, resume_command
from accord.graphs.sessions.reply import Reply, reply_of
from accord.graphs.sessions.runtime import Runtime
from accord.graphs.sessions.spend import Spend, Trail, messages_of
from accord.graphs.sessions.tokens import ReplyText, Streamed, speakers
from accord.graphs.sessions.traces import Traces, traced_turn, tracing
from accord.persistence import SessionBusy, SessionRecord

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
        started: asyncio.Future[None] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Runs the graph on the message `text` (None: only what a crash left), on `given` (the
        graph's own input, or a `Command`), or resumes it with the `answer` to the question it
        paused on, as events; `started` is resolved once the run's first transaction committed,
        or with why it could not begin."""
        runtime = self.runtime
        try:
            if isinstance(given, Command) and given.resume is not None and answer is UNANSWERED:
                # A LangGraph client answers with Command(resume=...): the audited answer path.
                answer, given = given.resume, None
            message = _message(text, message_id)
            arrived = Trail(self.session_id, self.user.id)
            for new in [message] if message is not None else messages_of(given):
                if isinstance(new, HumanMessage):
                    arrived.add("message_in", None, {"message_id": new.id, "chars": len(new.text)})
            resume: Command[Any] | None = None
            if answering := answer is not UNANSWERED:
                questions = await pending(runtime.graph, self.config)
                resume = resume_command(self.session_id, questions, answer)
                arrived.add("answered", None, answered(questions, answer))
            # Computed per run, not at import: a forked worker has its own pid.
            holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
            # The arrival is recorded with the lease, before the run: a crash cannot lose it;
            # the state is read in the same transaction, for LangGraph's first read.
            ahead = runtime.read_ahead(self.session_id)
            begun = await runtime.begin(
                self.session_id,
                self.user,
                holder,
                arrived.events,
                message_id=message_id,
                answering=answering,
                then=ahead.steps if ahead is not None else None,
            )
        except BaseException as refused:
            if started is not None:
                _settle(started, refused)
            raise
        if started is not None:
            _settle(started, None)
        spend = Spend(self.session_id, self.user, begun.record, runtime, answering)
        keeper = Keeper(
            lambda: runtime.leases.arenew(self.session_id, holder, runtime.lease_ttl),
            runtime.lease_ttl,
        )
        if ahead is not None:
            ahead.hand()
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
                async with aclosing(self._graph(spend, None, tokens, keeper)) as recovered:
                    async for event in recovered:
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
            # Closed here, not by the garbage collector: a caller that stops reading stops
            # LangGraph's run (and its checkpoint writes) before the run's end is written.
            async with aclosing(self._graph(spend, resume or payload, tokens, keeper)) as graph:
                async for event in graph:
                    yield event
        except BaseException as failure:
            spend.failed(failure)
            raise spend.error(failure) from None
        finally:
            if ahead is not None:
                ahead.drop()
            await keeper.stop()
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

    async def _unaudited(self, spend: Spend, snapshot: Any) -> None:
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

    async def _graph(
        self, spend: Spend, payload: Payload, tokens: bool, keeper: Keeper
    ) -> AsyncGenerator[Event, None]:
        """Runs the graph on `payload`, yielding its events."""
        runtime = self.runtime
        if spend.left is not None and spend.left <= 0:
            raise spend.meter.refuse("wall_time")
        spend.added += messages_of(payload)
        hooks = Hooks(spend.meter, spend.steps, spend.stepped)
        # The traces give its steps and calls their spans, when spans go anywhere.
        traces = [Traces(self.session_id)] if tracing() else []
        callbacks = [hooks, *traces, *runtime.callbacks]
        config: RunnableConfig = {**self.config, "callbacks": callbacks}
        if spend.limits.concurrency is not None:
            config["max_concurrency"] = spend.limits.concurrency
        modes: list[StreamMode] = ["updates", "messages"] if tokens else ["updates"]
        modes += [mode for mode in self.modes if mode not in modes]
        streamed, shown = ReplyText(), Streamed()
        speaker = speakers(runtime.graph.nodes)
        try:
            stream = cast(
                AsyncGenerator[tuple[str, Any], None],
                runtime.graph.astream(
                    payload, config, stream_mode=modes, durability=runtime.durability
                ),
            )
            # One deadline for the whole run: a recovered run and the new message share it.
            async with asyncio.timeout_at(spend.deadline()), aclosing(stream):
                async for mode, chunk in stream:
                    if keeper.lost:
                        raise SessionBusy(self.session_id, None, None)
                    if mode == "messages":
                        message, metadata = chunk
                        # Whole messages come again from the node's update; only chunks stream.
                        piece = (
                            streamed.feed(message) if isinstance(message, AIMessageChunk) else None
                        )
                        if piece:
                            node = metadata.get("langgraph_node", "")
                            token = TokenEvent(speaker.get(node, node), piece)
                            shown.check(token)
                            yield token
                        if mode in self.modes and piece != "":
                            # Clients read a reply as a user does: a JSON answer's text, no JSON.
                            relayed = (
                                message.model_copy(update={"content": piece}) if piece else message
                            )
                            yield GraphChunk(mode, (relayed, metadata))
                    elif mode in self.modes:
                        yield GraphChunk(mode, chunk)
                    if mode == "updates":
                        found = spend.updates(chunk)
                        if due := spend.due():  # stored before it is shown
                            await runtime.audit_trail.aextend(due)
                        for event in found:
                            if correction := shown.check(event):
                                yield correction
                            yield event
        except TimeoutError:
            raise spend.meter.refuse("wall_time") from None
        spend.values = hooks.values
        spend.finished = True


async def turn(
    runtime: Runtime,
    session_id: str,
    user: User,
    text: str | None,
    message_id: str | None,
    tokens: bool,
    *,
    answer: Any = UNANSWERED,
    given: Any = None,
    modes: Sequence[StreamMode] = (),
    started: asyncio.Future[None] | None = None,
    ended: Callable[[SessionRecord], None] | None = None,
) -> AsyncGenerator[Event, None]:
    """One turn's events, run here or, for a fleet, by a worker; `ended` gets the session's
    record once the run has ended (see `Run.events` for the rest)."""
    remote = runtime.remote
    if remote is not None and answer is UNANSWERED and given is None and not modes:
        # A worker of the fleet runs it (`Sessions(..., broker=...)`); answers and LangGraph
        # clients' runs run here, under the same lease.
        if started is not None:
            _settle(started, None)  # the refusals come as the turn's error event
        remote_events = remote.events(runtime, session_id, user, text, message_id, tokens)
        async with aclosing(remote_events):
            async for event in remote_events:
                yield event
        return
    run = Run(runtime, session_id, user, modes)
    kind = "answer" if answer is not UNANSWERED else "continue" if text is None else "message"
    events = run.events(text, message_id, tokens, answer, given, started)
    if tracing():  # no span, and no layer per event, where spans go nowhere
        events = traced_turn(events, session_id, user.id, kind)
    try:
        # Closed here, not left to the garbage collector, when the caller stops early:
        # the run's end (its usage, audit and lease release) must run on this loop.
        async with aclosing(events):
            async for event in events:
                yield event
    finally:
        if run.record is not None and ended is not None:
            ended(run.record)


def _settle(started: asyncio.Future[None], refused: BaseException | None) -> None:
    """Resolves the caller's `started` future, from its own loop (a sync caller's run goes on
    the runtime's private loop); one cancelled with its waiter stays so."""

    def settle() -> None:
        if started.done():
            return
        if refused is None:
            started.set_result(None)
        else:
            started.set_exception(refused)

    loop = started.get_loop()
    if loop is asyncio.get_running_loop():
        settle()
    else:
        loop.call_soon_threadsafe(settle)


def _message(text: str | None, message_id: str | None) -> HumanMessage | None:
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a message must be non-empty text")
    return HumanMessage(text, id=message_id or str(uuid.uuid4()))
