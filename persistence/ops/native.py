"""Runs the hot operations' SQLAlchemy statements straight on the DBAPI connection.

A SQLAlchemy `Connection.execute` costs about 50 µs of Python per call (cache key, parameter
processing, result wrapping, events) and a connect/BEGIN/COMMIT cycle about 60 µs more, while
SQLite answers a primary-key lookup in 3 µs. So `get`, `put` and `put_writes` compile each of
their statements once per dialect, keep the SQL string and its parameter order, and run it on
a pooled DBAPI connection, handling the transaction themselves. The statements stay SQLAlchemy
Core; only the per-call machinery is skipped. An engine with cursor-execute listeners (tracing,
tests) keeps the SQLAlchemy path so that they see every statement.
"""

from __future__ import annotations

import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Engine, Executable, TextClause
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from accord.persistence.engine import built, capacity

T = TypeVar("T")
HELD_MAX = 4
"""Threads that may keep a SQLite connection; later ones check one out per call."""


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement compiled for one dialect, ready for `cursor.execute`."""

    sql: str
    names: tuple[str, ...]
    """Bind names in the order the SQL uses them."""
    positional: bool
    defaults: dict[str, Any]
    """Values bound in the statement itself (LIMIT 1, literals)."""
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(position in `names`, conversion) of each bind whose type converts its values."""
    take: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    """The values of `names`, in order (in C: this runs for every row written)."""
    rows: bool | None
    """Whether it returns rows (a SELECT, a RETURNING), None where only the cursor can tell:
    asking the cursor builds its description, 20 µs a statement on psycopg."""

    def bind(self, params: Mapping[str, Any]) -> Any:
        """The DBAPI parameters for one execution."""
        merged = {**self.defaults, **params} if self.defaults else params
        values: Any = self.take(merged)
        if self.processors:
            values = list(values)
            for i, process in self.processors:
                if values[i] is not None:
                    values[i] = process(values[i])
        if self.positional:
            return tuple(values)
        return dict(zip(self.names, values, strict=True))


def _taker(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) > 1:
        return itemgetter(*names)
    return lambda params: tuple([params[n] for n in names])  # itemgetter of one: no tuple


