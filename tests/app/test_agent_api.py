"""The Agent Server API, driven by LangGraph's own clients (`langgraph-sdk`, `RemoteGraph`)
against real uvicorn servers on 127.0.0.1, with scripted teams (no model)."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

import httpx
import pytest
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_stream_writer
from langgraph.graph import START, StateGraph, add_messages
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import interrupt
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)

from accord.evals import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
Serve = Callable[..., str]
ALICE, BOB = "alice-token", "bob-token"
HI: Any = {"messages": [{"role": "user", "content": "Hi there"}]}


def _said(text: str) -> Any:
    return {"messages": [{"role": "user", "content": text}]}


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def progress_graph() -> Any:
    """A plain LangGraph graph whose node writes to the `custom` stream."""

    def answer(state: Chat) -> dict[str, Any]:
        write = get_stream_writer()
        write({"progress": 0.5})
        return {"messages": [AIMessage("done", name="worker")]}

    builder = StateGraph(Chat)
    builder.add_node("worker", answer)
    builder.add_edge(START, "worker")
    return builder.compile()


async def test_a_thread_is_a_session_streamed_in_every_mode(serve: Serve) -> None:
    url = serve()
    async with get_client(url=url, api_key=ALICE) as client:
        [assistant] = await client.assistants.search()
        got = await client.assistants.get(assistant["graph_id"])
        assert got["assistant_id"] == assistant["assistant_id"]
        schemas: Any = await client.assistants.get_schemas(assistant["assistant_id"])
        assert "messages" in schemas["input_schema"]["properties"]
        thread = await client.threads.create()
        parts = [
            part
            async for part in client.runs.stream(
                thread["thread_id"],
                assistant["assistant_id"],
                input=HI,
                stream_mode=["values", "updates", "messages-tuple"],
            )
        ]
        kinds = [part.event for part in parts]
        assert kinds[0] == "metadata"
        assert {"values", "updates", "messages"} <= set(kinds)
        assert {node for p in parts if p.event == "updates" for node in p.data} >= {"support"}
        last = [p.data for p in parts if p.event == "values"][-1]
        texts = [m["content"] for m in last["messages"]]
        assert texts == [
            "Hi there",
            "Welcome! Support will take it from here.",
            "Support here: you said Hi there",
        ]
        # Token by token, the reply as the user reads it (a JSON answer's `reply`, no JSON).
        support = [
            c
            for c, meta in (p.data for p in parts if p.event == "messages")
            if meta["langgraph_node"] == "support" and c["type"] == "AIMessageChunk"
        ]
        assert len(support) > 1
        assert "".join(c["content"] for c in support) == "Support here: you said Hi there"
        state: Any = await client.threads.get_state(thread["thread_id"])
        assert state["values"]["messages"][-1]["name"] == "support"
        found: Any = await client.threads.get(thread["thread_id"])
        assert found["status"] == "idle"
        assert found["metadata"]["owner"] == "alice"
        history = await client.threads.get_history(thread["thread_id"], limit=3)
        assert len(history) == 3
        assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
        assert history[1]["checkpoint"] == history[0]["parent_checkpoint"]
        # The thread is a session: accord's own API audits the run under the token's user.
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": ALICE}) as raw:
            audit = (
                await raw.get(
                    f"/api/sessions/{thread['thread_id']}/audit",
                    headers={"Authorization": f"Bearer {ALICE}"},
                )
            ).json()
        kinds = [event["kind"] for event in audit]
        assert kinds[0] == "opened"
        assert {"message_in", "message_out"} <= set(kinds)
        assert {event["actor"] for event in audit} == {"alice"}


def test_langgraph_json_names_the_example_teams() -> None:
    graphs = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
    assert set(graphs) == set(EXAMPLES)
    for name, where in graphs.items():
        path, _, attr = where.partition(":")
        build = EXAMPLES[name].build
        assert (build.__name__, Path(inspect.getfile(build))) == (attr, (ROOT / path).resolve())


async def test_custom_stream_mode_relays_what_a_node_writes(serve: Serve) -> None:
    url = serve(progress_graph())
    async with get_client(url=url, api_key=ALICE) as client:
        thread = await client.threads.create()
        parts = [
            (part.event, part.data)
            async for part in client.runs.stream(
                thread["thread_id"], "LangGraph", input=_said("go"), stream_mode="custom"
            )
        ]
    assert parts[1:] == [("custom", {"progress": 0.5})]


async def test_remote_graph_invokes_streams_and_reads_state(serve: Serve) -> None:
    url = serve()
    async with get_client(url=url, api_key=ALICE) as client:
        await _remote_graph_round(RemoteGraph("handoff", client=client, sync_client=None))
    # The sync client too (the server runs in its own thread).
    with get_sync_client(url=url, api_key=ALICE) as sync:
        remote = RemoteGraph("handoff", sync_client=sync)
        again: Any = await asyncio.to_thread(remote.invoke, _said("Sync now"), CONFIG)
    assert again["messages"][-1]["content"] == "Support here: you said Sync now"


CONFIG: Any = {"configurable": {"thread_id": "9f0c2a76-1111-4b7e-8d25-5c1f7b0e0d11"}}


async def _remote_graph_round(remote: RemoteGraph) -> None:
    config = CONFIG
    # RemoteGraph creates the thread on first use (`if_not_exists="create"`).
    out: Any = await remote.ainvoke(HI, config)
    assert out["messages"][-1]["content"] == "Support here: you said Hi there"
    chunks = [c async for c in remote.astream(_said("And again"), config, stream_mode="updates")]
    assert any("support" in chunk for chunk in chunks)
    state = await remote.aget_state(config)
    assert [m["content"] for m in state.values["messages"]][-2:] == [
        "And again",
        "Support here: you said And again",
    ]
    assert state.next == ()
    past = [s async for s in remote.aget_state_history(config, limit=2)]
    assert (
        past[0].config["configurable"]["checkpoint_id"]
        == state.config["configurable"]["checkpoint_id"]
    )
    drawing = await remote.aget_graph()
    assert {"intake", "support"} <= set(drawing.nodes)


async def test_unknown_ids_and_bad_requests_get_the_api_error_shape(serve: Serve) -> None:
    url = serve()
    async with get_client(url=url, api_key=ALICE) as client:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        with pytest.raises(NotFoundError) as unknown:
            await client.assistants.get("no-such-assistant")
        assert "no-such-assistant" in unknown.value.message
        with pytest.raises(NotFoundError):
            await client.threads.get("no-such-thread")
        with pytest.raises(NotFoundError):
            await client.runs.get(tid, "no-such-run")
        # `runs.wait` raises httpx's own error (the sdk reconnects on it); the status is the API's.
        with pytest.raises(httpx.HTTPStatusError, match="404"):
            await client.runs.wait("no-such-thread", "handoff", input=HI)
        with pytest.raises(NotFoundError):
            await client.runs.create(tid, "no-such-assistant", input=HI)
        with pytest.raises(UnprocessableEntityError, match="stream_mode"):
            await client.runs.create(tid, "handoff", input=HI, stream_mode="debug")
        with pytest.raises(UnprocessableEntityError, match="interrupt_before") as breakpoint:
            await client.runs.create(tid, "handoff", input=HI, interrupt_before=["support"])
        assert "call interrupt() in the node" in breakpoint.value.message
        with pytest.raises(UnprocessableEntityError, match="interrupt_after"):
            await client.runs.create(tid, "handoff", input=HI, interrupt_after="*")
        with pytest.raises(ConflictError):
            await client.threads.create(thread_id=tid)
    async with httpx.AsyncClient(base_url=url) as raw:
        missing = await raw.get("/threads/nope", headers={"x-api-key": ALICE})
        assert (missing.status_code, list(missing.json())) == (404, ["detail"])
        refused = await raw.post("/threads", json={})
        assert (refused.status_code, list(refused.json())) == (401, ["detail"])
    async with get_client(url=url, api_key="wrong") as stranger:
        with pytest.raises(AuthenticationError):
            await stranger.threads.search()
    async with get_client(url=url, api_key=BOB) as bob:
        with pytest.raises(PermissionDeniedError):
            await bob.threads.get(tid)
        with pytest.raises(PermissionDeniedError):
            await bob.runs.create(tid, "handoff", input=HI)
        assert await bob.threads.search() == []


async def test_wait_join_cancel_list_search_and_delete(serve: Serve) -> None:
    url = serve(latency=0.3)
    async with get_client(url=url, api_key=ALICE) as client:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        values: Any = await client.runs.wait(tid, "handoff", input=HI)
        assert values["messages"][-1]["content"] == "Support here: you said Hi there"
        run = await client.runs.create(tid, "handoff", input=_said("Slowly"))
        assert (await client.threads.get(tid))["status"] == "busy"
        joined: Any = await client.runs.join(tid, run["run_id"])
        assert joined["messages"][-1]["content"] == "Support here: you said Slowly"
        assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"
        stopped = await client.runs.create(tid, "handoff", input=_said("Never mind"))
        await client.runs.cancel(tid, stopped["run_id"], wait=True)
        assert (await client.runs.get(tid, stopped["run_id"]))["status"] == "interrupted"
        listed = await client.runs.list(tid)
        assert [r["run_id"] for r in listed][:2] == [stopped["run_id"], run["run_id"]]
        [found] = await client.threads.search(ids=[tid])
        assert found["status"] == "idle"
        assert [t["thread_id"] for t in await client.threads.search(status="busy")] == []
        threadless: Any = await client.runs.wait(None, "handoff", input=_said("Passing by"))
        assert threadless["messages"][-1]["content"] == "Support here: you said Passing by"
        streamed = [p.event async for p in client.runs.stream(None, "handoff", input=HI)]
        assert streamed[0] == "metadata"
        assert streamed[-1] == "values"
        # Threadless runs' threads are deleted when they end.
        assert [t["thread_id"] for t in await client.threads.search()] == [tid]
        await client.threads.delete(tid)
        with pytest.raises(NotFoundError):
            await client.threads.get(tid)


async def test_multitask_strategies_on_a_busy_thread(serve: Serve) -> None:
    url = serve(latency=0.5)
    async with get_client(url=url, api_key=ALICE) as client:
        tid = (await client.threads.create())["thread_id"]
        first = await client.runs.create(tid, "handoff", input=_said("one"))
        with pytest.raises(ConflictError):
            await client.runs.create(
                tid, "handoff", input=_said("refused"), multitask_strategy="reject"
            )
        queued = await client.runs.create(
            tid, "handoff", input=_said("two"), multitask_strategy="enqueue"
        )
        values: Any = await client.runs.join(tid, queued["run_id"])
        said = [m["content"] for m in values["messages"] if m["type"] == "human"]
        assert said == ["one", "two"]
        assert (await client.runs.get(tid, first["run_id"]))["status"] == "success"

        doomed = await client.runs.create(tid, "handoff", input=_said("three"))
        await asyncio.sleep(0.1)
        winner = await client.runs.create(
            tid, "handoff", input=_said("four"), multitask_strategy="interrupt"
        )
        values = await client.runs.join(tid, winner["run_id"])
        assert (await client.runs.get(tid, doomed["run_id"]))["status"] == "interrupted"
        said = [m["content"] for m in values["messages"] if m["type"] == "human"]
        assert said == ["one", "two", "three", "four"]  # an interrupted run's input stays

        undone = await client.runs.create(tid, "handoff", input=_said("five"))
        await asyncio.sleep(0.1)
        kept = await client.runs.create(
            tid, "handoff", input=_said("six"), multitask_strategy="rollback"
        )
        values = await client.runs.join(tid, kept["run_id"])
        said = [m["content"] for m in values["messages"] if m["type"] == "human"]
        assert said == ["one", "two", "three", "four", "six"]  # a rolled-back run is undone
        with pytest.raises(NotFoundError):
            await client.runs.get(tid, undone["run_id"])


async def test_a_thread_keeps_its_session_budget(serve: Serve) -> None:
    url = serve()
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ALICE}"}) as raw:
        opened = await raw.post("/api/sessions", json={"limits": {"model_calls": 1}})
        tid = opened.json()["id"]
    async with get_client(url=url, api_key=ALICE) as client:
        with pytest.raises(Exception, match="BudgetExceeded"):
            await client.runs.wait(tid, "handoff", input=HI)  # the limit stops it mid-run
        runs_before = len(await client.runs.list(tid))
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": ALICE}) as raw:
        # Spent: the next run is refused up front with 429, and none is started.
        for path in (f"/threads/{tid}/runs/stream", f"/threads/{tid}/runs/wait"):
            body = {"assistant_id": "handoff", "input": _said("more")}
            refused = await raw.post(path, json=body)
            assert refused.status_code == 429, refused.text
            assert "model_calls" in refused.json()["detail"]
    async with get_client(url=url, api_key=ALICE) as client:
        assert len(await client.runs.list(tid)) == runs_before


async def test_runs_are_counted_in_the_servers_metrics(serve: Serve) -> None:
    url = serve()
    async with get_client(url=url, api_key=ALICE) as client:
        thread = await client.threads.create()
        await client.runs.wait(thread["thread_id"], "handoff", input=HI)
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": "ops-token"}) as raw:
        text = (await raw.get("/metrics", headers={"Authorization": "Bearer ops-token"})).text
    assert 'accord_stream_runs_total{outcome="done"} 1.0' in text
    assert 'route="/threads/{thread_id}/runs/wait"' in text


def asking_graph() -> Any:
    """A plain LangGraph graph that asks a person before it answers."""

    def ask(state: Chat) -> dict[str, Any]:
        answer = interrupt("may I?")
        return {"messages": [AIMessage(f"answered {answer}", name="asker")]}

    builder = StateGraph(Chat)
    builder.add_node("asker", ask)
    builder.add_edge(START, "asker")
    return builder.compile()


async def test_a_command_resume_answers_the_question_through_the_session(serve: Serve) -> None:
    url = serve(asking_graph())
    async with get_client(url=url, api_key=ALICE) as client:
        thread = await client.threads.create()
        thread_id = thread["thread_id"]
        await client.runs.wait(thread_id, "LangGraph", input=HI)
        assert (await client.threads.get(thread_id))["status"] == "interrupted"
        out: Any = await client.runs.wait(thread_id, "LangGraph", command={"resume": "yes"})
        assert out["messages"][-1]["content"] == "answered yes"
        assert (await client.threads.get(thread_id))["status"] == "idle"
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {ALICE}"}
    ) as http:
        audit = (await http.get(f"/api/sessions/{thread_id}/audit")).json()
    answered = [event for event in audit if event["kind"] == "answered"]
    assert [event["actor"] for event in answered] == ["alice"]
