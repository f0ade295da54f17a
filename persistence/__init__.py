"""accord.persistence: the SQLAlchemy checkpointer and the typed errors every part shares."""

from accord.persistence.audit import AuditEvent, AuditTrail
from accord.persistence.errors import (
    AccordError,
    CorruptCheckpoint,
    DatabaseUnavailable,
    PersistenceError,
    UnsupportedDatabaseURL,
    UnsupportedOperation,
)
from accord.persistence.leases import Lease, LeaseStore, SessionBusy
from accord.persistence.replication import ReplicatedSaver
from accord.persistence.restore import NothingToRestore, arestore, restore
from accord.persistence.runs import Begun, RunJournal
from accord.persistence.saver import SQLAlchemySaver
from accord.persistence.sessions import (
    SessionConflict,
    SessionNotFound,
    SessionRecord,
    SessionStore,
)
from accord.persistence.verification import Mismatch, ReplicaReport, VerifyReport

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
