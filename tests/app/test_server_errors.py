"""Bad requests get clear 4xx JSON errors, never a 500 or a broken session."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from accord.app import ApiError, Client

Serve = Callable[..., str]
ALICE = {"Authorization": "Bearer alice-token"}
JSON = {"Content-Type": "application/json"}


def _error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["message"]
    return response.status_code, body["error"]["type"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YWxpY2U6eA=="}],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_a_missing_or_wrong_token_gets_401_and_nothing_else(
    serve: Serve, headers: dict[str, str]
) -> None:
    url = serve()
    async with Client(url, "alice-token") as alice:
        session_id = (await alice.open())["id"]
        await alice.send(session_id, "my secret plan")
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        answers = [
            await http.get("/api/sessions"),
            await http.get(f"/api/sessions/{session_id}"),
            await http.get(f"/api/sessions/{session_id}/messages"),
            await http.post(f"/api/sessions/{session_id}/messages", json={"text": "hi"}),
            await http.post("/api/sessions", json={}),
        ]

    for answer in answers:
        assert _error(answer) == (401, "Unauthorized")
        assert answer.headers["www-authenticate"] == "Bearer"
        assert session_id not in answer.text
        assert "secret" not in answer.text


async def test_unknown_sessions_get_404(serve: Serve) -> None:
    async with httpx.AsyncClient(base_url=serve(), headers=ALICE) as http:
        answers = [
            await http.get("/api/sessions/no-such-session"),
            await http.get("/api/sessions/no-such-session/messages"),
            await http.get("/api/sessions/no-such-session/audit"),
            await http.post("/api/sessions/no-such-session/resume"),
            await http.post("/api/sessions/no-such-session/end"),
            await http.post("/api/sessions/no-such-session/messages", json={"text": "hi"}),
        ]
    assert {_error(a) for a in answers} == {(404, "SessionNotFound")}


async def test_bad_bodies_get_422_or_413_and_the_session_still_works(serve: Serve) -> None:
    url = serve()
    async with Client(url, "alice-token") as alice:
        session_id = (await alice.open())["id"]
    path = f"/api/sessions/{session_id}/messages"

    async def chunked() -> httpx.AsyncByteStream:  # type: ignore[misc]
        for _ in range(100):
            yield b"x" * 1000

    async with httpx.AsyncClient(base_url=url, headers=ALICE) as http:
        malformed = await http.post(path, content=b'{"text": "hi', headers=JSON)
        not_json = await http.post(path, content=b"hello")
        too_long = await http.post(path, json={"text": "x" * 8001})
        blank = await http.post(path, json={"text": "   "})
        missing = await http.post(path, json={})
        extra = await http.post(path, json={"text": "hi", "agent": "root"})
        huge = await http.post(path, content=b"x" * 70_000, headers=JSON)
        streamed = await http.post(path, content=chunked(), headers=JSON)
        bad_limits = await http.post("/api/sessions", json={"limits": {"tokens": -5}})
        bad_scope = await http.post("/api/sessions", json={"scope": {"delete": {}}})

    assert _error(malformed) == (422, "InvalidRequest")
    assert "not valid JSON" in malformed.json()["error"]["message"]
    assert "the message is empty: say something" in blank.json()["error"]["message"]
    for answer in (not_json, blank, missing, extra, bad_limits, bad_scope):
        assert _error(answer) == (422, "InvalidRequest")
    assert _error(too_long) == (422, "InvalidRequest")
    assert "at most 8000 characters" in too_long.json()["error"]["message"]
    assert _error(huge) == (413, "PayloadTooLarge")
    assert _error(streamed) == (413, "PayloadTooLarge")
    async with Client(url, "alice-token") as alice:
        events = await alice.send(session_id, "Hi")
        assert events[-1].kind == "done"
        assert len(await alice.history(session_id)) == 3


async def test_a_second_send_while_a_run_is_going_gets_409(serve: Serve) -> None:
    url = serve(latency=1.0)  # support takes a second to answer
    async with Client(url, "alice-token") as alice:
        session_id = (await alice.open())["id"]
        first = alice.stream(session_id, "Hi")
        seen = [await anext(first)]
        while seen[-1].kind != "handoff":  # the run holds the session's lease by now
            seen.append(await anext(first))

        with pytest.raises(ApiError) as busy:
            await alice.send(session_id, "Hello?")
        seen += [event async for event in first]
        after = await alice.send(session_id, "Now?")
        history = await alice.history(session_id)

    assert (busy.value.status, busy.value.type) == (409, "SessionBusy")
    # What an HTTP client can do, not the Python API's `wait=`, nor the server's host name.
    assert busy.value.message == (
        f"session {session_id!r} is busy: a turn runs on it now; send again once it has ended"
    )
    assert seen[-1].data["reply"]["text"] == "Support here: you said Hi"
    assert after[-1].data["reply"]["text"] == "Support here: you said Now?"
    assert [m["text"] for m in history if m["role"] == "human"] == ["Hi", "Now?"]


async def test_a_budget_spent_mid_run_is_an_error_event_then_429(serve: Serve) -> None:
    async with Client(serve(), "alice-token") as alice:
        session_id = (await alice.open(limits={"model_calls": 1}))["id"]
        events = await alice.send(session_id, "Hi")
        with pytest.raises(ApiError) as spent:
            await alice.send(session_id, "Hi again")
        history = await alice.history(session_id)
        record = await alice.get(session_id)

    error = events[-1]
    assert error.kind == "error"
    assert (error.data["type"], error.data["status"]) == ("BudgetExceeded", 429)
    assert "model_calls limit" in error.data["message"]
    assert "intake" in {e.data.get("agent") for e in events if e.kind == "message"}
    assert (spent.value.status, spent.value.type) == (429, "BudgetExceeded")
    # The steps before the limit are kept: the message and intake's reply.
    assert [m["text"] for m in history] == ["Hi", "Welcome! Support will take it from here."]
    assert record["usage"]["model_calls"] == 1


async def test_unknown_routes_and_methods_use_the_same_error_body(serve: Serve) -> None:
    async with httpx.AsyncClient(base_url=serve(), headers=ALICE) as http:
        nowhere = await http.get("/api/nowhere")
        wrong_method = await http.delete("/api/sessions")
    assert _error(nowhere) == (404, "NotFound")
    assert _error(wrong_method) == (405, "MethodNotAllowed")
