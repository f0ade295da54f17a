"""How an operation's connection is set up: its transaction, or none.

SQLite writers take the write lock up front (BEGIN IMMEDIATE), so a read never has to upgrade.
PostgreSQL reads run in autocommit: at READ COMMITTED each statement sees its own snapshot
anyway, so BEGIN and COMMIT would only add two round trips; so do one-shot writes (a single
statement). accord's own engines keep PostgreSQL's connections in autocommit, what most
operations run in, so only a transaction switches it off, until the connection goes back to
the pool. On SQLite, whose connections accord leaves in autocommit to issue BEGIN itself, a
read run natively leaves BEGIN and COMMIT out as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from accord.persistence.engine import Target

if TYPE_CHECKING:
    from accord.persistence.ops.driver import Operation


def autocommit(target: Target, write: bool, oneshot: bool, *, native: bool = False) -> bool:
    """Whether an operation (`write`: it writes; `oneshot`: in one statement) runs without
    BEGIN and COMMIT; `native`: on the DBAPI connection, not through SQLAlchemy."""
    if target.backend == "postgresql":
        return oneshot or not write
    return native and target.backend == "sqlite" and not write


def options(target: Target, op: Operation[Any] | None, conn: Connection | None) -> dict[str, Any]:
    """The SQLAlchemy execution options that set `conn` up for `op` (None: migrations, a
    write transaction; `conn` None, an async connection that never started: none)."""
    write, oneshot = (True, False) if op is None else (op.write, op.autocommit)
    if target.backend == "sqlite":
        return {"accord_write": write}
    if target.backend != "postgresql" or conn is None:
        return {}
    want = autocommit(target, write, oneshot)
    dbapi: Any = conn.connection.dbapi_connection
    if dbapi.autocommit == want:
        return {}
    return {"isolation_level": "AUTOCOMMIT" if want else conn.default_isolation_level}


def serialized(target: Target) -> str:
    """Which transactions a process runs one at a time on `target` (a driver's `serialize`):
    SQLite's writes (its file takes one writer), all of them in memory (one connection)."""
    if target.backend != "sqlite":
        return "none"
    return "all" if target.memory else "writes"
