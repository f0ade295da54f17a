"""Feedback over HTTP: a rating stored for the answer's agent, refusals typed, metrics show it."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from typer.testing import CliRunner

from accord.app import Client
from accord.app.cli.main import cli

Serve = Callable[..., str]
ALICE = {"Authorization": "Bearer alice-token"}


async def test_a_rating_is_stored_for_the_answers_agent_and_shows_in_metrics(
    serve: Serve, db: str
) -> None:
    url = serve(database=db)
    async with Client(url, "alice-token") as alice:
        session = await alice.open()
        await alice.send(session["id"], "Hi, I'm Dana")
    async with httpx.AsyncClient(base_url=url, headers=ALICE) as http:
        history = (await http.get(f"/api/sessions/{session['id']}/messages")).json()
        welcome = history[1]
        rated = await http.post(
            f"/api/sessions/{session['id']}/feedback",
            json={"score": 0, "comment": "Too short.", "message_id": welcome["id"]},
        )
        latest = await http.post(f"/api/sessions/{session['id']}/feedback", json={"score": 1})
        trail = (await http.get(f"/api/sessions/{session['id']}/audit")).json()

    assert rated.status_code == 201, rated.text
    body = rated.json()
    assert (body["agent"], body["message_id"], body["user"], body["score"]) == (
        "intake",
        welcome["id"],
        "alice",
        0.0,
    )
    assert body["comment"] == "Too short."
    assert latest.json()["agent"] == "support"
    feedback = [e for e in trail if e["kind"] == "feedback"]
    assert [(e["actor"], e["agent"], e["details"]["score"]) for e in feedback] == [
        ("alice", "intake", 0.0),
        ("alice", "support", 1.0),
    ]

    shown = CliRunner().invoke(cli, ["metrics", "--db", db, "--json"])
    assert shown.exit_code == 0, shown.output
    figures = json.loads(shown.output)
    assert figures["agent"]["intake"]["satisfaction"] == 0.0
    assert figures["agent"]["support"]["satisfaction"] == 1.0
    assert figures["session"][session["id"]]["ratings"] == 2
    assert figures["session"][session["id"]]["satisfaction"] == 0.5
    table = CliRunner().invoke(cli, ["metrics", "--db", db], env={"COLUMNS": "250"})
    assert "satisfied %" in table.output


async def test_bad_ratings_are_refused_with_a_typed_error_and_nothing_is_stored(
    serve: Serve,
) -> None:
    url = serve()
    async with Client(url, "alice-token") as alice:
        session = await alice.open()
        await alice.send(session["id"], "Hi, I'm Dana")
    path = f"/api/sessions/{session['id']}/feedback"
    async with httpx.AsyncClient(base_url=url, headers=ALICE) as http:
        question = (await http.get(f"/api/sessions/{session['id']}/messages")).json()[0]
        too_high = await http.post(path, json={"score": 5})
        not_answer = await http.post(path, json={"score": 1, "message_id": question["id"]})
        stranger = await http.post(
            path, json={"score": 1}, headers={"Authorization": "Bearer bob-token"}
        )
        missing = await http.post("/api/sessions/nope/feedback", json={"score": 1})
        trail = (await http.get(f"/api/sessions/{session['id']}/audit")).json()

    assert too_high.status_code == 422
    assert too_high.json()["error"]["type"] == "InvalidRequest"
    assert "score" in too_high.json()["error"]["message"]
    assert not_answer.status_code == 404
    assert not_answer.json()["error"]["type"] == "NotAnAnswer"
    assert "not an answer" in not_answer.json()["error"]["message"]
    assert stranger.status_code == 403
    assert missing.status_code == 404
    assert [e for e in trail if e["kind"] == "feedback"] == []
