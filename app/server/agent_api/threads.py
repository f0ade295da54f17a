"""Threads of the Agent Server API: each is an accord session (its scope, budget, lease, audit).

A thread's creator owns the session; the scope decides who else may read or run it, as on
accord's own routes. accord keeps no free-form thread metadata: a thread's metadata is what
accord knows (`owner`, `graph_id`, `assistant_id`), and searches filter on those.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot
from pydantic import BaseModel, ConfigDict, Field

from accord.app.errors import server_extra
from accord.app.server.agent_api.assistants import Assistant, Served
from accord.app.server.agent_api.book import RunBook
from accord.app.server.agent_api.wire import ERRORS, AgentRoute, Caller, answer, app_state
from accord.app.server.routes import Server, SessionId, Shared
from accord.app.server.schemas import PRINTABLE
from accord.graphs import Session, Sessions, User
from accord.persistence import AuditEvent, SessionNotFound, SessionRecord

with server_extra():
    from fastapi import APIRouter, Depends
    from fastapi.responses import Response

DELETED = "deleted"
"""The status of a deleted thread's session: its checkpoints are gone, its audit trail kept."""


Book = Annotated[RunBook, Depends(app_state("run_book"))]
threads_api = APIRouter(route_class=AgentRoute, tags=["Agent Server API"], responses=ERRORS)


class ThreadIn(BaseModel):
    """`POST /threads`."""

    model_config = ConfigDict(extra="ignore")

    thread_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=PRINTABLE)
    metadata: dict[str, Any] | None = Field(
        default=None, max_length=0, description="accord keeps no thread metadata: leave it empty"
    )
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadSearch(BaseModel):
    """`POST /threads/search`."""

    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_order: Literal["asc", "desc"] = "desc"


class HistoryIn(BaseModel):
    """`POST /threads/{id}/history`."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=10, ge=1, le=1000)
    before: dict[str, Any] | str | None = None
    checkpoint: dict[str, Any] | None = None


class CheckpointIn(BaseModel):
    """`POST /threads/{id}/state/checkpoint`."""

    model_config = ConfigDict(extra="ignore")

    checkpoint: dict[str, Any]


async def thread_record(sessions: Sessions, thread_id: SessionId, user: User, action: str) -> Any:
    """The thread's session record, if `user` may do `action` (a deleted one is not found)."""
    record = await sessions.authorize(thread_id, user, action)  # type: ignore[arg-type]
    if record.status == DELETED:
        raise SessionNotFound(f"thread {thread_id!r} not found")
    return record


async def open_thread(sessions: Sessions, user: User, thread_id: str | None) -> SessionRecord:
    """A new thread (session) owned by `user`, with the id the client chose if any."""
    return await sessions.create(user, None, None, None, thread_id)


async def describe(
    shared_sessions: Sessions, runs: RunBook, served: Assistant, record: SessionRecord
) -> dict[str, Any]:
    """The thread as the API shows it: status, values and interrupts from its state."""
    snapshot = await shared_sessions.graph.aget_state(_config(record.session_id))
    waiting = [{"value": i.value, "id": i.id} for i in snapshot.interrupts]
    busy = await runs.busy(record.session_id)
    return {
        "thread_id": record.session_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "metadata": {
            "owner": record.owner,
            "graph_id": served.graph_id,
            "assistant_id": served.assistant_id,
        },
        "status": "busy" if busy else "interrupted" if waiting else "idle",
        "values": snapshot.values,
        "interrupts": {
            t.id: [{"value": i.value, "id": i.id} for i in t.interrupts]
            for t in snapshot.tasks
            if t.interrupts
        },
        "config": {},
    }


@threads_api.post("/threads", summary="Create a thread")
async def create(
    thread: ThreadIn, me: Caller, shared: Shared, runs: Book, served: Served
) -> Response:
    """A new session owned by the caller; an id the client chose that exists is a 409, or the
    existing thread with `if_exists="do_nothing"` (if the caller may read it)."""
    sessions = shared.sessions
    if thread.thread_id is not None:
        try:
            record = await thread_record(sessions, thread.thread_id, me, "read")
        except SessionNotFound:
            pass
        else:
            if thread.if_exists == "raise":
                return answer({"detail": f"thread {thread.thread_id!r} already exists"}, 409)
            return answer(await describe(sessions, runs, served, record))
    record = await open_thread(sessions, me, thread.thread_id)
    return answer(await describe(sessions, runs, served, record))


@threads_api.post("/threads/search", summary="Search threads")
async def search(
    query: ThreadSearch, me: Caller, shared: Shared, runs: Book, served: Served
) -> Response:
    """The threads the caller may read, newest first (`sort_order="asc"`: oldest first)."""
    records = [r for r in await shared.sessions.alist(me) if r.status != DELETED]
    if query.ids is not None:
        records = [r for r in records if r.session_id in query.ids]
    records.sort(key=lambda r: r.created_at, reverse=query.sort_order == "desc")
    found = []
    for record in records:
        thread = await describe(shared.sessions, runs, served, record)
        wanted = query.metadata or {}
        if all(thread["metadata"].get(k) == v for k, v in wanted.items()) and (
            query.status in (None, thread["status"])
        ):
            found.append(thread)
    return answer(found[query.offset : query.offset + query.limit])


