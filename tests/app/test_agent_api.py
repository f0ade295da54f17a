"""The Agent Server API, driven by LangGraph's own clients (`langgraph-sdk`, `RemoteGraph`)
against a real uvicorn server on 127.0.0.1, with scripted teams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langgraph.pregel.remote import RemoteGraph
from langgraph_sdk import get_client
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

ALICE = "alice-token"


async def test_a_thread_is_a_session_streamed_in_every_mode(serve: Callable[..., str]) -> None:
    url = serve()
    client = get_client(url=url, api_key=ALICE)
    [assistant] = await client.assistants.search()
    assert (await client.assistants.get(assistant["graph_id"]))["assistant_id"] == assistant[
        "assistant_id"
    ]
    thread = await client.threads.create()
    parts = [
        part
        async for part in client.runs.stream(
            thread["thread_id"],
            assistant["assistant_id"],
            input={"messages": [{"role": "user", "content": "Hi there"}]},
            stream_mode=["values", "updates", "messages-tuple", "custom"],
        )
    ]
    kinds = [part.event for part in parts]
    assert kinds[0] == "metadata"
    assert {"values", "updates", "messages"} <= set(kinds)
    last = [p.data for p in parts if p.event == "values"][-1]
    texts = [m["content"] for m in last["messages"]]
    assert texts[0] == "Hi there"
    assert texts[-1] == "Support here: you said Hi there"
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["name"] == "support"
    found = await client.threads.get(thread["thread_id"])
    assert found["status"] == "idle"
    assert found["metadata"]["owner"] == "alice"
    history = await client.threads.get_history(thread["thread_id"], limit=3)
    assert len(history) == 3
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
