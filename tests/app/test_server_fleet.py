"""Two server replicas over one fleet: a client that loses its SSE stream reconnects to the
other replica with `Last-Event-ID` and misses nothing, repeats nothing (real RabbitMQ, Redis,
PostgreSQL, uvicorn servers and an `accord worker` subprocess)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fleet import Workers, broker, clean, fleet_database, services
from scale_team import single

pytestmark = pytest.mark.timeout(180)
AUTH = {"Authorization": "Bearer alice-token"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    services()
    with fleet_database(tmp_path) as url:
        yield url


def _events(lines: Iterator[str], stop_after: int | None = None) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    """(id, kind, data) of each SSE event, until `done`/`error` or `stop_after` events."""
    found: list[tuple[str, str, dict]] = []  # type: ignore[type-arg]
    fields: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "event" not in fields:
            fields = {}
            continue  # a keep-alive comment
        found.append((fields["id"], fields["event"], json.loads(fields["data"])))
        fields = {}
        if found[-1][1] in ("done", "error") or len(found) == stop_after:
            break
    return found


def test_a_reconnecting_client_resumes_on_another_replica(
    db: str, tmp_path: Path, serve: Callable[..., str]
) -> None:
    fleet = broker()
    workers = Workers("tests/scale_team.py:single", db, fleet, tmp_path)
    workers.start()
    one, other = (serve(single(), broker=fleet) for _ in range(2))
    try:
        with httpx.Client(headers=AUTH, timeout=60) as client:
            session = client.post(f"{one}/api/sessions", json={}).json()["id"]
            send = f"{one}/api/sessions/{session}/messages"
            body = {"text": "a long question", "message_id": "m1"}
            with client.stream("POST", send, json=body) as response:
                assert response.headers["X-Accord-Message-Id"] == "m1"
                first = _events(response.iter_lines(), stop_after=2)  # then the client drops
            assert [kind for _, kind, _ in first] == ["token", "token"]

            turn = f"{other}/api/sessions/{session}/messages/m1/events"
            resume = {"Last-Event-ID": first[-1][0]}
            with client.stream("GET", turn, headers=resume) as response:
                assert response.status_code == 200
                rest = _events(response.iter_lines())
            with client.stream("GET", turn) as response:
                whole = _events(response.iter_lines())
            assert first + rest == whole  # nothing missed, nothing twice
            assert whole[-1][1] == "done"
            assert whole[-1][2]["reply"]["text"] == "answer to a long question"

            # The session goes on through the other replica.
            again = f"{other}/api/sessions/{session}/messages"
            with client.stream("POST", again, json={"text": "next"}) as response:
                assert _events(response.iter_lines())[-1][1] == "done"
            history = client.get(f"{one}/api/sessions/{session}/messages").json()
            assert [m["text"] for m in history if m["role"] == "human"] == [
                "a long question",
                "next",
            ]
            missing = client.get(f"{other}/api/sessions/{session}/messages/nope/events")
            assert missing.status_code == 404
    finally:
        workers.stop()
        clean(fleet)
