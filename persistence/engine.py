"""Database URLs and the SQLAlchemy engines built from them (one sync, one async, same database)."""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import QueuePool, StaticPool

from accord.persistence import compat
from accord.persistence.errors import DatabaseUnavailable, UnsupportedDatabaseURL

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

Backend = Literal["sqlite", "postgresql", "mysql"]

SUPPORTED_FORMS = (
    "sqlite:///path/to/file.db (the default; sqlite:// for an in-memory database)",
    "postgresql+psycopg://user:password@host:5432/dbname",
    "mysql+pymysql://user:password@host:3306/dbname (MariaDB or MySQL)",
)

# backend name as written in a URL -> (our backend, sync driver, async driver, accepted drivers)
_DRIVERS: dict[str, tuple[Backend, str, str, frozenset[str]]] = {
    "sqlite": ("sqlite", "pysqlite", "aiosqlite", frozenset({"pysqlite", "aiosqlite"})),
    "postgresql": (
        "postgresql",
        "psycopg",
        "psycopg_async",
        frozenset({"psycopg", "psycopg_async"}),
    ),
    "postgres": ("postgresql", "psycopg", "psycopg_async", frozenset({"psycopg", "psycopg_async"})),
    "mysql": ("mysql", "pymysql", "aiomysql", frozenset({"pymysql", "aiomysql"})),
    "mariadb": ("mysql", "pymysql", "aiomysql", frozenset({"pymysql", "aiomysql"})),
}
_INSTALL_HINT = {
    "postgresql": "pip install 'accord[postgres]'",
    "mysql": "pip install 'accord[mysql]'",
    "sqlite": "pip install aiosqlite",
}

SQLITE_BUSY_TIMEOUT_S = 30.0
DEFAULT_CONCURRENCY = 20
"""Operations a saver expects at once unless told: the size of its connection pool."""
QUEUE_TIMEOUT_S = 120.0
"""How long an operation waits for a connection (in a queue) before `DatabaseBusy`."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where checkpoints live: the backend and the sync and async URLs of one database."""

    backend: Backend
    sync_url: URL
    async_url: URL | None
    """None for in-memory SQLite, whose database exists only inside one connection."""

    @property
    def memory(self) -> bool:
        """Whether this is an in-memory SQLite database."""
        return self.async_url is None

    def describe(self) -> str:
        """The database in words, without the password, for error messages."""
        url = self.sync_url
        if self.backend == "sqlite":
            return "an in-memory SQLite database" if self.memory else f"SQLite file {url.database}"
        name = "PostgreSQL" if self.backend == "postgresql" else "MariaDB/MySQL"
        port = url.port or (5432 if self.backend == "postgresql" else 3306)
        # A URL may leave the database and the user to the server's defaults: say so, not None.
        database = f"database {url.database!r}" if url.database else "server (no database named)"
        user = f"user {url.username!r}" if url.username else "the default user"
        return f"{name} {database} at {url.host or 'localhost'}:{port} as {user}"


