"""Session security: scopes, typed refusals, audited denials, unguessable ids."""

from __future__ import annotations

from typing import Any

import pytest
from support import scripted

from accord.graphs import Access, NotAuthorized, Scope, Sessions, User, handoff


def _team() -> Any:
    return handoff(
        [scripted("desk", {"reply": "Hello.", "handoff_to": "none"}, {"reply": "Again."})]
    )


@pytest.fixture
async def sessions(db: str) -> Any:
    async with Sessions(_team(), db=db) as manager:
        yield manager


async def test_a_stranger_can_do_nothing_and_every_attempt_is_audited(sessions: Any) -> None:
    session = await sessions.aopen("alice")
    mallory = User("mallory")

    with pytest.raises(NotAuthorized, match="'mallory' may not resume"):
        await sessions.aresume(session.id, mallory)
    with pytest.raises(NotAuthorized, match="may not read"):
        await sessions.aget(session.id, mallory)
    with pytest.raises(NotAuthorized, match="may not read"):
        await sessions.aaudit(session.id, mallory)
    assert await sessions.alist(mallory) == []
    # A handle obtained otherwise (say, a guessed id) is still checked on every call.
    stolen = type(session)(sessions, session.record, mallory)
    with pytest.raises(NotAuthorized, match="may not send"):
        await stolen.asend("hi")
    with pytest.raises(NotAuthorized, match="may not read"):
        await stolen.ahistory()

    denied = [e for e in await sessions.aaudit(session.id, "alice") if e.kind == "denied"]
    assert [(e.actor, e.details["action"]) for e in denied] == [
        ("mallory", "resume"),
        ("mallory", "read"),
        ("mallory", "read"),
        ("mallory", "send"),
        ("mallory", "read"),
    ]
    assert await session.ahistory() == []  # the refused send left nothing behind


async def test_scope_grants_actions_to_users_and_roles(sessions: Any) -> None:
    scope = Scope(read=Access(roles=frozenset({"auditor"})), send=Access(users=frozenset({"bob"})))
    session = await sessions.aopen("alice", scope=scope)
    auditor = User("carol", roles=frozenset({"auditor"}))

    assert [r.session_id for r in await sessions.alist(auditor)] == [session.id]
    assert (await sessions.aget(session.id, auditor)).owner == "alice"
    with pytest.raises(NotAuthorized):
        await sessions.aresume(session.id, auditor)  # reading is not resuming
    bob = type(session)(sessions, session.record, User("bob"))
    assert (await bob.asend("hi")).text == "Hello."
    with pytest.raises(NotAuthorized, match="may not read"):
        await bob.ahistory()


async def test_shared_scope_and_listing_order(sessions: Any) -> None:
    own = await sessions.aopen("bob")
    shared = await sessions.aopen("alice", scope=Scope.shared(users=["bob"]))
    await sessions.aopen("alice")  # private: bob never sees it

    assert [r.session_id for r in await sessions.alist("bob")] == [own.id, shared.id]
    again = await sessions.aresume(shared.id, "bob")
    assert again.user == User("bob")


async def test_session_ids_are_unguessable(sessions: Any) -> None:
    ids = {(await sessions.aopen("alice")).id for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) >= 22 for i in ids)  # 128 random bits, URL-safe


def test_scope_round_trips_and_rejects_unknown_actions() -> None:
    scope = Scope(read=Access(users=frozenset({"a"}), roles=frozenset({"r"})))
    assert Scope.from_dict(scope.to_dict()) == scope
    assert Scope.private().to_dict() == {}
    with pytest.raises(ValueError, match="unknown scope actions"):
        Scope.from_dict({"delete": {}})
    with pytest.raises(ValueError, match="non-empty"):
        User("  ")
