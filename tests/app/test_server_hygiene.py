"""Hostile input over HTTP: bad names are 422s that poison nothing, database errors leak no
connection details, and a body that stops arriving is a 408, not a request held forever
(issue 14)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from accord.app import Client
from accord.app.server.responses import error_body, status_of
from accord.persistence import DatabaseBusy, DatabaseUnavailable, PersistenceError
from accord.persistence.errors import InvalidName

Serve = Callable[..., str]
ALICE = {"Authorization": "Bearer alice-token"}
BOB = {"Authorization": "Bearer bob-token"}
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("name", ["\ud800", "nul\x00", "bell\x07"], ids=["surrogate", "nul", "bel"])
async def test_a_bad_name_in_a_scope_is_422_and_listings_still_work(
    serve: Serve, name: str
) -> None:
    url = serve()

    # json.dumps escapes a lone surrogate as "\ud800", as a hostile client would send it.
    async with httpx.AsyncClient(base_url=url, headers=ALICE | JSON) as http:
        users = await http.post(
            "/api/sessions", content=json.dumps({"scope": {"read": {"users": ["bob", name]}}})
        )
        roles = await http.post(
            "/api/sessions", content=json.dumps({"scope": {"send": {"roles": [name]}}})
        )
        session_id = (await http.post("/api/sessions")).json()["id"]
        listed = await http.get("/api/sessions")
        bob = await http.get("/api/sessions", headers=BOB)
        sent = await http.post(
            f"/api/sessions/{session_id}/messages",
            content=json.dumps({"text": "hi", "message_id": f"id-{name}"}),
        )
    for answer in (users, roles):
        assert answer.status_code == 422
        message = answer.json()["error"]["message"]
        assert any(why in message for why in ("printable", "pattern", "unicode string"))
    assert sent.status_code == 422
    assert (listed.status_code, bob.status_code) == (200, 200)
    assert len(listed.json()) == 1  # only the good one
    assert bob.json() == []


async def test_database_errors_never_show_the_database(
    serve: Serve, fresh_url: Callable[[], str]
) -> None:
    db = fresh_url()  # on every backend: PostgreSQL's refusal of a NUL named its database
    url = serve(database=db)
    parts = urlsplit(db)
    secrets = [s for s in (parts.hostname, parts.username, parts.path.strip("/")) if s]
    async with httpx.AsyncClient(base_url=url, headers=ALICE) as http:
        answers = [
            await http.get("/api/sessions/a%00b"),
            await http.get("/api/sessions/a%00b/messages"),
            await http.get("/api/sessions/%1b%5b31m"),
            await http.post("/api/sessions/a%00b/messages", json={"text": "hi"}),
        ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        for secret in secrets:
            assert secret not in answer.text
        assert "accord_test" not in answer.text


async def test_a_body_that_stops_arriving_is_408(serve: Serve) -> None:
    url = urlsplit(serve(body_timeout=0.5))
    assert url.hostname is not None
    assert url.port is not None
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        b"POST /api/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice-token\r\n"
        b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"scope":'
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    await writer.wait_closed()
    assert head.startswith(b"HTTP/1.1 408")
    async with Client(f"{url.scheme}://{url.netloc}", "alice-token") as alice:
        assert (await alice.open())["owner"] == "alice"


def test_database_errors_are_503_or_500_without_their_message() -> None:
    where = "PostgreSQL database 'prod' at db.internal:5432 as user 'app'"
    cases = [
        (DatabaseUnavailable(f"cannot reach {where}"), 503),
        (DatabaseBusy(f"waited for a connection to {where}"), 503),
        (PersistenceError(f"put failed on {where}: invalid byte sequence"), 500),
        (InvalidName("a user must be printable text, got '\\x00'"), 422),
    ]
    for error, status in cases:
        assert status_of(error) == status
        assert "db.internal" not in json.dumps(error_body(error))
