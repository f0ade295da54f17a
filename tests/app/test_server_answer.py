"""Human in the loop over HTTP: the interrupt event, the pending questions, the answer."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from support import refund_graph

from accord.app import ApiError, Client

Serve = Callable[..., str]


async def test_a_paused_session_is_answered_over_http(serve: Serve, db: str) -> None:
    url = serve(refund_graph(), database=db)
    async with Client(url, "alice-token") as alice:
        session = await alice.open()
        sid = session["id"]
        events = await alice.send(sid, "Refund my 9 EUR")
        assert [e.kind for e in events][-3:] == ["interrupt", "usage", "done"]
        asked = events[-3].data
        assert asked["value"]["tool"] == "refund"
        assert events[-1].data["reply"]["interrupts"] == [asked]
        assert (await alice.get(sid))["status"] == "paused"
        assert await alice.questions(sid) == [asked]

        with pytest.raises(ApiError) as paused:
            await alice.send(sid, "Hello?")
        assert (paused.value.status, paused.value.type) == (409, "SessionPaused")

        answered = await alice.answer(sid, True)
        assert answered[-1].data["reply"]["text"] == "Refunded."
        assert (await alice.get(sid))["status"] == "open"
        assert await alice.questions(sid) == []

        before = await alice.audit(sid)
        with pytest.raises(ApiError) as not_paused:
            await alice.answer(sid, False)
        assert (not_paused.value.status, not_paused.value.type) == (409, "NotPaused")
        assert await alice.audit(sid) == before
    kinds = [(e["kind"], e["actor"]) for e in before if e["kind"] in ("interrupt", "answered")]
    assert kinds == [("interrupt", "alice"), ("answered", "alice")]


async def test_only_who_may_send_answers(serve: Serve) -> None:
    url = serve(refund_graph())
    async with Client(url, "alice-token") as alice:
        sid = (await alice.open())["id"]
        await alice.send(sid, "Refund")
    async with httpx.AsyncClient(base_url=url) as http:
        bob = await http.post(
            f"/api/sessions/{sid}/answer",
            json={"answer": True},
            headers={"Authorization": "Bearer bob-token"},
        )
        extra = await http.post(
            f"/api/sessions/{sid}/answer",
            json={"answer": True, "then": 1},
            headers={"Authorization": "Bearer alice-token"},
        )
    assert bob.status_code == 403
    assert extra.status_code == 422
