"""Input hygiene at the database: names are checked before anything is written, a read-only
database is a typed error, and a read-only SQLite URL is refused (issue 14)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event

from accord.persistence import SessionStore, SQLAlchemySaver, UnsupportedDatabaseURL
from accord.persistence.errors import DatabaseReadOnly, InvalidName

BAD = ["\ud800", "a\x00b", "tab\there", "\x1b[31m", " ", "x" * 300]


@pytest.mark.parametrize("name", BAD, ids=["surrogate", "nul", "tab", "escape", "blank", "long"])
async def test_bad_names_are_refused_before_anything_is_written(saver: Any, name: str) -> None:
    store = SessionStore(saver)
    before = len(await store.alist(limit=1000))
    for fields in (
        {"owner": name},
        {"owner": "alice", "agent": name},
        {"owner": "alice", "session_id": name},
        {"owner": "alice", "scope": {"read": {"users": [name]}}},
        {"owner": "alice", "scope": {"read": {"roles": [name]}}},
    ):
        with pytest.raises(InvalidName, match=r"printable text|non-empty|at most"):
            await store.acreate(**fields)
    assert len(await store.alist(limit=1000)) == before
    record = await store.acreate(owner="alice")
    with pytest.raises(InvalidName):
        await store.aupdate(record.session_id, scope={"send": {"roles": [name]}})
    assert (await store.aget(record.session_id)).scope == {}


def _read_only(url: str) -> Any:
    engine = create_engine(url)
    dialect = engine.dialect.name
    command = {
        "sqlite": "PRAGMA query_only = ON",
        "postgresql": "SET default_transaction_read_only = on",
        "mysql": "SET SESSION TRANSACTION READ ONLY",
    }[dialect]

    @event.listens_for(engine, "connect")
    def read_only(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute(command)
        cursor.close()
        connection.commit()  # psycopg runs the SET in a transaction, which a rollback would undo

    return engine


def test_a_read_only_database_is_a_typed_error(saver_url: str) -> None:
    with SQLAlchemySaver.from_url(saver_url) as writable:
        before = len(SessionStore(writable).list(owner="read-only", limit=1000))
    engine = _read_only(saver_url)
    try:
        with (
            SQLAlchemySaver.from_engine(engine) as saver,
            pytest.raises(DatabaseReadOnly, match="is read-only"),
        ):
            SessionStore(saver).create(owner="read-only")
    finally:
        engine.dispose()
    with SQLAlchemySaver.from_url(saver_url) as writable:
        assert len(SessionStore(writable).list(owner="read-only", limit=1000)) == before


def test_a_read_only_sqlite_url_is_refused(tmp_path: Path) -> None:
    for query in ("mode=ro", "immutable=1"):
        with pytest.raises(UnsupportedDatabaseURL, match="read-only SQLite URL"):
            SQLAlchemySaver.from_url(f"sqlite:///{tmp_path / 'x.db'}?{query}")
