"""Database errors as accord's typed errors: what failed, on which database, and what to do.

The drivers raise only these: a refused statement is a `PersistenceError`, a lost server
`DatabaseUnavailable`, a pool with no free connection `DatabaseBusy`; never the driver's or
SQLAlchemy's own exception (the password is masked in every message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

from accord.persistence.engine import Target
from accord.persistence.errors import (
    DatabaseBusy,
    DatabaseReadOnly,
    DatabaseUnavailable,
    PersistenceError,
)

READ_ONLY = ("readonly database", "read-only file system", "read only transaction", "read-only")
"""How the drivers say a write was refused because the database is read-only."""
NOT_A_DATABASE = "file is not a database"
"""How SQLite says the file it opened is something else (SQLITE_NOTADB)."""


def retryable(exc: DBAPIError) -> bool:
    """Deadlocks and serialization failures: the transaction rolled back and may be rerun."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in ("40001", "40P01"):
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in (1213, 1205)  # MySQL deadlock, lock wait timeout


def translated(target: Target, what: str, work: Callable[[], None]) -> None:
    """Runs `work`, translating its database errors."""
    try:
        work()
    except DBAPIError as exc:
        raise translate(target, what, exc) from exc


def translate(target: Target, what: str, exc: DBAPIError) -> PersistenceError:
    """The typed error for a database error of `what`."""
    if exc.connection_invalidated:
        return unavailable(target, exc)
    said = reason(target, exc)
    if any(sign in said.lower() for sign in READ_ONLY):
        return DatabaseReadOnly(
            f"{what} failed: {target.describe()} is read-only ({said}); give accord a"
            " database it may write to (check the file's and its folder's permissions, or"
            " the mount)"
        )
    return PersistenceError(f"{what} failed on {target.describe()}: {reason(target, exc)}")


def unavailable(target: Target, exc: DBAPIError) -> DatabaseUnavailable:
    """The server (or file) could not be reached."""
    said = reason(target, exc)
    if target.backend != "sqlite":
        hint = (
            "check that the server is running and that the URL's host, port, user, "
            "password and database name are right"
        )
    elif NOT_A_DATABASE in said:
        hint = "it is some other file: give accord's database, or a new file's path"
    else:
        hint = "check that the directory exists and is writable"
    return DatabaseUnavailable(f"cannot reach {target.describe()}: {said}; {hint}")


def busy(target: Target, what: str, exc: Exception, waited: float | None = None) -> DatabaseBusy:
    """Every connection stayed busy: raised after a bounded wait, never SQLAlchemy's own."""
    after = f" for {waited:g}s" if waited is not None else f" ({exc})"
    return DatabaseBusy(
        f"{what} waited for a connection to {target.describe()}{after}, all of them busy;"
        " retry later, or give the saver a larger concurrency= (more connections, within"
        " the server's max_connections) or queue_timeout="
    )


def reason(target: Target, exc: DBAPIError) -> str:
    """The driver's message, its password masked."""
    said = str(exc.orig).strip() or type(exc.orig).__name__
    password = target.sync_url.password
    return said.replace(password, "***") if password else said
