"""The HTTP API on a real uvicorn server: sessions, SSE replies, history, audit, resume, metrics."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from accord.app import ApiError, Client
from accord.app.client import ServerEvent

Serve = Callable[..., str]


async def test_a_message_streams_typed_events_then_done(serve: Serve) -> None:
    async with Client(serve(), "alice-token") as alice:
        session = await alice.open()
        events = await alice.send(session["id"], "Hi, I'm Dana")

    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["usage", "done"]
    assert [e.id for e in events] == [str(n) for n in range(1, len(events) + 1)]
    support = "".join(
        e.data["text"] for e in events if e.kind == "token" and e.data["agent"] == "support"
    )
    assert support == "Support here: you said Hi, I'm Dana"
    handoff = next(e.data for e in events if e.kind == "handoff")
    assert (handoff["source"], handoff["target"]) == ("intake", "support")
    assert next(e.data for e in events if e.kind == "agent") == {"agent": "support"}
    # Support speaks only after the handoff and the agent change were announced.
    first_support_token = next(
        i for i, e in enumerate(events) if e.kind == "token" and e.data["agent"] == "support"
    )
    assert kinds.index("handoff") < kinds.index("agent") < first_support_token
    messages = [(e.data["agent"], e.data["text"]) for e in events if e.kind == "message"]
    assert messages == [
        ("intake", "Welcome! Support will take it from here."),
        ("support", "Support here: you said Hi, I'm Dana"),
    ]
    reply = events[-1].data["reply"]
    assert (reply["text"], reply["agent"], reply["session_id"]) == (
        "Support here: you said Hi, I'm Dana",
        "support",
        session["id"],
    )
    assert events[-2].data["usage"] == reply["usage"]
    assert reply["usage"]["model_calls"] == 2


async def test_history_list_get_and_audit_follow_the_conversation(serve: Serve) -> None:
    async with Client(serve(), "alice-token") as alice:
        session_id = (await alice.open())["id"]
        await alice.send(session_id, "Hi, I'm Dana")
        await alice.send(session_id, "Where is my card?")

        history = await alice.history(session_id)
        record = await alice.get(session_id)
        listed = await alice.sessions()
        trail = await alice.audit(session_id)

    assert [(m["role"], m["name"], m["text"]) for m in history] == [
        ("human", None, "Hi, I'm Dana"),
        ("ai", "intake", "Welcome! Support will take it from here."),
        ("ai", "support", "Support here: you said Hi, I'm Dana"),
        ("human", None, "Where is my card?"),
        ("ai", "support", "Support here: you said Where is my card?"),
    ]
    assert (record["owner"], record["agent"], record["status"]) == ("alice", "support", "open")
    assert record["usage"]["model_calls"] == 3
    assert [s["id"] for s in listed] == [session_id]
    assert Counter(e["kind"] for e in trail) == {
        "opened": 1,
        "message_in": 2,
        "handoff": 1,
        "message_out": 3,
        "step": 3,  # metrics on by default: `accord metrics --db` reads the server's sessions
    }
    assert {e["actor"] for e in trail} == {"alice"}


async def test_a_session_resumes_on_another_server(serve: Serve) -> None:
    first, second = serve(), serve()  # two servers, each with its own engine, one database
    async with Client(first, "alice-token") as one, Client(second, "alice-token") as two:
        session_id = (await one.open())["id"]
        await one.send(session_id, "Hi, I'm Dana")

        resumed = await two.resume(session_id)
        events = await two.send(session_id, "Still there?")
        history = await one.history(session_id)

    assert resumed["agent"] == "support"
    assert events[-1].data["reply"]["text"] == "Support here: you said Still there?"
    assert [m["text"] for m in history][-2:] == [
        "Still there?",
        "Support here: you said Still there?",
    ]


async def test_a_shared_scope_lets_a_role_read_but_not_send(serve: Serve) -> None:
    url = serve()
    async with (
        Client(url, "alice-token") as alice,
        Client(url, "carol-token") as carol,
        Client(url, "bob-token") as bob,
    ):
        session_id = (await alice.open(scope={"read": {"roles": ["auditor"]}}))["id"]
        await alice.send(session_id, "Hi")

        carol_sees = await carol.sessions()
        carol_reads = await carol.history(session_id)
        with pytest.raises(ApiError) as refused:
            await carol.send(session_id, "hi")
        with pytest.raises(ApiError) as hidden:
            await bob.get(session_id)
        bob_sees = await bob.sessions()
        trail = await alice.audit(session_id)

    assert [s["id"] for s in carol_sees] == [session_id]
    assert carol_sees[0]["scope"] == {"read": {"roles": ["auditor"], "users": []}}
    assert len(carol_reads) == 3
    assert (refused.value.status, refused.value.type) == (403, "NotAuthorized")
    assert (hidden.value.status, hidden.value.type) == (403, "NotAuthorized")
    assert bob_sees == []
    denied = [(e["actor"], e["details"]["action"]) for e in trail if e["kind"] == "denied"]
    assert denied == [("carol", "send"), ("bob", "read")]


async def test_an_ended_session_stays_readable_and_refuses_messages(serve: Serve) -> None:
    async with Client(serve(), "alice-token") as alice:
        session_id = (await alice.open())["id"]
        await alice.send(session_id, "Hi")
        ended = await alice.end(session_id)
        with pytest.raises(ApiError) as refused:
            await alice.send(session_id, "hi again")
        closed = await alice.sessions(status="closed")
        history = await alice.history(session_id)

    assert ended["status"] == "closed"
    assert (refused.value.status, refused.value.type) == (409, "SessionClosed")
    assert [s["id"] for s in closed] == [session_id]
    assert len(history) == 3


async def test_me_health_and_metrics(serve: Serve) -> None:
    url = serve()
    async with Client(url, "alice-token") as alice:
        me = await alice.me()
        await alice.send((await alice.open())["id"], "Hi")
    async with httpx.AsyncClient(base_url=url) as anonymous:
        health = await anonymous.get("/healthz")
        refused = await anonymous.get("/metrics")
        ops = {"Authorization": "Bearer ops-token"}
        metrics = await anonymous.get("/metrics", headers=ops)
        aggregates = await anonymous.get("/metrics", headers={"Authorization": "Bearer bob-token"})

    # Behind a token; only operators see the per-session series (they name session ids).
    assert refused.status_code == 401
    assert aggregates.status_code == 200
    assert "accord_agent_steps_total" in aggregates.text
    assert "accord_session_" not in aggregates.text

    assert me == {"id": "alice", "roles": ["support"]}
    assert health.json() == {"status": "ok"}
    assert metrics.headers["content-type"].startswith("text/plain")
    lines = metrics.text.splitlines()
    assert 'accord_stream_runs_total{outcome="done"} 1.0' in lines
    assert "accord_stream_runs_in_progress 0.0" in lines
    assert 'accord_stream_events_total{kind="handoff"} 1.0' in lines
    opened = 'accord_http_requests_total{method="POST",route="/api/sessions",status="201"} 1.0'
    assert opened in lines
    assert any(line.startswith("process_cpu_seconds_total") for line in lines)
    # The reliability figures of accord.agents, per agent and per session.
    assert 'accord_agent_steps_total{agent="support",outcome="ok"} 1.0' in lines
    assert 'accord_agent_uptime{agent="intake"} 1.0' in lines
    assert any(line.startswith("accord_session_completion_rate{session=") for line in lines)


async def test_the_page_and_the_openapi_schema_are_served(serve: Serve) -> None:
    async with httpx.AsyncClient(base_url=serve()) as http:
        page = await http.get("/")
        script = await http.get("/page/app.js")
        schema = (await http.get("/openapi.json")).json()

    assert page.status_code == 200
    assert 'src="/page/app.js"' in page.text
    assert "readEvents" in script.text
    send = schema["paths"]["/api/sessions/{session_id}/messages"]["post"]
    assert "text/event-stream" in send["responses"]["200"]["content"]
    assert {"401", "403", "404", "409", "413", "422", "429"} <= set(send["responses"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_a_quiet_stream_gets_keep_alive_comments(serve: Serve) -> None:
    url = serve(latency=1.0, ping=0.2)  # support thinks for a second; pings every 0.2 s
    async with Client(url, "alice-token") as alice:
        session_id = (await alice.open())["id"]
        async with alice.http.stream(
            "POST", f"/api/sessions/{session_id}/messages", json={"text": "Hi"}
        ) as response:
            lines = [line async for line in response.aiter_lines()]

    assert ": ping" in lines
    assert "event: done" in lines


async def test_a_client_that_leaves_mid_reply_still_gets_it_stored(serve: Serve) -> None:
    url = serve(latency=0.5)
    async with Client(url, "alice-token") as alice:
        session_id = (await alice.open())["id"]
        stream = alice.stream(session_id, "Hi")
        async for event in stream:
            if event.kind == "handoff":
                break
        await stream.aclose()  # the connection closes before support answers

        for _ in range(200):  # the run goes on without the client
            history = await alice.history(session_id)
            if len(history) == 3:
                break
            await asyncio.sleep(0.05)
        after = await _send_when_free(alice, session_id, "Back again")

    assert [m["text"] for m in history][-1] == "Support here: you said Hi"
    assert after[-1].data["reply"]["text"] == "Support here: you said Back again"


async def _send_when_free(client: Client, session_id: str, text: str) -> list[ServerEvent]:
    """Sends once the session's last run released it (just after its history is written)."""
    for _ in range(200):
        try:
            return await client.send(session_id, text)
        except ApiError as error:
            if error.status != 409:
                raise
        await asyncio.sleep(0.05)
    raise AssertionError(f"session {session_id} stayed busy")


