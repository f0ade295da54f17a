"""Session records: round-trips, partial and optimistic updates, list filters, not found."""

from __future__ import annotations

import uuid
from datetime import UTC

import pytest

from accord.persistence import (
    PersistenceError,
    SessionNotFound,
    SessionRecord,
    SessionStore,
    SQLAlchemySaver,
)
from accord.persistence.errors import SessionConflict


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def test_create_and_get_round_trip(saver_url: str) -> None:
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        store = SessionStore(saver)
        scope = {"read": {"users": ["bob"], "roles": ["support"]}, "send": {"users": []}}
        created = await store.acreate(
            owner="alice", agent="triage", scope=scope, limits={"tokens": 1000}
        )
        assert len(created.session_id) >= 20  # token_urlsafe(16): unguessable
        loaded = await store.aget(created.session_id)
        assert loaded == created
        assert loaded.scope == scope
        assert loaded.limits == {"tokens": 1000}
        assert loaded.usage == {}
        assert loaded.status == "open"
        assert loaded.created_at.tzinfo is UTC
        assert saver.get_tuple({"configurable": {"thread_id": created.session_id}}) is None


def test_sync_round_trip_with_given_id_and_unicode(saver_url: str) -> None:
    sid = f"s-{uuid.uuid4().hex}-é✓"
    with SQLAlchemySaver.from_url(saver_url) as saver:
        store = SessionStore(saver)
        created = store.create(owner="ünïcode", session_id=sid, usage={"turns": 0})
        assert isinstance(created, SessionRecord)
        assert store.get(sid) == created
        with pytest.raises(PersistenceError):
            store.create(owner="other", session_id=sid)


async def test_store_from_url_owns_its_saver(saver_url: str) -> None:
    store = SessionStore(saver_url)
    try:
        record = await store.acreate(owner="alice")
        assert store.get(record.session_id) == record
    finally:
        await store.aclose()


async def test_missing_session_is_typed(saver_url: str) -> None:
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        store = SessionStore(saver)
        with pytest.raises(SessionNotFound) as caught:
            await store.aget("no-such-session")
        assert isinstance(caught.value, KeyError)
        assert isinstance(caught.value, PersistenceError)
        with pytest.raises(SessionNotFound):
            store.get("no-such-session")
        with pytest.raises(SessionNotFound):
            await store.aupdate("no-such-session", status="closed")


async def test_partial_update_keeps_other_fields(saver_url: str) -> None:
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        store = SessionStore(saver)
        created = await store.acreate(owner="alice", agent="a1", limits={"tokens": 5})
        updated = await store.aupdate(created.session_id, status="closed", usage={"tokens": 3})
        assert updated.status == "closed"
        assert updated.usage == {"tokens": 3}
        assert updated.agent == "a1"
        assert updated.limits == {"tokens": 5}
        assert updated.version == created.version + 1
        assert updated.updated_at >= created.updated_at
        assert updated.created_at == created.created_at
        with pytest.raises(TypeError):
            store.update(created.session_id, colour="red")


async def test_optimistic_update_detects_a_concurrent_change(saver_url: str) -> None:
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        store = SessionStore(saver)
        created = await store.acreate(owner="alice")
        first = await store.aupdate(
            created.session_id, expected_version=created.version, agent="a2"
        )
        with pytest.raises(SessionConflict):
            await store.aupdate(created.session_id, expected_version=created.version, agent="a3")
        assert (await store.aget(created.session_id)) == first


async def test_list_filters_and_pages(saver_url: str) -> None:
    alice, bob = _user(), _user()
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        store = SessionStore(saver)
        made = [await store.acreate(owner=alice) for _ in range(5)]
        await store.acreate(owner=bob)
        await store.aupdate(made[1].session_id, status="closed")
        mine = await store.alist(owner=alice)
        assert [r.session_id for r in mine] == [r.session_id for r in made]
        assert [r.session_id for r in await store.alist(owner=alice, status="open")] == [
            made[0].session_id,
            *(r.session_id for r in made[2:]),
        ]
        assert [r.session_id for r in store.list(owner=alice, status="closed")] == [
            made[1].session_id
        ]
        pages = [store.list(owner=alice, limit=2, offset=o) for o in (0, 2, 4)]
        assert [r.session_id for page in pages for r in page] == [r.session_id for r in made]
        assert [len(p) for p in pages] == [2, 2, 1]
        assert len(await store.alist(owner=bob)) == 1
