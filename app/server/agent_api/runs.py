"""Runs of the Agent Server API: create, stream, wait, join, cancel, get and list.

A run on a thread is a turn of its session (`Session.arun`): the input is the graph's own
(`{"messages": [...]}`; messages get ids, so the audit trail names them) or a `Command`.
Stream modes are LangGraph's `values`, `updates`, `messages-tuple` (SSE event `messages`) and
`custom`. Threadless runs (`/runs/stream`, `/runs/wait`) run on a new thread, deleted when they
end unless `on_completion="keep"`.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from langchain_core.messages import convert_to_messages
from langgraph.types import Command, StreamMode
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from accord.app.errors import server_extra
from accord.app.server.agent_api.assistants import Assistant, Served
from accord.app.server.agent_api.book import AgentRun, RunBook, Strategy
from accord.app.server.agent_api.threads import (
    Book,
    drop_thread,
    open_thread,
    session_of,
    thread_record,
)
from accord.app.server.agent_api.wire import ERRORS, STREAM, AgentRoute, Caller, answer
from accord.app.server.routes import Server, SessionId, Shared, check_budget
from accord.graphs import User
from accord.persistence import SessionNotFound

with server_extra():
    from fastapi import APIRouter, Query
    from fastapi.responses import Response, StreamingResponse

ModeIn = Literal["values", "updates", "messages-tuple", "custom"]
MODES: dict[str, StreamMode] = {
    "values": "values",
    "updates": "updates",
    "messages-tuple": "messages",
    "custom": "custom",
}
"""The API's stream modes and the LangGraph modes behind them."""

runs_api = APIRouter(route_class=AgentRoute, tags=["Agent Server API"], responses=ERRORS)


class CommandIn(BaseModel):
    """A `Command`: resume an interrupted run, update the state, or go to a node."""

    model_config = ConfigDict(extra="forbid")

    resume: Any = None
    update: Any = None
    goto: Any = None


class RunIn(BaseModel):
    """The body of every run-creating request (fields LangGraph's server also takes and accord
    has no use for, such as `webhook` or `durability`, are ignored)."""

    model_config = ConfigDict(extra="ignore")

    assistant_id: str = Field(min_length=1, max_length=200)
    input: dict[str, Any] | None = None
    command: CommandIn | None = None
    stream_mode: ModeIn | list[ModeIn] = "values"
    metadata: dict[str, Any] | None = None
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    on_completion: Literal["delete", "keep"] | None = None
    # Sessions run whole turns from their latest state: breakpoints and time travel must be
    # absent (restore an earlier state with accord's restore). A static breakpoint stops a run
    # with no question and is resumed by running again with no input, which a session's pause
    # (a question, answered by `Command(resume=...)`, audited) does not map onto.
    interrupt_before: Any = Field(default=None, description="Not supported: must be absent")
    interrupt_after: Any = Field(default=None, description="Not supported: must be absent")
    checkpoint_id: None = Field(default=None, description="Not supported: must be absent")
    checkpoint: None = Field(default=None, description="Not supported: must be absent")

    @field_validator("interrupt_before", "interrupt_after")
    @classmethod
    def _no_breakpoints(cls, value: Any, info: ValidationInfo) -> None:
        if value:
            raise ValueError(
                f"{info.field_name} (a static breakpoint) is not supported: an accord session "
                "pauses only where the graph calls interrupt(), and is resumed with "
                'command={"resume": answer}; call interrupt() in the node, or give the agent '
                "approve=[tool names]"
            )
        return None

    stream_subgraphs: bool = False

    def modes(self) -> tuple[StreamMode, ...]:
        """The LangGraph stream modes asked for."""
        asked = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return tuple(dict.fromkeys(MODES[mode] for mode in asked))

    def graph_input(self) -> Any:
        """What the graph runs on: the input (messages made LangChain messages with ids, so the
        audit trail names them), or the command. Input that is not messages goes to the graph
        as it is, which refuses it in the run's `error` event, as on LangGraph's server."""
        if self.command is not None:
            return Command(**self.command.model_dump(exclude_none=True))
        if self.input is None or "messages" not in self.input:
            return self.input
        try:
            messages = convert_to_messages(self.input["messages"])
        except (ValueError, TypeError, NotImplementedError):
            return self.input
        for message in messages:
            message.id = message.id or str(uuid.uuid4())
        return {**self.input, "messages": messages}


async def start(
    shared: Server, runs: RunBook, served: Assistant, me: User, thread_id: str | None, body: RunIn
) -> AgentRun:
    """Starts a run of `body` on the thread (made first if asked for, or if threadless)."""
    served.check(body.assistant_id)
    modes, graph_input = body.modes(), body.graph_input()
    sessions = shared.sessions
    if thread_id is None:
        record = await open_thread(sessions, me, None)
    else:
        try:
            record = await thread_record(sessions, thread_id, me, "send")
        except SessionNotFound:
            if body.if_not_exists != "create":
                raise
            record = await open_thread(sessions, me, thread_id)
    check_budget(record)  # a spent thread gets 429 now, not a run that fails
    strategy: Strategy = body.multitask_strategy
    run = AgentRun(
        session_of(sessions, record, me),
        served.assistant_id,
        strategy,
        modes,
        body.metadata or {},
    )
    if thread_id is None and body.on_completion != "keep":
        run.then = lambda: drop_thread(sessions, record.session_id, me)
    return await runs.start(run, graph_input)


