"""The runs of the Agent Server API: each a turn of a session, run as a task of its own.

A run outlives the request that made it (a client that goes away does not cancel it), keeps
its stream so `join` and `stream` can follow it from the start, and takes the session's lease
like every turn: scope, budget, audit and metrics apply. A second run on a busy thread follows
its multitask strategy: `reject` (409), `enqueue` (runs after the ones before it), `interrupt`
(cancels them; their completed steps stay) or `rollback` (cancels them and restores the state
they began from). Runs are kept in this process; the lease keeps other processes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import StreamMode

from accord.app.errors import UnknownAgentId
from accord.app.server.agent_api.wire import dumps
from accord.app.server.responses import error_body
from accord.app.server.sse import PING
from accord.graphs import Session, Sessions, events
from accord.persistence import NothingToRestore, SessionBusy

Strategy = Literal["reject", "enqueue", "interrupt", "rollback"]
Status = Literal["pending", "running", "error", "success", "timeout", "interrupted"]
KEEP = 1000
"""Finished runs kept for `get`, `join` and `list`; the oldest are forgotten first."""


@dataclass
class AgentRun:
    """One run: what the API shows of it, and its stream so far."""

    session: Session
    assistant_id: str
    strategy: Strategy
    modes: tuple[StreamMode, ...]
    metadata: dict[str, Any]
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: Status = "pending"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    error: dict[str, str] | None = None
    parts: list[tuple[str, str]] = field(default_factory=list)
    """The stream so far: SSE event names and their JSON data."""
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    rollback: bool = False
    task: asyncio.Task[None] | None = None
    values: dict[str, Any] | None = None
    """The thread's values when the run succeeded."""
    then: Callable[[], Awaitable[object]] | None = None
    """What to do once the run is over, before it says so (a threadless run: delete its thread)."""

    @property
    def thread_id(self) -> str:
        return self.session.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status,
            "metadata": self.metadata,
            "multitask_strategy": self.strategy,
            "kwargs": {},
        }

    async def add(self, event: str, data: Any) -> None:
        """Appends one part to the stream and wakes its followers."""
        async with self.changed:
            self.parts.append((event, dumps(data)))
            self.changed.notify_all()

    async def finish(self, status: Status) -> None:
        async with self.changed:
            self.status, self.updated_at = status, datetime.now(UTC)
            self.done.set()
            self.changed.notify_all()

    def _past(self, index: int) -> Callable[[], bool]:
        """Whether the stream has grown past `index`, or ended."""
        return lambda: len(self.parts) > index or self.done.is_set()

    async def follow(self, ping: float, since: int = 0) -> AsyncIterator[bytes]:
        """The stream as SSE from part `since`, as it grows, until the run is over."""
        index = since
        while True:
            async with self.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait_for(self._past(index)), ping)
                new, over = self.parts[index:], self.done.is_set()
            if not new and not over:
                yield PING
            for event, data in new:
                index += 1
                yield f"event: {event}\ndata: {data}\nid: {index}\n\n".encode()
            if over and index == len(self.parts):
                return


