"""accord.persistence: the SQLAlchemy checkpointer and the typed errors every part shares."""

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
from accord.persistence.replication.verify import Mismatch, ReplicaReport, VerifyReport
from accord.persistence.restore import arestore, restore
from accord.persistence.sessions.audit import AuditEvent, AuditTrail
from accord.persistence.sessions.journal import Begun, RunJournal
from accord.persistence.sessions.leases import Lease, LeaseStore
from accord.persistence.sessions.records import SessionRecord, SessionStore

__all__ = [
    "AccordError",
    "AuditEvent",
    "AuditTrail",
    "Begun",
    "CorruptCheckpoint",
    "DatabaseUnavailable",
    "Lease",
    "LeaseStore",
    "Mismatch",
    "NothingToRestore",
    "PersistenceError",
    "ReplicaReport",
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
    "VerifyReport",
    "arestore",
    "restore",
]
