"""Bad input gets a typed error that names the problem and the fix; failed writes change nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from sqlalchemy import Engine, create_engine, event, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from accord.persistence import (
    AccordError,
    CorruptCheckpoint,
    DatabaseUnavailable,
    PersistenceError,
    SQLAlchemySaver,
    UnsupportedDatabaseURL,
)
from accord.persistence.engine import resolve
from accord.persistence.schema import blobs, checkpoints


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("oracle://scott:tiger@db/orcl", "'oracle' database"),
        ("postgresql+asyncpg://u:p@127.0.0.1/db", "'asyncpg' driver"),
        ("mysql+mysqldb://root@127.0.0.1/db", "'mysqldb' driver"),
        ("mongodb://127.0.0.1/db", "'mongodb' database"),
        ("not a url", "cannot be parsed"),
    ],
)
def test_unsupported_url_lists_supported_forms(url: str, named: str) -> None:
    with pytest.raises(UnsupportedDatabaseURL) as caught:
        SQLAlchemySaver.from_url(url)
    message = str(caught.value)
    assert named in message
    for form in ("sqlite:///", "postgresql+psycopg://", "mysql+pymysql://"):
        assert form in message
    assert "tiger" not in message
    assert ":p@" not in message
    assert isinstance(caught.value, AccordError)
    assert isinstance(caught.value, ValueError)


def test_urls_map_to_sync_and_async_drivers() -> None:
    cases = {
        "sqlite:///a.db": ("sqlite+pysqlite", "sqlite+aiosqlite"),
        "sqlite+aiosqlite:///a.db": ("sqlite+pysqlite", "sqlite+aiosqlite"),
        "postgresql://u@h/d": ("postgresql+psycopg", "postgresql+psycopg_async"),
        "postgres://u@h/d": ("postgresql+psycopg", "postgresql+psycopg_async"),
        "mysql://u@h/d": ("mysql+pymysql", "mysql+aiomysql"),
        "mariadb+aiomysql://u@h/d": ("mariadb+pymysql", "mariadb+aiomysql"),
    }
    for url, (sync, aio) in cases.items():
        target = resolve(url)
        assert target.sync_url.drivername == sync
        assert target.async_url is not None
        assert target.async_url.drivername == aio
    assert resolve("sqlite://").memory
    assert resolve("sqlite:///:memory:").memory


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("postgresql+psycopg://accord:s3cret@127.0.0.1:1/accord", "127.0.0.1:1"),
        ("mysql+pymysql://accord:s3cret@127.0.0.1:1/accord", "127.0.0.1:1"),
        ("sqlite:////nonexistent/folder/accord.db", "/nonexistent/folder/accord.db"),
    ],
)
async def test_unreachable_database_names_host_not_password(url: str, where: str) -> None:
    saver = SQLAlchemySaver.from_url(url)
    try:
        with pytest.raises(DatabaseUnavailable) as sync_error:
            saver.get_tuple(generate_config("t"))
        with pytest.raises(DatabaseUnavailable) as async_error:
            await saver.aget_tuple(generate_config("t"))
    finally:
        await saver.aclose()
    for caught in (sync_error, async_error):
        message = str(caught.value)
        assert where in message
        assert "s3cret" not in message
        assert "check that" in message


async def test_a_file_that_is_no_database_is_named_as_such(tmp_path: Path) -> None:
    """Not "check that the directory exists": it does, and so does the file."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, but long enough to have an SQLite header's size\n" * 4)
    saver = SQLAlchemySaver.from_url(f"sqlite:///{notes}")
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await saver.aget_tuple(generate_config("t"))
    finally:
        await saver.aclose()
    assert str(caught.value).endswith(
        "file is not a database; it is some other file: give accord's database, or a new "
        "file's path"
    )


def test_a_url_without_database_or_user_is_described_without_none() -> None:
    assert resolve("mysql://db-host").describe() == (
        "MariaDB/MySQL server (no database named) at db-host:3306 as the default user"
    )
    assert resolve("postgresql+psycopg://ann@db-host:6543/shop").describe() == (
        "PostgreSQL database 'shop' at db-host:6543 as user 'ann'"
    )


