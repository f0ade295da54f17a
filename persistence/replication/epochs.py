"""The epoch every copy of a replicated saver stores: which copies are authoritative.

One row per database (`accord_replication`, name "epoch"): the generation and the copy that
led it. A `ReplicatedSaver` raises the epoch on the copies that still have every write
whenever that set shrinks (a failover, a replica that missed a write), so the copies left
behind keep a lower one. After a restart the copies holding the highest epoch are
authoritative; the others are stale, and are neither read nor written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from accord.persistence.ops.driver import Operation, Steps
from accord.persistence.schema import replication
from accord.persistence.sessions.stores import to_db, utcnow

KEY = "epoch"


@dataclass(frozen=True, slots=True)
class Epoch:
    """A copy's stored generation, and the copy (in words) that led it."""

    number: int
    leader: str | None


def reading() -> Operation[Epoch]:
    """The copy's epoch (0 and no leader: never part of a replicated set)."""

    def steps() -> Steps[Epoch]:
        found = yield (
            select(replication.c.epoch, replication.c.leader).where(replication.c.name == KEY),
            {},
        )
        if not found.rows:
            return Epoch(0, None)
        row = found.rows[0]
        return Epoch(int(row.epoch), row.leader or None)

    return Operation(steps, write=False, what="reading the replica epoch")


def writing(epoch: Epoch) -> Operation[None]:
    """Raise the copy's epoch to `epoch` (never lowers it; the row is made by the migration)."""

    def steps() -> Steps[None]:
        now = to_db(utcnow())
        yield (
            update(replication)
            .where(replication.c.name == KEY, replication.c.epoch < epoch.number)
            .values(epoch=epoch.number, leader=epoch.leader or "", updated_at=now),
            {},
        )

    return Operation(steps, write=True, what=f"raising the replica epoch to {epoch.number}")
