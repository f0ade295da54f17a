"""`--db`, the same everywhere: a database URL or a plain path to an SQLite file.

Commands that only read (`sessions`, `metrics`) never create a database: a path or an
`sqlite:///` URL naming a file that does not exist is an error that echoes what was typed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

DEFAULT = "accord.sqlite"
"""The database `run`, `serve`, `sessions` and `metrics` share when `--db` is not given."""

HELP = "Database: a path to an SQLite file, or a URL (postgresql+psycopg://...)."


def database_url(typed: str, *, reading: bool = False, memory: bool = False) -> str:
    """The database URL for what was typed after `--db`.

    Args:
        typed: A URL (`sqlite:///file`, `postgresql+psycopg://...`, `mysql+pymysql://...`) or
            a path to an SQLite file (`sessions.sqlite`, `~/chats.db`).
        reading: The command only reads: the SQLite file must exist.
        memory: An in-memory database will do (`serve`: it lives as long as the server).

    Raises:
        BadDatabase: Nothing was typed, the folder of a new SQLite file does not exist, or
            the database is in memory where the sessions must outlive the command.
        DatabaseNotFound: Reading, and the SQLite file does not exist.
    """
    from accord.app.errors import BadDatabase, DatabaseNotFound

    text = typed.strip()
    if not text:
        raise BadDatabase("--db is empty: give a path (sessions.sqlite) or a database URL")
    if "://" in text:
        url, path = text, sqlite_file(text)
    else:
        path = Path(text).expanduser()
        url = f"sqlite:///{path.resolve()}"
    if path is None and not memory and _dialect(url) == "sqlite":  # SQLite naming no file
        raise BadDatabase(
            f"--db {typed!r} is an in-memory database: it is empty to every new process and its "
            "sessions go when this one exits; give a file (accord.sqlite) or a server's URL"
        )
    if path is None:
        return url
    if reading and not path.is_file():
        where = "" if str(path) == typed else f" ({path})"
        raise DatabaseNotFound(
            f"--db {typed!r}: no database file there{where}. Read commands never create one: "
            "check the path, or run a team with the same --db first"
        )
    if not path.resolve().parent.is_dir():
        raise BadDatabase(f"--db {typed!r}: the folder {path.resolve().parent} does not exist")
    return url


def _dialect(url: str) -> str:
    """The kind of database a URL names: `sqlite` for `sqlite+pysqlite:///...`."""
    return url.partition("://")[0].partition("+")[0]


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names; None for other databases and in-memory SQLite."""
    rest = url.partition("://")[2]
    if _dialect(url) != "sqlite" or not rest.startswith("/"):
        return None
    name = rest[1:].partition("?")[0]
    if not name or name == ":memory:":
        return None
    return Path(name)


@contextlib.contextmanager
def listed(db: str) -> Iterator[None]:
    """Says where to find the ids when a session id is not in the database `db` (as typed)."""
    from accord.persistence import SessionNotFound

    try:
        yield
    except SessionNotFound as missing:
        said = str(missing.args[0] if missing.args else "no such session").split(";")[0]
        raise SessionNotFound(
            f"{said} in --db {db}; `accord sessions list --db {db}` lists the sessions there"
        ) from None
