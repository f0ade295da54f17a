"""Session records: who owns a session, which agent serves it, who may use it, what it used.

Every method builds one sans-IO operation, run by the saver's sync or async driver, so the
sync and async twins share their logic.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Row, bindparam, select, update

from accord.persistence.errors import SessionConflict, SessionNotFound
from accord.persistence.ops.driver import Operation, Outcome, Steps
from accord.persistence.schema import sessions
from accord.persistence.sessions.names import check, check_scope, check_session_id
from accord.persistence.sessions.stores import Store, dumps, from_db, loads, to_db, utcnow

OPEN = "open"
CLOSED = "closed"
_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session as stored; `session_id` is the LangGraph thread_id."""

    session_id: str
    owner: str
    agent: str | None
    status: str
    scope: Mapping[str, Any] = field(default_factory=dict)
    """Who may act, e.g. `{"read": {"users": [...], "roles": [...]}, "send": ..., ...}`."""
    limits: Mapping[str, Any] = field(default_factory=dict)
    usage: Mapping[str, Any] = field(default_factory=dict)
    version: int = 1
    """Bumped by every update; pass it back as `expected_version` for optimistic updates."""
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


class SessionStore(Store):
    """Session records in the checkpointer's database (table `accord_sessions`).

    Example:
        ```python
        with SQLAlchemySaver.from_url(url) as saver:
            store = SessionStore(saver)
            record = store.create(owner="alice", agent="support")
            store.update(record.session_id, status="closed")
        ```
    """

    @classmethod
    def reading(cls, url: str) -> SessionStore:
        """A store on a sync engine of its own, for a command that reads and exits (`accord
        sessions list`): no checkpoint saver, whose LangGraph imports outlast the read."""
        from accord.persistence.sessions.reading import Reader

        return cls(Reader(url), owned=True)

    # --- operations -------------------------------------------------------------------------

    def create(
        self,
        *,
        owner: str,
        agent: str | None = None,
        session_id: str | None = None,
        status: str = OPEN,
        scope: Mapping[str, Any] | None = None,
        limits: Mapping[str, Any] | None = None,
        usage: Mapping[str, Any] | None = None,
    ) -> SessionRecord:
        """Store a new session; its id is unguessable unless given.

        Raises:
            PersistenceError: A session with this id exists already.
        """
        return self._bound.run(
            _create(new_record(owner, agent, session_id, status, scope, limits, usage))
        )

    async def acreate(
        self,
        *,
        owner: str,
        agent: str | None = None,
        session_id: str | None = None,
        status: str = OPEN,
        scope: Mapping[str, Any] | None = None,
        limits: Mapping[str, Any] | None = None,
        usage: Mapping[str, Any] | None = None,
    ) -> SessionRecord:
        """Async `create`."""
        return await self._bound.arun(
            _create(new_record(owner, agent, session_id, status, scope, limits, usage))
        )

    def get(self, session_id: str) -> SessionRecord:
        """The session's record.

        Raises:
            SessionNotFound: No such session.
        """
        return self._bound.run(_get(session_id))

    async def aget(self, session_id: str) -> SessionRecord:
        """Async `get`."""
        return await self._bound.arun(_get(session_id))

    def update(
        self, session_id: str, *, expected_version: int | None = None, **changes: Any
    ) -> SessionRecord:
        """Change some fields (`owner`, `agent`, `status`, `scope`, `limits`, `usage`) atomically.

        Args:
            session_id: The session.
            expected_version: Only update if the record is still at this version.
            **changes: The new values of the fields to change.

        Raises:
            SessionNotFound: No such session.
            SessionConflict: The record is no longer at `expected_version`.
            TypeError: An unknown field.
        """
        return self._bound.run(_update(session_id, expected_version, changes))

    async def aupdate(
        self, session_id: str, *, expected_version: int | None = None, **changes: Any
    ) -> SessionRecord:
        """Async `update`."""
        return await self._bound.arun(_update(session_id, expected_version, changes))

    def list(
        self,
        *,
        owner: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[SessionRecord]:
        """Sessions matching the filters, oldest first, one page of `limit` from `offset`."""
        return self._bound.run(_list(owner, status, limit, offset))

    async def alist(
        self,
        *,
        owner: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[SessionRecord]:
        """Async `list`."""
        return await self._bound.arun(_list(owner, status, limit, offset))


_FIELDS = frozenset({"owner", "agent", "status", "scope", "limits", "usage"})
_JSON = frozenset({"scope", "limits", "usage"})


def new_session_id() -> str:
    """128 random bits, URL-safe (the id doubles as the thread id in URLs: unguessable).

    Never starting with "-", which a command line reads as an option (`accord sessions show
    -Gx...` would fail).
    """
    while (token := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return token


def new_record(
    owner: str,
    agent: str | None,
    session_id: str | None,
    status: str,
    scope: Mapping[str, Any] | None,
    limits: Mapping[str, Any] | None,
    usage: Mapping[str, Any] | None,
) -> SessionRecord:
    """A record not yet stored, with an unguessable id unless one is given.

    Raises:
        InvalidName: The owner, agent, id, or a user or role of the scope is not usable text.
    """
    check("owner", owner)
    if agent is not None:
        check("agent name", agent)
    if session_id is not None:
        check_session_id(session_id)
    check_scope(scope or {})
    now = utcnow()
    return SessionRecord(
        session_id=session_id if session_id is not None else new_session_id(),
        owner=owner,
        agent=agent,
        status=status,
        scope=dict(scope or {}),
        limits=dict(limits or {}),
        usage=dict(usage or {}),
        created_at=now,
        updated_at=now,
    )


def _create(record: SessionRecord) -> Operation[SessionRecord]:
    return Operation(
        lambda: creating(record), write=True, what=f"creating session {record.session_id!r}"
    )


INSERT_RECORD = sessions.insert()
"""Built once, so the native path compiles it once (see `accord.persistence.ops.native`)."""


def creating(record: SessionRecord) -> Steps[SessionRecord]:
    """The steps that store a new record and read it back."""
    yield INSERT_RECORD, record_params(record)
    # Read back so timestamps carry the database's precision.
    return (yield from selecting(record.session_id))


def record_params(record: SessionRecord) -> dict[str, Any]:
    """`INSERT_RECORD`'s parameters for `record`."""
    return {
        "session_id": record.session_id,
        "owner": record.owner,
        "agent": record.agent,
        "status": record.status,
        "scope": dumps(record.scope),
        "limits": dumps(record.limits),
        "usage": dumps(record.usage),
        "version": record.version,
        "created_at": to_db(record.created_at),
        "updated_at": to_db(record.updated_at),
    }


SELECT_RECORD = select(sessions).where(sessions.c.session_id == bindparam("session_id"))
"""Built once, so the native path compiles it once (see `accord.persistence.ops.native`)."""


def selecting(
    session_id: str, statement: Executable = SELECT_RECORD, more: Mapping[str, Any] | None = None
) -> Steps[SessionRecord]:
    """The steps that read a record (raising `SessionNotFound`); `statement` is
    `SELECT_RECORD` or one that does more too, with `more` parameters."""
    return record_of((yield from session_row(session_id, statement, more)))


def session_row(
    session_id: str, statement: Executable, more: Mapping[str, Any] | None = None
) -> Steps[Any]:
    """The steps that run `statement`, which reads the session's row (with `more`
    parameters), and return that row (raising `SessionNotFound`)."""
    outcome: Outcome = yield statement, {"session_id": session_id, **(more or {})}
    if not outcome.rows:
        raise SessionNotFound(f"no session {session_id!r}; check the id or create it first")
    return outcome.rows[0]


def _get(session_id: str) -> Operation[SessionRecord]:
    return Operation(
        lambda: selecting(session_id),
        write=False,
        what=f"reading session {session_id!r}",
        native=True,
    )


def _update(
    session_id: str, expected_version: int | None, changes: dict[str, Any]
) -> Operation[SessionRecord]:
    _check_fields(changes)
    return Operation(
        lambda: updating(session_id, expected_version, changes),
        write=True,
        what=f"updating session {session_id!r}",
    )


def _check_fields(changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - _FIELDS
    if unknown:
        raise TypeError(f"cannot update {sorted(unknown)}; fields: {sorted(_FIELDS)}")


RECORD_RUN = (
    update(sessions)
    .where(sessions.c.session_id == bindparam("id"))
    .values(
        usage=bindparam("new_usage"),
        agent=bindparam("new_agent"),
        version=sessions.c.version + 1,
        updated_at=bindparam("now", type_=sessions.c.updated_at.type),
    )
)


def recording_run(
    session_id: str, usage: Mapping[str, Any], agent: str | None, began: SessionRecord | None = None
) -> Steps[SessionRecord]:
    """The steps that store a run's usage and assigned agent, and the record they leave.

    With `began` (the record the run read under its lease) the record is not read back: it is
    `began` with the run's own changes, as the run holds the lease that every usage update
    needs. Without it, the record is read back.
    """
    now = utcnow()
    params = {"id": session_id, "new_usage": dumps(usage), "new_agent": agent}
    outcome: Outcome = yield RECORD_RUN, {**params, "now": to_db(now)}
    if began is None:
        return (yield from selecting(session_id))
    if outcome.rowcount == 0:
        raise SessionNotFound(f"no session {session_id!r}; check the id or create it first")
    return replace(began, usage=dict(usage), agent=agent, version=began.version + 1, updated_at=now)


def updating(
    session_id: str, expected_version: int | None, changes: Mapping[str, Any]
) -> Steps[SessionRecord]:
    """The steps that update a record and read it back (see `SessionStore.update`)."""
    _check_fields(changes)
    if "owner" in changes:
        check("owner", changes["owner"])
    if changes.get("agent") is not None:
        check("agent name", changes["agent"])
    if "scope" in changes:
        check_scope(changes["scope"] or {})
    values: dict[str, Any] = {k: dumps(v) if k in _JSON else v for k, v in changes.items()}
    condition = sessions.c.session_id == session_id
    if expected_version is not None:
        condition = condition & (sessions.c.version == expected_version)
    statement = (
        update(sessions)
        .where(condition)
        .values(version=sessions.c.version + 1, updated_at=to_db(utcnow()), **values)
    )
    outcome: Outcome = yield statement, None
    current = yield from selecting(session_id)  # raises SessionNotFound
    if outcome.rowcount == 0:
        raise SessionConflict(
            f"session {session_id!r} is at version {current.version}, not "
            f"{expected_version}; get it again and reapply the change"
        )
    return current


def _list(
    owner: str | None, status: str | None, limit: int, offset: int
) -> Operation[Sequence[SessionRecord]]:
    def steps() -> Steps[Sequence[SessionRecord]]:
        query = select(sessions)
        if owner is not None:
            query = query.where(sessions.c.owner == owner)
        if status is not None:
            query = query.where(sessions.c.status == status)
        query = (
            query.order_by(sessions.c.created_at, sessions.c.session_id).limit(limit).offset(offset)
        )
        outcome: Outcome = yield query, None
        return [record_of(row) for row in outcome.rows]

    return Operation(steps, write=False, what="listing sessions")


def record_of(row: Row[Any]) -> SessionRecord:
    """The record a row of the sessions table holds."""
    return SessionRecord(
        session_id=row.session_id,
        owner=row.owner,
        agent=row.agent,
        status=row.status,
        scope=loads(row.scope),
        limits=loads(row.limits),
        usage=loads(row.usage),
        version=row.version,
        created_at=from_db(row.created_at),
        updated_at=from_db(row.updated_at),
    )
