"""The base of the session stores: binding to a saver, and the values they store.

Session records, leases and the audit trail live beside the checkpoints (their tables are in
`accord.persistence.schema`) and run their operations on a saver: the same engines, the same
transaction handling and the same migrations.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy.engine import URL

from accord.persistence.engine import Target
from accord.persistence.ops.driver import Operation

T = TypeVar("T")


def utcnow() -> datetime:
    """Now in UTC, aware."""
    return datetime.now(UTC)


def to_db(moment: datetime) -> datetime:
    """An aware instant as the naive UTC value stored (naive input is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


def from_db(value: datetime | str) -> datetime:
    """A stored naive UTC value as an aware instant.

    Read on DBAPI directly (the native path), SQLite hands back the stored text.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def dumps(value: Any) -> str:
    """A JSON document, keys sorted so equal values store equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def loads(value: str) -> Any:
    """The document stored by `dumps`."""
    return json.loads(value)


class Saver(Protocol):
    """What a store runs on: `SQLAlchemySaver`, or `ReplicatedSaver` (writes to every copy)."""

    @property
    def target(self) -> Target:
        """The database that answers reads now (its dialect builds the statements)."""

    def run(self, op: Operation[T]) -> T:
        """Run an operation in one transaction."""

    async def arun(self, op: Operation[T]) -> T:
        """Async `run`."""


Bind = Saver | str | URL
"""What a store binds to: a saver, a replicated saver, or a database URL."""


class Owned(Protocol):
    """What a store closes when it built its saver."""

    def close(self) -> None:
        """Give back its connections."""

    async def aclose(self) -> None:
        """Async `close`."""


class Bound:
    """Runs store operations on a saver, which the caller keeps owning or (a URL) this owns."""

    def __init__(self, bind: Bind, owned: bool = False) -> None:
        """Bind to a saver (`owned`: closed with the store), or to a new one for a URL."""
        self._owned: Owned | None = cast(Owned, bind) if owned else None
        if isinstance(bind, (str, URL)):
            # Imported here: a store bound to a saver (a CLI's read) needs none of LangGraph.
            from accord.persistence.checkpoints.saver import SQLAlchemySaver

            bind = self._owned = SQLAlchemySaver(bind)
        self.saver: Saver = bind

    def run(self, op: Operation[T]) -> T:
        """Run an operation on the saver's sync driver."""
        return self.saver.run(op)

    async def arun(self, op: Operation[T]) -> T:
        """Run an operation on the saver's async driver."""
        return await self.saver.arun(op)

    def close(self) -> None:
        """Close the saver if this store built it."""
        if self._owned is not None:
            self._owned.close()

    async def aclose(self) -> None:
        """Async `close`."""
        if self._owned is not None:
            await self._owned.aclose()


class Store:
    """Base of the stores kept beside the checkpoints: each runs on a saver's drivers."""

    def __init__(self, bind: Bind, *, owned: bool = False) -> None:
        """Use a saver's engines (the caller keeps owning it unless `owned`), or a new saver
        for a URL."""
        self._bound = Bound(bind, owned)

    def close(self) -> None:
        """Close the saver if this store built it from a URL."""
        self._bound.close()

    async def aclose(self) -> None:
        """Async `close`."""
        await self._bound.aclose()
