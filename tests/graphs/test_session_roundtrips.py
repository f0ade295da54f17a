"""What one turn costs the database: transactions and statements of a `Session.asend`.

Counted by SQLAlchemy's own events on the engine the sessions run on, so every statement the
turn sends is seen (engines with listeners run the SQLAlchemy path, the same statements). The
counts are pinned: a change that adds a round trip to every turn must say so here.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from support import scripted

from accord.graphs import Sessions, handoff
from accord.persistence import SQLAlchemySaver
from accord.persistence.engine import resolve

# One warm turn of a one-agent handoff graph (durability "sync"): the run's beginning (lease,
# record, message in, and the checkpoint LangGraph reads first, read ahead), LangGraph's four
# writes (input checkpoint, the node's writes, the step's checkpoint, the last writes and
# checkpoint), the run's end.
# PostgreSQL runs reads and one-shot writes in autocommit: SQLAlchemy still counts a "begin".
TRANSACTIONS = {"sqlite": 7, "postgresql": 7, "mysql": 7}
STATEMENTS = {"sqlite": 17, "postgresql": 8, "mysql": 18}
# On PostgreSQL a free lease is taken in the statement that reads the record (one round trip).
# The checkpoint read ahead is one statement: the values it does not hold inline, the saver
# wrote in this process and keeps (lists, the last input; consumed triggers, empty).


class Seen:
    """Transactions begun and statements sent on one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.counts: Counter[str] = Counter()
        self.sql: list[str] = []
        self._engine = engine.sync_engine
        event.listen(self._engine, "begin", self._begin)
        event.listen(self._engine, "before_cursor_execute", self._statement)

    def stop(self) -> None:
        event.remove(self._engine, "begin", self._begin)
        event.remove(self._engine, "before_cursor_execute", self._statement)

    def _begin(self, conn: Any) -> None:
        self.counts["transactions"] += 1

    def _statement(self, conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.startswith("BEGIN"):  # SQLite's, counted by `_begin`
            return
        self.counts["statements"] += 1
        self.sql.append(" ".join(sql.split()[:4]))


@pytest.fixture
async def engine(db: str) -> AsyncIterator[AsyncEngine]:
    target = resolve(db)
    assert target.async_url is not None
    made = create_async_engine(target.async_url)
    yield made
    await made.dispose()


def _desk() -> Any:
    noted = {"reply": "Noted.", "handoff_to": "none"}
    return handoff([scripted("desk", noted, noted)])


async def _turn(engine: AsyncEngine, *, by_id: bool = False, **send: Any) -> Seen:
    async with SQLAlchemySaver.from_engine(engine) as saver, Sessions(_desk(), db=saver) as s:
        session = await s.aopen("alice")
        await session.asend("warm up")
        seen = Seen(engine)
        if by_id:  # what the HTTP server sends through: no handle, nothing read first
            started = asyncio.get_running_loop().create_future()
            events = s.astream(session.id, "alice", "one more message", started=started, **send)
            kinds = [type(event).__name__ async for event in events]
            assert started.exception() is None  # resolved, not refused
            assert kinds[-1] == "DoneEvent"
        else:
            await session.asend("one more message", **send)
        seen.stop()
        return seen


async def test_a_turn_costs_the_pinned_transactions_and_statements(engine: AsyncEngine) -> None:
    backend = resolve(engine.url).backend
    seen = await _turn(engine)
    counted = (seen.counts["transactions"], seen.counts["statements"])
    assert counted == (TRANSACTIONS[backend], STATEMENTS[backend]), "\n".join(seen.sql)


async def test_a_send_by_session_id_costs_no_more_than_a_handles(engine: AsyncEngine) -> None:
    backend = resolve(engine.url).backend
    seen = await _turn(engine, by_id=True)
    counted = (seen.counts["transactions"], seen.counts["statements"])
    assert counted == (TRANSACTIONS[backend], STATEMENTS[backend]), "\n".join(seen.sql)


async def test_a_message_id_costs_one_lookup_in_the_first_transaction(
    engine: AsyncEngine,
) -> None:
    plain = await _turn(engine)
    with_id = await _turn(engine, message_id="m-1")
    assert with_id.counts["transactions"] == plain.counts["transactions"]
    added = Counter(with_id.sql) - Counter(plain.sql)
    lookup = ["SELECT accord_audit.details FROM accord_audit"]
    if resolve(engine.url).backend == "postgresql":
        # The lookup comes once the lease is taken, so the lease's INSERT is a statement of
        # its own, not part of the record's read (see `accord.persistence.sessions.oneshot`).
        lookup += ["INSERT INTO accord_leases (session_id,", "WITH appended AS (INSERT"]
    assert sorted(added.elements()) == sorted(lookup)


async def test_a_message_id_with_like_wildcards_is_matched_exactly(db: str) -> None:
    echo = {"reply": "Noted.", "handoff_to": "none"}
    async with Sessions(handoff([scripted("desk", echo, echo, echo)]), db=db) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("one", message_id="a_%/1")
        await session.asend("two", message_id="a__/1")  # LIKE's `_` would match `_%` above
        again = await session.asend("one", message_id="a_%/1")
        history = await session.ahistory()
    assert [m.text for m in again.messages] == ["one", "Noted."]
    assert [m.id for m in history].count("a_%/1") == 1
    assert len(history) == 4  # the third send ran nothing: the script has one answer left
