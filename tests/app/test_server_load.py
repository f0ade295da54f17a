"""Many SSE streams at once on every database: all complete, none gets a 5xx (issue 14: 8% of
1,000 streams on PostgreSQL answered 500 with SQLAlchemy's pool TimeoutError).

The saver gets only two connections, so most of the streams' database work queues: the
same pressure as 1,000 streams on a default pool, in a few seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from accord.agents import Agent, ScriptedModel
from accord.app import Client
from accord.graphs import Sessions, handoff
from accord.persistence import LeaseStore, SQLAlchemySaver

STREAMS = 100


def _desk() -> object:
    model = ScriptedModel([{"reply": "Noted.", "handoff_to": "none"}], cycle=True)
    return handoff([Agent(name="desk", description="The desk.", models=(model,))])


async def test_a_hundred_concurrent_streams_all_complete(
    serve: Callable[..., str], fresh_url: Callable[[], str]
) -> None:
    db = fresh_url()
    saver = SQLAlchemySaver(db, concurrency=2)
    sessions = Sessions(_desk(), db=saver)  # type: ignore[arg-type]
    url = serve(sessions=sessions)
    try:
        async with Client(url, "alice-token") as alice:

            async def converse(n: int) -> str:
                session_id: str = (await alice.open())["id"]
                events = await alice.send(session_id, f"hello {n}")
                assert events[-1].kind == "done", events[-1]
                return session_id

            opened = await asyncio.gather(*(converse(n) for n in range(STREAMS)))
            assert len(set(opened)) == STREAMS
            for session_id in opened[:3]:
                assert len(await alice.history(session_id)) == 2
        async with SQLAlchemySaver(db) as separate:  # the server's engines are on its loop
            leases = LeaseStore(separate)
            leased = [await leases.aholder(s) for s in opened]
        assert leased == [None] * STREAMS  # every lease given back
    finally:
        await sessions.portal.enter(saver.aclose())  # on the loop its connections live on
        await sessions.aclose()