async def test_two_servers_share_sessions_on_every_database(serve: Serve, saver_url: str) -> None:
    first, second = serve(database=saver_url), serve(database=saver_url)
    async with Client(first, "alice-token") as one, Client(second, "bob-token") as bob:
        session_id = (await one.open(scope={"send": {"users": ["bob"]}}))["id"]
        await one.send(session_id, "Hi")
        events = await bob.send(session_id, "Bob here")
        history = await one.history(session_id)

    assert events[-1].data["reply"]["text"] == "Support here: you said Bob here"
    assert [m["text"] for m in history if m["role"] == "human"] == ["Hi", "Bob here"]


async def test_restore_goes_back_to_an_earlier_moment(serve: Serve) -> None:
    url = serve()
    async with Client(url, "alice-token") as alice, Client(url, "carol-token") as carol:
        session_id = (await alice.open(scope={"read": {"roles": ["auditor"]}}))["id"]
        before_anything = datetime.now(UTC).isoformat()
        await alice.send(session_id, "Hi")
        after_first = datetime.now(UTC).isoformat()
        await alice.send(session_id, "Second question")

        with pytest.raises(ApiError) as refused:
            await carol.restore(session_id, at=after_first)
        with pytest.raises(ApiError) as nothing:
            await alice.restore(session_id, at=before_anything)
        with pytest.raises(ApiError) as neither:
            await alice.restore(session_id)
        restored = await alice.restore(session_id, at=after_first)
        history = await alice.history(session_id)
        again = await alice.send(session_id, "Take two")

    assert (refused.value.status, refused.value.type) == (403, "NotAuthorized")
    assert (nothing.value.status, nothing.value.type) == (404, "NothingToRestore")
    assert (neither.value.status, neither.value.type) == (422, "InvalidRequest")
    assert restored["checkpoint_id"]
    assert [m["text"] for m in history if m["role"] == "human"] == ["Hi"]
    assert again[-1].data["reply"]["text"] == "Support here: you said Take two"