def resolve(url: str | URL) -> Target:
    """Parse a database URL into the sync and async URLs accord will use.

    Args:
        url: A SQLAlchemy URL naming SQLite, PostgreSQL or MariaDB/MySQL; the driver may be
            omitted or name either the sync or the async driver of the backend.

    Returns:
        The target database.

    Raises:
        UnsupportedDatabaseURL: The URL cannot be parsed or names another database or driver.
    """
    shown = url.render_as_string(hide_password=True) if isinstance(url, URL) else _hide(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise _unsupported(shown, f"it cannot be parsed ({exc})") from exc
    backend_name = parsed.get_backend_name()
    if backend_name not in _DRIVERS:
        raise _unsupported(shown, f"accord does not support the {backend_name!r} database")
    backend, sync_driver, async_driver, accepted = _DRIVERS[backend_name]
    driver = parsed.drivername.partition("+")[2]
    if driver and driver not in accepted:
        raise _unsupported(
            shown,
            f"accord does not support the {driver!r} driver for {backend}"
            f" (use {sync_driver!r}; async calls use {async_driver!r} on their own)",
        )
    name = "postgresql" if backend_name == "postgres" else backend_name
    if backend == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    sync_url = parsed.set(drivername=f"{name}+{sync_driver}")
    if backend == "sqlite" and _is_memory(parsed):
        return Target(backend, sync_url, None)
    if backend == "sqlite" and (
        parsed.query.get("mode") == "ro" or parsed.query.get("immutable") == "1"
    ):
        # pysqlite ignores these unless the URL is a URI, so the file would be written.
        raise _unsupported(
            shown,
            "accord writes to its database (migrations, checkpoints, leases), so a read-only"
            " SQLite URL cannot work; drop mode=ro, or copy the file somewhere writable",
        )
    return Target(backend, sync_url, parsed.set(drivername=f"{name}+{async_driver}"))


def target_of(engine: Engine | AsyncEngine) -> Target:
    """The target database of an engine someone else built."""
    return resolve(engine.url)


def pool_settings(concurrency: int, queue_timeout: float) -> dict[str, Any]:
    """Pool arguments for `concurrency` operations at once, waiting `queue_timeout` for one.

    Every connection stays open once made: a pool that closed what it opened beyond a core
    under a burst (SQLAlchemy's overflow) reopened one every three turns of 200 concurrent
    sessions on PostgreSQL (a server process each), 0.5-1 ms of CPU per turn. The drivers let
    no more operations than that at the pool at once (the rest queue, first come first
    served), so the pool's own timeout only trips on a wait over the bound.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if queue_timeout <= 0:
        raise ValueError(f"queue_timeout must be positive, got {queue_timeout}")
    return {"pool_size": concurrency, "max_overflow": 0, "pool_timeout": queue_timeout}


def capacity(engine: Engine) -> int | None:
    """How many connections the engine's pool may hand out at once (None: no limit known)."""
    pool: Any = engine.pool
    if not isinstance(pool, QueuePool):
        return None
    overflow = getattr(pool, "_max_overflow", 0)
    return int(pool.size()) + max(int(overflow), 0) if overflow >= 0 else None


def create_sync(target: Target, options: dict[str, Any]) -> Engine:
    """A sync engine for `target`, tuned for checkpoint traffic; `options` override defaults."""
    _check_folder(target)
    settings = _defaults(target) | options
    if target.memory:
        settings.setdefault("poolclass", StaticPool)
        settings["connect_args"] = {"check_same_thread": False} | settings.get("connect_args", {})
    try:
        engine = create_engine(target.sync_url, **settings)
    except ModuleNotFoundError as exc:
        raise _missing_driver(target, exc) from exc
    prepare(engine)
    _BUILT.add(engine)
    return engine


def create_async(target: Target, options: dict[str, Any]) -> AsyncEngine:
    """The async engine for `target` (not for in-memory SQLite); `options` override defaults."""
    assert target.async_url is not None, "in-memory SQLite has no async engine"
    _check_folder(target)
    # Imported here: SQLAlchemy's asyncio package loads its ORM, a read-only command's
    # largest import, and such commands never go async.
    from sqlalchemy.ext.asyncio import create_async_engine

    try:
        engine = create_async_engine(target.async_url, **(_defaults(target) | options))
    except ModuleNotFoundError as exc:
        raise _missing_driver(target, exc) from exc
    prepare(engine.sync_engine)
    _BUILT.add(engine.sync_engine)
    return engine


def built(engine: Engine) -> bool:
    """Whether accord built this engine: no one else draws on its pool, so accord may keep
    connections out of it between operations (see `accord.persistence.ops.native.Checkout`)."""
    return engine in _BUILT


_BUILT: weakref.WeakSet[Engine] = weakref.WeakSet()


def prepare(engine: Engine) -> None:
    """Install accord's per-connection settings on an engine (idempotent).

    SQLite gets WAL journaling, `synchronous=NORMAL` (durable across application crashes;
    only a power cut can lose the last commits), a busy timeout, and explicit `BEGIN` /
    `BEGIN IMMEDIATE` so writers queue for the lock instead of failing with "database is
    locked" when a read upgrades to a write.
    """
    if engine.dialect.driver == "aiomysql":
        compat.fix_aiomysql_bytes()
    if engine.dialect.name != "sqlite" or event.contains(engine, "connect", _sqlite_connect):
        return
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to the `begin` hook below (the documented SQLAlchemy recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()


def _sqlite_begin(connection: Any) -> None:
    write = connection.get_execution_options().get("accord_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _defaults(target: Target) -> dict[str, Any]:
    # Every operation ends its transaction itself, so the pool's rollback on check-in would
    # only cost one more round trip per call.
    settings: dict[str, Any] = {"pool_reset_on_return": None}
    if target.backend == "postgresql":
        # Reads and one-shot writes, most operations, run in autocommit (see the drivers).
        settings["isolation_level"] = "AUTOCOMMIT"
    if target.backend == "mysql":
        # READ COMMITTED avoids InnoDB gap locks, which deadlock concurrent upserts.
        settings |= {"isolation_level": "READ COMMITTED", "pool_recycle": 3600}
    if target.backend == "sqlite" and not target.memory:
        settings["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    return settings


def _check_folder(target: Target) -> None:
    # aiosqlite's worker thread outlives a failed connect and may then call into a closed
    # event loop; a missing folder, the usual cause, is caught here instead.
    if target.backend != "sqlite" or target.memory:
        return
    folder = Path(target.sync_url.database or ".").parent
    if not folder.is_dir():
        raise DatabaseUnavailable(
            f"cannot reach {target.describe()}: folder {folder} does not exist;"
            " check that the directory exists and is writable"
        )


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _hide(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


def _unsupported(shown: str, why: str) -> UnsupportedDatabaseURL:
    forms = "\n".join(f"  {form}" for form in SUPPORTED_FORMS)
    return UnsupportedDatabaseURL(f"cannot use database URL {shown!r}: {why}. Use one of:\n{forms}")


def _missing_driver(target: Target, exc: ModuleNotFoundError) -> UnsupportedDatabaseURL:
    return UnsupportedDatabaseURL(
        f"the driver for {target.describe()} is not installed ({exc}); "
        f"install it with: {_INSTALL_HINT[target.backend]}"
    )


def is_async(bind: object) -> TypeGuard[AsyncEngine]:
    """Whether `bind` is an `AsyncEngine`: none can exist before SQLAlchemy's asyncio package
    is imported, which is left to those who use it (see `create_async`)."""
    aio = sys.modules.get("sqlalchemy.ext.asyncio")
    return aio is not None and isinstance(bind, aio.AsyncEngine)
