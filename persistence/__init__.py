"""accord.persistence: the SQLAlchemy checkpointer and the typed errors every part shares."""

from accord.persistence.errors import (
    AccordError,
    CorruptCheckpoint,
    DatabaseUnavailable,
    PersistenceError,
    UnsupportedDatabaseURL,
    UnsupportedOperation,
)
from accord.persistence.saver import SQLAlchemySaver

__all__ = [
    "AccordError",
    "CorruptCheckpoint",
    "DatabaseUnavailable",
    "PersistenceError",
    "SQLAlchemySaver",
    "UnsupportedDatabaseURL",
    "UnsupportedOperation",
]