def _location(run: AgentRun) -> dict[str, str]:
    return {"Content-Location": f"/threads/{run.thread_id}/runs/{run.run_id}"}


def _streamed(shared: Server, run: AgentRun) -> Response:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **_location(run)}
    return StreamingResponse(
        run.follow(shared.ping), media_type="text/event-stream", headers=headers
    )


async def _result(shared: Server, run: AgentRun) -> dict[str, Any]:
    """The thread's values once `run` is over, or its error as LangGraph's server gives it."""
    await run.done.wait()
    if run.error is not None:
        return {"__error__": run.error}
    return (
        run.values if run.values is not None else dict(await shared.sessions.values(run.thread_id))
    )


@runs_api.post(
    "/threads/{thread_id}/runs/stream", responses=STREAM, summary="Run on a thread; stream it"
)
async def stream(
    thread_id: SessionId, body: RunIn, me: Caller, shared: Shared, runs: Book, served: Served
) -> Response:
    run = await start(shared, runs, served, me, thread_id, body)
    return _streamed(shared, run)


@runs_api.post("/runs/stream", responses=STREAM, summary="Run on a new thread; stream it")
async def stream_threadless(
    body: RunIn, me: Caller, shared: Shared, runs: Book, served: Served
) -> Response:
    run = await start(shared, runs, served, me, None, body)
    return _streamed(shared, run)


@runs_api.post("/threads/{thread_id}/runs/wait", summary="Run on a thread; wait for its end")
async def wait(
    thread_id: SessionId, body: RunIn, me: Caller, shared: Shared, runs: Book, served: Served
) -> Response:
    run = await start(shared, runs, served, me, thread_id, body)
    return answer(await _result(shared, run), headers=_location(run))


@runs_api.post("/runs/wait", summary="Run on a new thread; wait for its end")
async def wait_threadless(
    body: RunIn, me: Caller, shared: Shared, runs: Book, served: Served
) -> Response:
    run = await start(shared, runs, served, me, None, body)
    return answer(await _result(shared, run), headers=_location(run))


@runs_api.post("/threads/{thread_id}/runs", summary="Start a run in the background")
async def create(
    thread_id: SessionId, body: RunIn, me: Caller, shared: Shared, runs: Book, served: Served
) -> Response:
    run = await start(shared, runs, served, me, thread_id, body)
    return answer(run.to_dict(), headers=_location(run))


@runs_api.get("/threads/{thread_id}/runs", summary="The thread's runs")
async def list_runs(
    thread_id: SessionId,
    me: Caller,
    shared: Shared,
    runs: Book,
    limit: int = Query(default=10, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> Response:
    await thread_record(shared.sessions, thread_id, me, "read")
    return answer([run.to_dict() for run in runs.of(thread_id)[offset : offset + limit]])


@runs_api.get("/threads/{thread_id}/runs/{run_id}", summary="Get a run")
async def get(
    thread_id: SessionId, run_id: str, me: Caller, shared: Shared, runs: Book
) -> Response:
    await thread_record(shared.sessions, thread_id, me, "read")
    return answer(runs.get(thread_id, run_id).to_dict())


@runs_api.get("/threads/{thread_id}/runs/{run_id}/join", summary="Wait for a run's end")
async def join(
    thread_id: SessionId, run_id: str, me: Caller, shared: Shared, runs: Book
) -> Response:
    """The thread's values once the run is over."""
    await thread_record(shared.sessions, thread_id, me, "read")
    return answer(await _result(shared, runs.get(thread_id, run_id)))


@runs_api.get(
    "/threads/{thread_id}/runs/{run_id}/stream", responses=STREAM, summary="Follow a run's stream"
)
async def join_stream(
    thread_id: SessionId, run_id: str, me: Caller, shared: Shared, runs: Book
) -> Response:
    """The run's stream from its start, then as it goes on."""
    await thread_record(shared.sessions, thread_id, me, "read")
    return _streamed(shared, runs.get(thread_id, run_id))


@runs_api.post(
    "/threads/{thread_id}/runs/{run_id}/cancel",
    status_code=202,
    responses={204: {"description": "Cancelled and over (`wait=1`)"}},
    summary="Cancel a run",
)
async def cancel(
    thread_id: SessionId,
    run_id: str,
    me: Caller,
    shared: Shared,
    runs: Book,
    wait: bool = Query(default=False),
    action: Literal["interrupt", "rollback"] = Query(default="interrupt"),
) -> Response:
    """Stops the run (`rollback`: and restores the state it began from)."""
    await thread_record(shared.sessions, thread_id, me, "send")
    await runs.cancel(runs.get(thread_id, run_id), rollback=action == "rollback", wait=wait)
    return Response(status_code=204 if wait else 202)
