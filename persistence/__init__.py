"""accord.persistence: the SQLAlchemy checkpointer, session stores and the typed errors.

What the other parts and users need; the rest (operations, flows, schema, report types such
as `Lease`, `Begun` and `VerifyReport`) lives in the subpackages named in the README.
"""

from accord.persistence.checkpoints.saver import SQLAlchemySaver
from accord.persistence.errors import (
    AccordError,
    CorruptCheckpoint,
    DatabaseUnavailable,
    NothingToRestore,
    PersistenceError,
    SessionBusy,
    SessionConflict,
    SessionNotFound,
    UnsupportedDatabaseURL,
    UnsupportedOperation,
)
from accord.persistence.replication.saver import ReplicatedSaver
from accord.persistence.restore import arestore, restore
from accord.persistence.sessions.audit import AuditEvent, AuditTrail
from accord.persistence.sessions.journal import RunJournal
from accord.persistence.sessions.leases import LeaseStore
from accord.persistence.sessions.records import SessionRecord, SessionStore

__all__ = [
    "AccordError",
    "AuditEvent",
    "AuditTrail",
    "CorruptCheckpoint",
    "DatabaseUnavailable",
    "LeaseStore",
    "NothingToRestore",
    "PersistenceError",
    "ReplicatedSaver",
    "RunJournal",
    "SQLAlchemySaver",
    "SessionBusy",
    "SessionConflict",
    "SessionNotFound",
    "SessionRecord",
    "SessionStore",
    "UnsupportedDatabaseURL",
    "UnsupportedOperation",
    "arestore",
    "restore",
]