class Native:
    """Compiles statements for one engine's dialect and runs operations' steps on DBAPI."""

    def __init__(self, engine: Engine) -> None:
        """Bind to an engine (its dialect decides the SQL and the parameter style)."""
        self.engine = engine
        self._dialect = engine.dialect
        self._backend = engine.dialect.name
        # Weak keys: the statements live as long as their `Statements`, and a stray
        # one-off statement must not pin its compiled form forever.
        self._compiled: weakref.WeakKeyDictionary[Executable, Compiled] = (
            weakref.WeakKeyDictionary()
        )
        self._rows: dict[str, Any] = {}
        """Row class by SQL: one statement always returns the same columns."""

    def usable(self) -> bool:
        """Whether no one listens to cursor executions (they would miss ours)."""
        dispatch = self.engine.dispatch
        return not (dispatch.before_cursor_execute or dispatch.after_cursor_execute)

    def compiled(self, statement: Executable) -> Compiled:
        """The statement's compiled form, built on first use."""
        found = self._compiled.get(statement)
        if found is None:
            found = self._compiled[statement] = self._compile(statement)
        return found

    def _compile(self, statement: Executable) -> Compiled:
        clause: Any = statement
        compiled: Any = clause.compile(dialect=self._dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("statements with expanding parameters cannot run natively")
        if compiled.escaped_bind_names:
            raise ValueError("statements with escaped bind names cannot run natively")
        defaults = {
            k: v for k, v in compiled.construct_params(_check=False).items() if v is not None
        }
        names = tuple(compiled.positiontup or compiled.construct_params(_check=False))
        convert = compiled._bind_processors
        processors = tuple(
            (i, convert[name])
            for i, name in enumerate(names)
            if name in convert and not isinstance(convert[name], tuple)
        )
        positional = bool(compiled.positiontup)
        rows = None if isinstance(statement, TextClause) else bool(compiled._result_columns)
        take = _taker(names)
        return Compiled(compiled.string, names, positional, defaults, processors, take, rows)

    def transact(
        self,
        pooled: PoolProxiedConnection,
        work: Callable[[Any], T],
        *,
        write: bool,
        autocommit: bool,
    ) -> T:
        """Run `work(cursor)` in one transaction (or in autocommit) on a pooled connection.

        SQLite's connections are in autocommit already (accord issues BEGIN itself): there,
        autocommit only leaves out BEGIN and COMMIT.

        Raises:
            DBAPIError: The database refused; the transaction was rolled back, and the
                connection invalidated if it broke.
        """
        conn: Any = pooled.dbapi_connection
        cursor = None
        switched = False
        sqlite = self._backend == "sqlite"
        try:
            if self._backend == "postgresql" and conn.autocommit != autocommit:
                # psycopg only flips a flag here (no round trip); restored before check-in.
                conn.autocommit, switched = autocommit, True
            cursor = conn.cursor()
            if sqlite and not autocommit:
                # Writers take the write lock up front so a read never has to upgrade.
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            result = work(cursor)
            if not autocommit:
                conn.commit()
            return result
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._failed(pooled, cursor, exc) from exc
        except BaseException:
            self._rollback(pooled)
            raise
        finally:
            # An invalidated connection is closed already; its cursor with it.
            if cursor is not None and pooled.is_valid:
                cursor.close()
            if switched and pooled.is_valid:
                conn.autocommit = not autocommit

    def execute(self, cursor: Any, statement: Executable, params: Any) -> tuple[Sequence[Any], int]:
        """Run one step on the cursor; return its rows (named tuples) and row count."""
        if params is None:
            raise ValueError("native steps must bind their parameters")
        compiled = self.compiled(statement)
        rows = compiled.rows
        if type(params) is dict or isinstance(params, Mapping):
            cursor.execute(compiled.sql, compiled.bind(params))
        else:
            cursor.executemany(compiled.sql, [compiled.bind(p) for p in params])
            rows = None  # the driver may drop what each row's RETURNING gave
        if not (rows or (rows is None and cursor.description is not None)):
            return (), cursor.rowcount
        row: Any = self._rows.get(compiled.sql)
        if row is None:
            names = [d[0] for d in cursor.description]
            row = self._rows[compiled.sql] = namedtuple("Row", names, rename=True)
        return list(map(row._make, cursor.fetchall())), cursor.rowcount

    def _failed(self, pooled: PoolProxiedConnection, cursor: Any, exc: Any) -> DBAPIError:
        """Roll back, invalidate a broken connection, and wrap the error as SQLAlchemy would."""
        broken = self._dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
        if broken:
            pooled.invalidate(exc)
        else:
            self._rollback(pooled)
        error: Any = DBAPIError.instance(
            None,
            None,
            exc,
            self._dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=broken,
            dialect=self._dialect,
        )
        return error  # type: ignore[no-any-return]

    @staticmethod
    def _rollback(pooled: PoolProxiedConnection) -> None:
        if not pooled.is_valid:
            return
        try:
            pooled.dbapi_connection.rollback()  # type: ignore[union-attr]
        except BaseException as exc:
            # A connection that could not roll back (broken, or a task cancelled while
            # awaiting) may still be inside the transaction: never let the pool reuse it.
            pooled.invalidate(exc if isinstance(exc, Exception) else None)
            if not isinstance(exc, Exception):
                raise


class Checkout:
    """Pooled DBAPI connections for native runs; on sync file SQLite and PostgreSQL each thread
    keeps one, on async PostgreSQL the idle ones wait here.

    A pool checkout and check-in cost about 8 µs, as much as the whole SELECT they serve on
    SQLite, whose connections are cheap to keep open. A few threads keep theirs (the pool
    stays available to the rest) until `release`. On PostgreSQL they cost some 25 µs of an
    operation's 150 µs of CPU; the async driver already lets no more operations at the pool
    than it has connections, so its idle connections stay out of it until `release`.
    """

    def __init__(self, engine: Engine) -> None:
        """Check out from this engine's pool."""
        self._engine = engine
        pooled = isinstance(engine.pool, QueuePool)
        backend, is_async = engine.dialect.name, engine.dialect.is_async
        postgresql = backend == "postgresql" and built(engine)
        self._keep = pooled and not is_async and (backend == "sqlite" or postgresql)
        self._idle: list[PoolProxiedConnection] | None = (
            [] if pooled and is_async and postgresql else None
        )
        # At least one connection stays in the pool: a thread that keeps none must always get
        # one, or two threads each keeping theirs and waiting for a second would wait forever.
        self._most = min(HELD_MAX, (capacity(engine) or HELD_MAX + 1) - 1)
        self._local = threading.local()
        self._held: list[PoolProxiedConnection] = []
        self._lock = threading.Lock()

    def take(self) -> PoolProxiedConnection:
        """A connection for one operation (raises `DBAPIError` if none can be made)."""
        idle = self._idle
        if idle:
            with self._lock:
                if idle:
                    return idle.pop()
        pooled: PoolProxiedConnection | None = getattr(self._local, "pooled", None)
        if pooled is not None:
            return pooled
        pooled = self._engine.raw_connection()
        if self._keep:
            with self._lock:
                if len(self._held) < self._most:
                    self._held.append(pooled)
                    self._local.pooled = pooled
        return pooled

    def give(self, pooled: PoolProxiedConnection) -> None:
        """Done with `take`'s connection: keep it, or return it to the pool."""
        if self._idle is not None and pooled.is_valid:
            with self._lock:
                self._idle.append(pooled)
            return
        kept = getattr(self._local, "pooled", None) is pooled
        if kept and pooled.is_valid:
            return
        if kept:
            self._local.pooled = None
            with self._lock:
                self._held.remove(pooled)
        pooled.close()

    def put_back(self) -> None:
        """Return this thread's kept connection to the pool, before it takes another one, and
        the idle ones: an operation that draws on the pool itself must find one there."""
        with self._lock:
            idle = self._drained()
        for kept in idle:
            kept.close()
        pooled: PoolProxiedConnection | None = getattr(self._local, "pooled", None)
        if pooled is None:
            return
        self._local.pooled = None
        with self._lock:
            self._held.remove(pooled)
        pooled.close()

    def release(self) -> None:
        """Return every kept connection to the pool (the saver is closing)."""
        with self._lock:
            held, self._held = self._held + self._drained(), []
            self._local = threading.local()
        for pooled in held:
            # Best effort: a connection of a thread that died may be unusable already.
            with suppress(Exception):
                pooled.close()

    def _drained(self) -> list[PoolProxiedConnection]:
        """The idle connections, taken out of this checkout (under its lock)."""
        idle = self._idle or []
        if idle:
            self._idle = []
        return idle