async def _two_checkpoints(saver: SQLAlchemySaver, thread_id: str) -> tuple[Any, Any]:
    first = await saver.aput(
        generate_config(thread_id),
        generate_checkpoint(channel_values={"m": ["a"]}, channel_versions={"m": "1"}),
        generate_metadata(step=0),
        {"m": "1"},
    )
    second = await saver.aput(
        first,
        generate_checkpoint(channel_values={"m": ["a", "b"]}, channel_versions={"m": "2"}),
        generate_metadata(step=1),
        {"m": "2"},
    )
    return first, second


@pytest.fixture
async def doomed(saver: SQLAlchemySaver) -> AsyncIterator[str]:
    """A thread id for a test that corrupts rows; the thread is deleted afterwards."""
    thread = f"corrupt-{uuid.uuid4()}"
    yield thread
    await saver.adelete_thread(thread)


async def test_undecodable_value_names_thread_and_checkpoint(
    saver: Any, store: Any, doomed: str
) -> None:
    thread = doomed
    _, second = await _two_checkpoints(saver, thread)
    store.execute(
        update(blobs)
        .where(blobs.c.thread_id == thread, blobs.c.version == "2")
        .values(data=b"\xc1\xc1 not msgpack")
    )
    async with SQLAlchemySaver.from_url(store.url) as cold:  # nothing cached
        with pytest.raises(CorruptCheckpoint) as caught:
            await cold.aget_tuple(second)
    message = str(caught.value)
    assert thread in message
    assert second["configurable"]["checkpoint_id"] in message
    assert "'m'" in message
    assert "delete_thread" in message


async def test_missing_delta_base_is_corrupt_not_silently_short(
    saver: Any, store: Any, doomed: str
) -> None:
    thread = doomed
    _, second = await _two_checkpoints(saver, thread)
    assert [r.base for r in store.blob_rows(thread)] == [None, "1"]
    store.execute(blobs.delete().where(blobs.c.thread_id == thread, blobs.c.version == "1"))
    async with SQLAlchemySaver.from_url(store.url) as cold:  # no cached copy to fall back on
        with pytest.raises(CorruptCheckpoint, match="missing from the delta chain"):
            await cold.aget_tuple(second)
        with pytest.raises(CorruptCheckpoint):
            [t async for t in cold.alist(generate_config(thread))]


async def test_undecodable_metadata_is_corrupt(saver: Any, store: Any, doomed: str) -> None:
    thread = doomed
    first, _ = await _two_checkpoints(saver, thread)
    store.execute(
        update(checkpoints)
        .where(checkpoints.c.checkpoint_id == first["configurable"]["checkpoint_id"])
        .values(metadata="{not json")
    )
    with pytest.raises(CorruptCheckpoint, match=first["configurable"]["checkpoint_id"]):
        await saver.aget_tuple(first)


async def test_unserializable_value_leaves_previous_checkpoint(saver: Any, store: Any) -> None:
    thread = f"atomic-{uuid.uuid4()}"
    first, second = await _two_checkpoints(saver, thread)
    bad = generate_checkpoint(
        channel_values={"m": ["a", "b", "c"], "z": object()},
        channel_versions={"m": "3", "z": "3"},
    )
    with pytest.raises(TypeError):
        await saver.aput(second, bad, generate_metadata(step=2), {"m": "3", "z": "3"})
    with pytest.raises(TypeError):
        saver.put(second, bad, generate_metadata(step=2), {"m": "3", "z": "3"})
    latest = await saver.aget_tuple(generate_config(thread))
    assert latest is not None
    assert latest.config["configurable"]["checkpoint_id"] == second["configurable"]["checkpoint_id"]
    assert [r.version for r in store.blob_rows(thread)] == ["1", "2"]
    assert first != second


def _fail_on_checkpoint_insert(engine: Engine) -> None:
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "INSERT INTO ACCORD_CHECKPOINTS" in statement.upper():
            raise RuntimeError("disk on fire")

    event.listen(engine, "before_cursor_execute", before)