@threads_api.get("/threads/{thread_id}", summary="Get a thread")
async def get(
    thread_id: SessionId, me: Caller, shared: Shared, runs: Book, served: Served
) -> Response:
    record = await thread_record(shared.sessions, thread_id, me, "read")
    return answer(await describe(shared.sessions, runs, served, record))


@threads_api.delete("/threads/{thread_id}", status_code=204, summary="Delete a thread")
async def delete(thread_id: SessionId, me: Caller, shared: Shared, runs: Book) -> Response:
    """Cancels the thread's runs and deletes its checkpoints; the session is marked deleted
    and its audit trail kept (append-only). Needs the scope's restore access."""
    sessions = shared.sessions
    await thread_record(sessions, thread_id, me, "restore")
    for run in runs.active(thread_id):
        await runs.cancel(run, rollback=False, wait=True)
    await drop_thread(sessions, thread_id, me)
    return Response(status_code=204)


async def drop_thread(sessions: Sessions, thread_id: str, user: User) -> None:
    """Deletes the thread's checkpoints under its lease and marks its session deleted
    (audited; a run in progress makes it `SessionBusy`)."""
    holder = f"delete:{thread_id}"
    await sessions.journal.abegin(thread_id, holder, sessions.lease_ttl, wait=sessions.wait)
    changes: dict[str, Any] = {}
    try:
        await sessions.saver.adelete_thread(thread_id)
        changes = {"status": DELETED}
    finally:
        done = AuditEvent(thread_id, DELETED if changes else "error", user.id, None, {})
        await sessions.journal.aend(thread_id, holder, changes=changes, events=[done])


@threads_api.get("/threads/{thread_id}/state", summary="The thread's state")
async def state(thread_id: SessionId, me: Caller, shared: Shared) -> Response:
    return await _state(shared, me, thread_id, None)


@threads_api.get("/threads/{thread_id}/state/{checkpoint_id}", summary="A past state")
async def state_at(
    thread_id: SessionId, checkpoint_id: str, me: Caller, shared: Shared
) -> Response:
    return await _state(shared, me, thread_id, checkpoint_id)


@threads_api.post("/threads/{thread_id}/state/checkpoint", summary="A past state")
async def state_of(
    thread_id: SessionId, body: CheckpointIn, me: Caller, shared: Shared
) -> Response:
    return await _state(shared, me, thread_id, body.checkpoint.get("checkpoint_id"))


async def _state(shared: Server, me: User, thread_id: str, checkpoint_id: str | None) -> Response:
    await thread_record(shared.sessions, thread_id, me, "read")
    snapshot = await shared.sessions.graph.aget_state(_config(thread_id, checkpoint_id))
    return answer(thread_state(snapshot, thread_id))


@threads_api.post("/threads/{thread_id}/history", summary="The thread's past states")
async def history(thread_id: SessionId, query: HistoryIn, me: Caller, shared: Shared) -> Response:
    """Its states, newest first (`before`: older than that checkpoint)."""
    await thread_record(shared.sessions, thread_id, me, "read")
    before = query.before.get("checkpoint_id") if isinstance(query.before, dict) else query.before
    found = [
        thread_state(snapshot, thread_id)
        async for snapshot in shared.sessions.graph.aget_state_history(
            _config(thread_id),
            limit=query.limit,
            before=_config(thread_id, before) if before else None,
        )
    ]
    return answer(found)


def thread_state(snapshot: StateSnapshot, thread_id: str) -> dict[str, Any]:
    """A `StateSnapshot` as the API's `ThreadState`."""
    parent = snapshot.parent_config
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "checkpoint": _checkpoint(snapshot.config, thread_id),
        "metadata": snapshot.metadata or {},
        "created_at": snapshot.created_at,
        "parent_checkpoint": _checkpoint(parent, thread_id) if parent else None,
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "error": repr(task.error) if task.error else None,
                "interrupts": list(task.interrupts),
                "checkpoint": None,
                "state": None,
                "result": task.result,
            }
            for task in snapshot.tasks
        ],
        "interrupts": list(snapshot.interrupts),
    }


def session_of(sessions: Sessions, record: SessionRecord, user: User) -> Session:
    """A handle on the thread's session for `user`."""
    return Session(sessions, record, user)


def _checkpoint(config: RunnableConfig | None, thread_id: str) -> dict[str, Any]:
    configurable = (config or {}).get("configurable", {})
    return {
        "thread_id": thread_id,
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def _config(thread_id: SessionId, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable = {"thread_id": thread_id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}
