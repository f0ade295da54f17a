"""accord.persistence: the SQLAlchemy checkpointer, session stores and the typed errors.

What the other parts and users need (flows: `Flow`, its effects `Call` and `Sleep`, and the
drivers `drive`/`adrive`); the rest (operations, schema, report types such
as `Lease` and `VerifyReport`) lives in the subpackages named in the README.
"""

from typing import TYPE_CHECKING

from accord.persistence import lazy as _lazy

if TYPE_CHECKING:
    from accord.persistence.checkpoints.saver import SQLAlchemySaver
    from accord.persistence.errors import (
        AccordError,
        CorruptCheckpoint,
        DatabaseBusy,
        DatabaseUnavailable,
        NothingToRestore,
        PersistenceError,
        SessionBusy,
        SessionNotFound,
        UnsupportedDatabaseURL,
    )
    from accord.persistence.ops.flow import Call, Flow, Sleep, adrive, drive
    from accord.persistence.ops.tracing import tracing
    from accord.persistence.replication.saver import ReplicatedSaver
    from accord.persistence.restoring import arestore, restore
    from accord.persistence.sessions.audit import AuditEvent, AuditTrail
    from accord.persistence.sessions.journal import Begun, RunJournal
    from accord.persistence.sessions.leases import LeaseStore
    from accord.persistence.sessions.records import SessionRecord, SessionStore
else:
    __getattr__, __dir__ = _lazy.exports(
        __name__,
        {
            "SQLAlchemySaver": ".checkpoints.saver",
            "AccordError": ".errors",
            "CorruptCheckpoint": ".errors",
            "DatabaseBusy": ".errors",
            "DatabaseUnavailable": ".errors",
            "NothingToRestore": ".errors",
            "PersistenceError": ".errors",
            "SessionBusy": ".errors",
            "SessionNotFound": ".errors",
            "UnsupportedDatabaseURL": ".errors",
            "Call": ".ops.flow",
            "Flow": ".ops.flow",
            "Sleep": ".ops.flow",
            "adrive": ".ops.flow",
            "drive": ".ops.flow",
            "tracing": ".ops.tracing",
            "ReplicatedSaver": ".replication.saver",
            "arestore": ".restoring",
            "restore": ".restoring",
            "AuditEvent": ".sessions.audit",
            "AuditTrail": ".sessions.audit",
            "Begun": ".sessions.journal",
            "RunJournal": ".sessions.journal",
            "LeaseStore": ".sessions.leases",
            "SessionRecord": ".sessions.records",
            "SessionStore": ".sessions.records",
        },
    )

__all__ = [
    "AccordError",
    "AuditEvent",
    "AuditTrail",
    "Begun",
    "Call",
    "CorruptCheckpoint",
    "DatabaseBusy",
    "DatabaseUnavailable",
    "Flow",
    "LeaseStore",
    "NothingToRestore",
    "PersistenceError",
    "ReplicatedSaver",
    "RunJournal",
    "SQLAlchemySaver",
    "SessionBusy",
    "SessionNotFound",
    "SessionRecord",
    "SessionStore",
    "Sleep",
    "UnsupportedDatabaseURL",
    "adrive",
    "arestore",
    "drive",
    "restore",
    "tracing",
]
