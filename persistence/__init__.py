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
from accord.persistence.saver import SQLAlchemySaver
from accord.persistence.sessions import (
    SessionConflict,
    SessionNotFound,
    SessionRecord,
    SessionStore,
)

__all__ = [
    "AccordError",
    "AuditEvent",
    "AuditTrail",
    "CorruptCheckpoint",
    "DatabaseUnavailable",
    "Lease",
    "LeaseStore",
    "PersistenceError",
    "SQLAlchemySaver",
    "SessionBusy",
    "SessionConflict",
    "SessionNotFound",
    "SessionRecord",
    "SessionStore",
    "UnsupportedDatabaseURL",
    "UnsupportedOperation",
]
