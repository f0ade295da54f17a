"""`Session`: one user's conversation with a team — send, stream, resume, within its budget.

Each run (see `accord.graphs.sessions.run`) takes the session's lease (one writer across
processes), checks the caller against the session's scope, meters every model call against the
session's limits, writes each step durably, and records what happened in the audit trail and
the usage on the session record.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, Self

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.types import StreamMode

from accord.agents import Rating
from accord.graphs.events import DoneEvent, Event, InterruptEvent
from accord.graphs.sessions.access import Scope, User
from accord.graphs.sessions.budget import Limits, Usage
from accord.graphs.sessions.feedback import check_rating, rated_answer
from accord.graphs.sessions.pause import PAUSED, pending
from accord.graphs.sessions.reply import Reply
from accord.graphs.sessions.run import turn
from accord.graphs.sessions.runtime import Runtime
from accord.persistence import SessionRecord


class Session:
    """A handle on one session, for one user. Get it from `Sessions` or `Session.open`.

    Handles hold no conversation state of their own: everything is read from and written to
    the database, so any number of handles, in any processes, see the same session.
    """

    def __init__(
        self, sessions: Runtime, record: SessionRecord, user: User, *, owns: bool = False
    ) -> None:
        """A handle for `user` on the session `record`, run by `sessions`.

        Args:
            sessions: The `Sessions` (or runtime) the session runs on.
            record: The session's record.
            user: Who acts through this handle.
            owns: Whether closing the handle closes `sessions` (`Session.open` makes its own).
        """
        self.sessions = sessions
        self.record = record
        self.user = user
        self._owns = owns

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
        """Opens a session on `graph` with a runtime of its own (closed with the session)."""
        runtime, owner = Runtime(graph, db=db), User.of(user)
        return await _aadopt(runtime, owner, runtime.create(owner, scope, limits, None))

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
        runtime, owner = Runtime(graph, db=db), User.of(user)
        return _adopt(runtime, owner, runtime.create(owner, scope, limits, None))

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
        runtime, reader = Runtime(graph, db=db), User.of(user)
        return await _aadopt(runtime, reader, runtime.authorize(session_id, reader, "resume"))

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
        runtime, reader = Runtime(graph, db=db), User.of(user)
        return _adopt(runtime, reader, runtime.authorize(session_id, reader, "resume"))

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
            BudgetExceeded: A limit was reached; the steps before it are kept (a session
                that had already spent one refuses the message: it is not kept).
            SessionClosed: The session was ended.
        """
        return await self.sessions.portal.enter(self._reply(self._run(text, message_id, False)))

    def astream(self, text: str, *, message_id: str | None = None) -> AsyncGenerator[Event, None]:
        """Sends the message and yields what happens as it happens, ending with `DoneEvent`.

        Token events carry each agent's reply as the model writes it. Raises as `asend`.
        """
        return self.sessions.portal.relay(self._run(text, message_id, True))

    async def aresume_with(self, answer: Any) -> Reply:
        """Answers the question the session paused on and runs the graph on from there.

        A graph pauses where it calls LangGraph's `interrupt(value)` (an agent's `approve`
        tools do): `asend` returns a `Reply` whose `interrupts` hold the questions, and the
        session takes no message until they are answered, in this or any process, after a
        restart too. The answer is what `interrupt()` returns in the graph: True or False for
        an approval, any JSON-ready value otherwise; when several questions are pending,
        `{interrupt_id: answer, ...}`. Audited as `answered` (who, when, which questions).

        Raises:
            NotPaused: The session asked no question, or the answer names none pending;
                nothing was changed.
            NotAuthorized, SessionBusy, BudgetExceeded, SessionClosed: as `asend`.
        """
        return await self.sessions.portal.enter(self._reply(self._answer(answer, False)))

    def astream_resume_with(self, answer: Any) -> AsyncGenerator[Event, None]:
        """`aresume_with`, yielding what happens as it happens (as `astream`)."""
        return self.sessions.portal.relay(self._answer(answer, True))

    async def apending(self) -> list[InterruptEvent]:
        """The questions the session waits on (empty unless it is paused); needs read access."""
        return await self.sessions.portal.enter(self._pending())

    def arun(
        self, graph_input: Any, *, modes: Sequence[StreamMode] = ()
    ) -> AsyncGenerator[Event, None]:
        """Runs the graph on its own input (`{"messages": [...]}`, any state update, or a
        `Command`) as a turn of this session: lease, scope, budget and audit apply as for
        `astream`. The items of LangGraph's stream `modes` come as `events.GraphChunk`s among
        the session's events (what the Agent Server API relays). A `Command(resume=...)` is an
        answer, as `aresume_with`'s."""
        return self.sessions.portal.relay(
            self._run(None, None, False, given=graph_input, modes=modes)
        )

    async def acontinue(self) -> Reply | None:
        """Completes a run that a crash interrupted, from its last checkpoint; None if none."""
        return await self.sessions.portal.enter(self._continue())

    async def ahistory(self) -> list[AnyMessage]:
        """The conversation so far."""
        values = await self.astate()
        return list(values.get("messages", []))

    async def astate(self) -> dict[str, Any]:
        """The graph's current state (requires read access)."""
        return await self.sessions.portal.enter(self.sessions.read(self.id, self.user))

    async def aend(self) -> None:
        """Ends the session: it stays readable, but takes no more messages."""
        await self.sessions.portal.enter(self._end())

    async def afeedback(
        self, score: float, comment: str | None = None, *, message_id: str | None = None
    ) -> Rating:
        """Rates one answer of the session, for the agent that wrote it (audited as feedback).

        A user who rates an answer again replaces their rating (both stay in the audit trail);
        `accord metrics` shows the satisfaction per agent and per session.

        Args:
            score: From 0 (not satisfied) to 1 (satisfied); thumbs up is 1, thumbs down 0.
            comment: What the user says about the answer.
            message_id: The answer's id in the history; None rates the latest answer.

        Raises:
            InvalidFeedback: The score or comment is refused, or the message is not an answer
                of this session; nothing was stored.
            NotAuthorized: The user may not send to this session (only its participants rate).
        """
        return await self.sessions.portal.enter(self._feedback(score, comment, message_id))

    async def aclose(self) -> None:
        """Releases this handle (and its own `Sessions`, if `Session.open` made one)."""
        if self._owns:
            await self.sessions.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- sync API --------------------------------------------------------------------------

    def send(self, text: str, *, message_id: str | None = None) -> Reply:
        """Sync `asend`."""
        return self.sessions.portal.call(self._reply(self._run(text, message_id, False)))

    def stream(self, text: str, *, message_id: str | None = None) -> Iterator[Event]:
        """Sync `astream`: events as they happen."""
        return self.sessions.portal.iterate(self._run(text, message_id, True))

    def resume_with(self, answer: Any) -> Reply:
        """Sync `aresume_with`."""
        return self.sessions.portal.call(self._reply(self._answer(answer, False)))

    def stream_resume_with(self, answer: Any) -> Iterator[Event]:
        """Sync `astream_resume_with`."""
        return self.sessions.portal.iterate(self._answer(answer, True))

    def pending(self) -> list[InterruptEvent]:
        """Sync `apending`."""
        return self.sessions.portal.call(self._pending())

    def continue_(self) -> Reply | None:
        """Sync `acontinue`."""
        return self.sessions.portal.call(self._continue())

    def history(self) -> list[AnyMessage]:
        """Sync `ahistory`."""
        return list(self.state().get("messages", []))

    def state(self) -> dict[str, Any]:
        """Sync `astate`."""
        return self.sessions.portal.call(self.sessions.read(self.id, self.user))

    def end(self) -> None:
        """Sync `aend`."""
        self.sessions.portal.call(self._end())

    def feedback(
        self, score: float, comment: str | None = None, *, message_id: str | None = None
    ) -> Rating:
        """Sync `afeedback`."""
        return self.sessions.portal.call(self._feedback(score, comment, message_id))

    def close(self) -> None:
        """Sync `aclose`."""
        if self._owns:
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

    def _answer(self, answer: Any, tokens: bool) -> AsyncGenerator[Event, None]:
        return self._run(None, None, tokens, answer=answer)

    async def _pending(self) -> list[InterruptEvent]:
        record = await self.sessions.authorize(self.id, self.user, "read")
        if record.status != PAUSED:
            return []  # e.g. an answer whose run failed: its question is answered, not waiting
        questions = await pending(self.sessions.graph, self.config)
        return [InterruptEvent(str(question.id), question.value) for question in questions]

    def _run(
        self, text: str | None, message_id: str | None, tokens: bool, **how: Any
    ) -> AsyncGenerator[Event, None]:
        """The turn's events (`how`: `turn`'s answer, given input or stream modes)."""
        return turn(
            self.sessions, self.id, self.user, text, message_id, tokens, ended=self._ended, **how
        )

    def _ended(self, record: SessionRecord) -> None:
        self.record = record

    async def _end(self) -> None:
        await self.sessions.authorize(self.id, self.user, "send")
        self.record = await self.sessions.records.aupdate(self.id, status="closed")
        await self.sessions.audit_trail.aappend(self.id, "closed", actor=self.user.id)

    async def _feedback(self, score: float, comment: str | None, message_id: str | None) -> Rating:
        checked = check_rating(score, comment)
        await self.sessions.authorize(self.id, self.user, "send")
        values = await self.sessions.values(self.id)
        answer = rated_answer(self.id, values.get("messages", []), message_id)
        rating = Rating(
            session=self.id,
            agent=answer.name or values.get("active_agent") or "",
            message_id=str(answer.id),
            user=self.user.id,
            score=checked,
            comment=comment,
        )
        await self.sessions.audit_trail.aextend([rating.to_audit()])
        return rating


def _adopt(runtime: Runtime, user: User, making: Coroutine[Any, Any, SessionRecord]) -> Session:
    """A session owning `runtime`, on the record `making` returns; closes it if that fails."""
    try:
        record = runtime.portal.call(making)
    except BaseException:
        runtime.close()
        raise
    return Session(runtime, record, user, owns=True)


async def _aadopt(
    runtime: Runtime, user: User, making: Coroutine[Any, Any, SessionRecord]
) -> Session:
    """Async `_adopt`."""
    try:
        record = await runtime.portal.enter(making)
    except BaseException:
        await runtime.aclose()
        raise
    return Session(runtime, record, user, owns=True)
