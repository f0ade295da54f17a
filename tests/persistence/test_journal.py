"""A session's opening and a run's two ends: each writes all of its rows or none of them.

The beginning takes the lease, reads the record and appends the arrival; the end stores the
usage and agent, appends the run's events and gives the lease back. On PostgreSQL the record's
read carries the arrival, and the usual end is one statement (accord.persistence.sessions
.oneshot); elsewhere, and past its event count, plain statements. Each backend must leave the
same rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete

from accord.persistence import (
    AuditEvent,
    AuditTrail,
    LeaseStore,
    PersistenceError,
    ReplicatedSaver,
    RunJournal,
    SessionNotFound,
    SessionRecord,
    SessionStore,
    SQLAlchemySaver,
)
from accord.persistence.schema import sessions
from accord.persistence.sessions.oneshot import MOST_EVENTS


async def _begun(saver: SQLAlchemySaver) -> tuple[RunJournal, str, SessionRecord]:
    journal = RunJournal(LeaseStore(saver))
    record = await journal.aopen("alice", usage={})
    begun = await journal.abegin(record.session_id, "run-1", 30.0)
    return journal, record.session_id, begun.record


@pytest.mark.parametrize("count", [0, 1, 3, MOST_EVENTS + 1])
async def test_a_run_ends_with_its_usage_events_in_order_and_the_lease_given_back(
    saver: SQLAlchemySaver, count: int
) -> None:
    journal, session_id, began = await _begun(saver)
    events = [
        AuditEvent(session_id, "message_out", agent="desk", details={"n": i}) for i in range(count)
    ]
    usage = {"tokens": 12, "model_calls": 1}
    ended = await journal.aend(
        session_id,
        "run-1",
        changes={"usage": usage, "agent": "desk"},
        events=events,
        began=began,
    )
    stored = await SessionStore(saver).aget(session_id)
    assert (ended.usage, ended.agent, ended.version) == (usage, "desk", stored.version)
    assert (stored.usage, stored.agent) == (usage, "desk")
    trail = await AuditTrail(saver).aevents(session_id, kinds=["message_out"])
    assert [event.details["n"] for event in trail] == list(range(count))
    assert await LeaseStore(saver).aholder(session_id) is None


async def test_a_run_whose_session_went_away_ends_writing_nothing(
    saver: SQLAlchemySaver, store: Any
) -> None:
    journal, session_id, began = await _begun(saver)
    store.execute(delete(sessions).where(sessions.c.session_id == session_id))
    events = [AuditEvent(session_id, "message_out", agent="desk")]
    with pytest.raises(SessionNotFound):
        await journal.aend(
            session_id,
            "run-1",
            changes={"usage": {}, "agent": "desk"},
            events=events,
            began=began,
        )
    assert not await AuditTrail(saver).aevents(session_id, kinds=["message_out"])
    assert await LeaseStore(saver).aholder(session_id) is not None  # rolled back with the rest


async def test_a_session_opens_with_its_event_or_not_at_all(saver: SQLAlchemySaver) -> None:
    # On PostgreSQL one statement (accord.persistence.sessions.oneshot) inserts both rows.
    journal = RunJournal(LeaseStore(saver))
    record = await journal.aopen("alice", agent="desk", usage={"tokens": 0})
    assert await SessionStore(saver).aget(record.session_id) == record
    with pytest.raises(PersistenceError):  # the id is taken
        await journal.aopen("bob", session_id=record.session_id)
    trail = await AuditTrail(saver).aevents(record.session_id)
    assert [(e.kind, e.actor, e.agent) for e in trail] == [("opened", "alice", "desk")]


class Refused(Exception):
    pass


def _refuse(record: SessionRecord) -> None:
    raise Refused(record.session_id)


@pytest.mark.parametrize("count", [1, 3, MOST_EVENTS + 1])
async def test_a_run_begins_with_its_arrival_or_not_at_all(
    saver: SQLAlchemySaver, count: int
) -> None:
    journal = RunJournal(LeaseStore(saver))
    session_id = (await journal.aopen("alice", usage={})).session_id
    events = [AuditEvent(session_id, "message_in", details={"n": i}) for i in range(count)]
    with pytest.raises(Refused):
        await journal.abegin(session_id, "run-1", 30.0, events=events, admit=_refuse)
    trail = AuditTrail(saver)
    assert not await trail.aevents(session_id, kinds=["message_in"])
    assert await LeaseStore(saver).aholder(session_id) is None
    begun = await journal.abegin(session_id, "run-2", 30.0, events=events, message_id="m-1")
    assert not begun.resent
    assert [e.details["n"] for e in await trail.aevents(session_id, kinds=["message_in"])] == list(
        range(count)
    )
    with pytest.raises(SessionNotFound):
        await journal.abegin("no-such-session", "run-3", 30.0, events=events)
    assert not await trail.aevents("no-such-session")
    assert await LeaseStore(saver).aholder("no-such-session") is None


def _failing() -> Any:
    yield from ()  # a generator of steps, as `then` is
    raise Refused("the read after the lease failed")


async def test_a_beginning_that_fails_after_taking_the_lease_gives_it_back(
    saver: SQLAlchemySaver,
) -> None:
    # On PostgreSQL a free lease is taken in autocommit: what failed after it is undone.
    journal = RunJournal(LeaseStore(saver))
    session_id = (await journal.aopen("alice", usage={})).session_id
    events = [AuditEvent(session_id, "message_in", details={"n": 0})]
    with pytest.raises(Refused):
        await journal.abegin(session_id, "run-1", 30.0, events=events, then=_failing)
    assert not await AuditTrail(saver).aevents(session_id, kinds=["message_in"])
    assert await LeaseStore(saver).aholder(session_id) is None
    begun = journal.begin(session_id, "run-2", 30.0, events=events)  # and sync alike
    assert not begun.interrupted
    with pytest.raises(Refused):
        journal.begin(session_id, "run-3", 0.0, events=events, admit=_refuse)
    assert (await LeaseStore(saver).aholder(session_id)).holder == "run-2"  # type: ignore[union-attr]


async def test_a_run_on_copies_of_two_backends_writes_both(any_databases: Any) -> None:
    # The one-statement forms are PostgreSQL's: a replica on SQLite must take the plain ones.
    primary = SQLAlchemySaver(any_databases.create("postgres"))
    replica = SQLAlchemySaver(any_databases.create("sqlite"))
    async with ReplicatedSaver(primary, replica) as saver:
        journal, session_id, began = await _begun(saver)  # type: ignore[arg-type]
        events = [AuditEvent(session_id, "message_out", agent="desk")]
        changes = {"usage": {"tokens": 1}, "agent": "desk"}
        await journal.aend(session_id, "run-1", changes=changes, events=events, began=began)
        for copy in (primary, replica):
            assert (await SessionStore(copy).aget(session_id)).usage == {"tokens": 1}
            assert len(await AuditTrail(copy).aevents(session_id, kinds=["message_out"])) == 1