async def test_failure_mid_put_rolls_back_the_values(saver_url: str, store: Any) -> None:
    thread = f"rollback-{uuid.uuid4()}"
    _, second = await _two_checkpoints(store.saver, thread)
    target = resolve(saver_url)
    assert target.async_url is not None
    sync_engine = create_engine(target.sync_url)
    async_engine = create_async_engine(target.async_url)
    for engine in (sync_engine, async_engine.sync_engine):
        _fail_on_checkpoint_insert(engine)
    third = generate_checkpoint(channel_values={"m": ["a", "b", "c"]}, channel_versions={"m": "3"})
    try:
        with (
            SQLAlchemySaver.from_engine(sync_engine) as failing,
            pytest.raises((RuntimeError, PersistenceError)),
        ):
            failing.put(second, third, generate_metadata(step=2), {"m": "3"})
        async with SQLAlchemySaver.from_engine(async_engine) as failing:
            with pytest.raises((RuntimeError, PersistenceError)):
                await failing.aput(second, third, generate_metadata(step=2), {"m": "3"})
    finally:
        sync_engine.dispose()
        await async_engine.dispose()
    assert [r.version for r in store.blob_rows(thread)] == ["1", "2"]
    latest = await store.saver.aget_tuple(generate_config(thread))
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {"m": ["a", "b"]}


def _trigger(url: str, thread: str) -> tuple[list[str], list[str]]:
    """SQL creating and dropping a trigger that fails checkpoint inserts of one thread.

    A trigger, unlike a cursor-execute listener, leaves the saver on its native DBAPI path.
    """
    backend = resolve(url).backend
    if backend == "sqlite":
        return [
            "CREATE TRIGGER accord_test_fail BEFORE INSERT ON accord_checkpoints"
            f" WHEN NEW.thread_id = '{thread}' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        ], ["DROP TRIGGER accord_test_fail"]
    if backend == "postgresql":
        return [
            "CREATE FUNCTION accord_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.thread_id = '{thread}' THEN RAISE EXCEPTION 'disk on fire'; END IF;"
            " RETURN NEW; END $$",
            "CREATE TRIGGER accord_test_fail BEFORE INSERT ON accord_checkpoints"
            " FOR EACH ROW EXECUTE FUNCTION accord_test_fail()",
        ], ["DROP TRIGGER accord_test_fail ON accord_checkpoints", "DROP FUNCTION accord_test_fail"]
    return [
        "CREATE TRIGGER accord_test_fail BEFORE INSERT ON accord_checkpoints FOR EACH ROW BEGIN"
        f" IF NEW.thread_id = '{thread}' THEN"
        " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'disk on fire'; END IF; END"
    ], ["DROP TRIGGER accord_test_fail"]


async def test_database_error_mid_put_rolls_back_on_the_native_path(
    saver_url: str, store: Any
) -> None:
    thread = f"native-rollback-{uuid.uuid4()}"
    _, second = await _two_checkpoints(store.saver, thread)
    create, drop = _trigger(saver_url, thread)
    for sql in create:
        store.execute(text(sql))
    third = generate_checkpoint(channel_values={"m": ["a", "b", "c"]}, channel_versions={"m": "3"})
    try:
        async with SQLAlchemySaver.from_url(saver_url) as failing:
            with pytest.raises(PersistenceError, match="disk on fire"):
                failing.put(second, third, generate_metadata(step=2), {"m": "3"})
            with pytest.raises(PersistenceError, match="disk on fire"):
                await failing.aput(second, third, generate_metadata(step=2), {"m": "3"})
            # The connections went back to the pool usable: later calls still work.
            assert failing.get_tuple(second) is not None
            assert await failing.aget_tuple(second) is not None
    finally:
        for sql in drop:
            store.execute(text(sql))
    assert [r.version for r in store.blob_rows(thread)] == ["1", "2"]
    latest = await store.saver.aget_tuple(generate_config(thread))
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {"m": ["a", "b"]}
