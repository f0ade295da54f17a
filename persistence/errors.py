"""The typed errors of accord: one base class, each error says what was wrong and what to do."""

from __future__ import annotations

from datetime import datetime


class AccordError(Exception):
    """Base class of every error accord raises on purpose.

    Catch this to handle anything accord reports; each subclass names the problem and the fix.
    """


class PersistenceError(AccordError):
    """A checkpoint or session record could not be stored or read."""


class UnsupportedDatabaseURL(PersistenceError, ValueError):
    """The database URL names a scheme or driver accord does not support."""


class InvalidName(PersistenceError, ValueError):
    """A session id, user, role or agent name that cannot be stored: empty, too long, or with
    control characters or lone surrogates. Use printable text."""


class DatabaseReadOnly(PersistenceError):
    """The database refused a write because it is read-only (a read-only file or folder, a
    read-only mount, a read-only server): give accord a database it may write to."""


class DatabaseUnavailable(PersistenceError, ConnectionError):
    """The database could not be reached (wrong host, port, credentials, or the server is down)."""


class DatabaseBusy(PersistenceError, TimeoutError):
    """Every connection stayed busy for longer than the saver's `queue_timeout`.

    Operations queue for a connection (first come, first served) instead of failing; this
    is raised only when the wait is longer than the bound. Retry later, raise the saver's
    `concurrency` (more connections, within the server's limit) or its `queue_timeout`.
    """


class CorruptCheckpoint(PersistenceError):
    """A stored row could not be decoded, or its bytes do not match their checksum.

    Restore an earlier checkpoint (`restore(saver, thread_id, checkpoint_id=...)`): it does
    not need the corrupt one decoded.

    Attributes:
        thread_id: The thread (a session's id), when known.
        checkpoint_ns: Its namespace.
        checkpoint_id: The corrupt checkpoint.
    """

    def __init__(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        checkpoint_ns: str = "",
        checkpoint_id: str | None = None,
    ) -> None:
        """Say what is corrupt and what to do; keep where it is for callers that skip it."""
        super().__init__(message)
        self.thread_id = thread_id
        self.checkpoint_ns = checkpoint_ns
        self.checkpoint_id = checkpoint_id


class UnsupportedOperation(PersistenceError, NotImplementedError):
    """The request is valid in general but cannot be carried out on this data."""


class Undecodable(PersistenceError):
    """A stored row cannot be turned back into a value.

    Internal: readers catch it and raise `CorruptCheckpoint` naming the checkpoint.
    """


class NothingToRestore(PersistenceError, LookupError):
    """The thread had no checkpoint at that moment (or no such checkpoint id).

    Pick a later time, or a checkpoint id from the thread's history (`saver.list(config)`).
    """


class SessionNotFound(PersistenceError, KeyError):
    """No session has this id: check the id, or `create` the session first."""


class SessionConflict(PersistenceError):
    """The session changed since it was read: `get` it again and retry the update."""


class SessionBusy(PersistenceError):
    """Another holder has the session's lease: wait for it (`wait=`), or try again later.

    Attributes:
        session_id: The session.
        holder: Who holds the lease now (None if it vanished meanwhile).
        expires_at: When it expires unless renewed.
    """

    def __init__(self, session_id: str, holder: str | None, expires_at: datetime | None) -> None:
        """Say who holds the session and until when."""
        super().__init__(
            f"session {session_id!r} is leased by {holder!r} until {expires_at}; "
            "retry after it is released or expires, or pass wait= to wait for it"
        )
        self.session_id = session_id
        self.holder = holder
        self.expires_at = expires_at