class RunBook:
    """The runs of one server process, by id and by thread."""

    def __init__(self, sessions: Sessions, seen: Callable[[str], None] = lambda kind: None) -> None:
        self.sessions = sessions
        self.seen = seen  # counts each event kind of a run (and runs by how they end)
        self._runs: OrderedDict[str, AgentRun] = OrderedDict()

    def running(self) -> int:
        """How many runs are going on now (for the server's in-progress gauge)."""
        return sum(1 for run in self._runs.values() if run.status == "running")

    def get(self, thread_id: str, run_id: str) -> AgentRun:
        """The run `run_id` of `thread_id` (the caller was checked against the thread).

        Raises:
            UnknownAgentId: No such run on this thread.
        """
        run = self._runs.get(run_id)
        if run is None or run.thread_id != thread_id:
            raise UnknownAgentId(f"run {run_id!r} not found on thread {thread_id!r}")
        return run

    def of(self, thread_id: str) -> list[AgentRun]:
        """The thread's runs, newest first."""
        return [run for run in reversed(self._runs.values()) if run.thread_id == thread_id]

    def active(self, thread_id: str) -> list[AgentRun]:
        """The thread's runs not yet over, oldest first."""
        return [r for r in self._runs.values() if r.thread_id == thread_id and not r.done.is_set()]

    async def busy(self, thread_id: str) -> bool:
        """Whether a run holds the thread, here or in any process (its lease)."""
        if self.active(thread_id):
            return True
        lease = await self.sessions.leases.aholder(thread_id)
        return lease is not None and lease.expires_at > datetime.now(UTC)

    async def start(self, run: AgentRun, graph_input: Any) -> AgentRun:
        """Starts `run` on `graph_input` under its multitask strategy.

        Raises:
            SessionBusy: The thread is busy and the strategy is `reject`, or another process
                holds it (nothing here can be interrupted or waited for).
        """
        before = self.active(run.thread_id)
        if await self.busy(run.thread_id):
            if run.strategy == "reject" or not before:
                raise SessionBusy(run.thread_id, None, None)
            if run.strategy in ("interrupt", "rollback"):
                for earlier in before:
                    await self.cancel(earlier, rollback=run.strategy == "rollback", wait=True)
                before = []
        self._runs[run.run_id] = run
        self._forget()
        run.task = asyncio.create_task(self._execute(run, graph_input, before))
        return run

    async def cancel(self, run: AgentRun, *, rollback: bool, wait: bool) -> None:
        """Cancels `run` (`rollback`: and restores the state it began from, and forgets it)."""
        run.rollback = run.rollback or rollback
        if run.task is not None:
            run.task.cancel()
        if wait:
            await run.done.wait()

    async def aclose(self, grace: float) -> None:
        """Waits up to `grace` seconds for the runs to end, then cancels the rest."""
        tasks = [r.task for r in self._runs.values() if r.task and not r.task.done()]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _execute(self, run: AgentRun, graph_input: Any, before: list[AgentRun]) -> None:
        status: Status = "interrupted"  # unless it gets further
        try:
            for earlier in before:  # enqueued: after the runs before it, in order
                await earlier.done.wait()
            run.status, run.updated_at = "running", datetime.now(UTC)
            head = await self._head(run.thread_id)
            try:
                await run.add("metadata", {"run_id": run.run_id, "attempt": 1})
                # Closed here if cancelled between events, not left to the garbage collector.
                runs = run.session.arun(graph_input, modes=run.modes)
                async with contextlib.aclosing(runs) as stream:
                    async for event in stream:
                        self.seen(event.kind)
                        if isinstance(event, events.GraphChunk):
                            await run.add(event.mode, event.data)
            except asyncio.CancelledError:
                if run.rollback:
                    await self._roll_back(run, head)
                raise
            status = "success"
            run.values = await self.sessions.values(run.thread_id)
        except Exception as error:  # the client gets it as the stream's `error` event
            status, run.error = "error", {"error": type(error).__name__, "message": _message(error)}
            await run.add("error", run.error)
            self.seen("error")
        finally:
            # Whatever happened: a threadless run's thread goes (its stream is kept here).
            if run.then is not None:
                await run.then()
            await run.finish(status)

    async def _head(self, thread_id: str) -> str | None:
        """The thread's current checkpoint id (what a rollback goes back to)."""
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        stored = await self.sessions.saver.aget_tuple(config)
        return stored.config["configurable"].get("checkpoint_id") if stored else None

    async def _roll_back(self, run: AgentRun, head: str | None) -> None:
        self._runs.pop(run.run_id, None)
        session = run.session
        if head is None:  # the thread had no state before this run
            await self.sessions.saver.adelete_thread(run.thread_id)
            return
        with contextlib.suppress(NothingToRestore):
            await self.sessions.arestore(session.id, session.user, checkpoint_id=head)

    def _forget(self) -> None:
        finished = [rid for rid, r in self._runs.items() if r.done.is_set()]
        for run_id in finished[: max(0, len(finished) - KEEP)]:
            del self._runs[run_id]


def _message(error: BaseException) -> str:
    message: str = error_body(error)["error"]["message"]
    return message
