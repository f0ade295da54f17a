"""A worker whose database goes away (real RabbitMQ, Redis and PostgreSQL; the worker is a
subprocess reaching PostgreSQL through a proxy the test opens and closes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet import Proxy, Workers, fleet_database, services, until
from langchain_core.messages import HumanMessage
from scale_team import single
from sqlalchemy.engine import make_url

from accord.graphs import Broker, Sessions
from accord.graphs.errors import TurnFailed

pytestmark = pytest.mark.timeout(180)

WAIT = "the database is unreachable"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    services()
    with fleet_database(tmp_path) as url:
        yield url


def _waits(folder: Path) -> int:
    """How many times the worker logged a turn waiting for the database."""
    return sum(log.read_text().count(WAIT) for log in folder.glob("worker-*.log"))


async def test_a_turn_waits_for_the_database_then_names_it_and_leaves_nothing_half_done(
    db: str, fleet: Broker, tmp_path: Path
) -> None:
    proxy = Proxy()
    through = make_url(db).set(host="127.0.0.1", port=proxy.port)
    workers = Workers(
        "tests/scale_team.py:single",
        through.render_as_string(hide_password=False),
        fleet,
        tmp_path,
        db_wait=6,
    )
    workers.start()  # with its database unreachable: it needs it only for a turn
    try:
        async with Sessions(single(), db=db, broker=fleet) as sessions:
            session = await sessions.aopen("alice")
            remote = sessions.remote
            assert remote is not None

            # Down for a moment: the turn waits where it is, then runs; not redelivered.
            sent = asyncio.create_task(session.asend("hello", message_id="m1"))
            await until(lambda: _waits(tmp_path) >= 2, "the turn waiting", 30)
            await proxy.open()
            assert (await asyncio.wait_for(sent, 30)).text == "answer to hello"
            attempts = await remote.channel.redis.get(f"{fleet.prefix}:attempts:{session.id}:m1")
            assert int(attempts) == 1

            # Down for good: answered after about `db_wait` seconds of backoff (a handful of
            # tries, not a spin) with an error that names the database and what starts it.
            await proxy.close()
            tried = _waits(tmp_path)
            began = time.monotonic()
            with pytest.raises(TurnFailed) as down:
                await asyncio.wait_for(session.asend("again", message_id="m2"), 60)
            took = time.monotonic() - began
            assert down.value.type == "ServiceUnavailable"
            assert not down.value.dead_lettered
            message = str(down.value)
            assert f"the database at postgresql+psycopg://127.0.0.1:{proxy.port}/" in message
            assert "systemctl start postgresql" in message
            assert 5 <= took < 30, took
            assert 3 <= _waits(tmp_path) - tried <= 8

            # Nothing half-done: the message was not added, and the same message sent again
            # once the database is back is answered once, as a first delivery.
            assert not await remote.known(session.id, "m2")
            await proxy.open()
            assert (await session.asend("again", message_id="m2")).text == "answer to again"
            history = await session.ahistory()
            assert [m.id for m in history if isinstance(m, HumanMessage)] == ["m1", "m2"]
            trail = await sessions.aaudit(session.id, "alice")
            kinds = [e.kind for e in trail]
            assert (kinds.count("redelivered"), kinds.count("dead_letter")) == (0, 0)
            assert kinds.count("message_out") == 2
            assert await remote.known(session.id, "m2")
    finally:
        workers.stop()
        await proxy.close()
