"""The typed errors of accord: one base class, each error says what was wrong and what to do."""

from __future__ import annotations


class AccordError(Exception):
    """Base class of every error accord raises on purpose.

    Catch this to handle anything accord reports; each subclass names the problem and the fix.
    """


class PersistenceError(AccordError):
    """A checkpoint or session record could not be stored or read."""


class UnsupportedDatabaseURL(PersistenceError, ValueError):
    """The database URL names a scheme or driver accord does not support."""


class DatabaseUnavailable(PersistenceError, ConnectionError):
    """The database could not be reached (wrong host, port, credentials, or the server is down)."""


class CorruptCheckpoint(PersistenceError):
    """A stored row could not be decoded; the message names the thread and checkpoint."""


class UnsupportedOperation(PersistenceError, NotImplementedError):
    """The request is valid in general but cannot be carried out on this data."""
