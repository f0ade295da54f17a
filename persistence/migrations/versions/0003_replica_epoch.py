"""The replicated saver's epoch, stored in every copy (which copy is authoritative).

Revision ID: 0003_replica_epoch
Revises: 0002_sessions
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from accord.persistence.schema import MYSQL_TABLE_OPTIONS, STATUS_LENGTH, text, timestamp

revision: str = "0003_replica_epoch"
down_revision: str | Sequence[str] | None = "0002_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
_EPOCH_ZERO = datetime(2026, 1, 1)


def upgrade() -> None:
    table = op.create_table(
        "accord_replication",
        sa.Column("name", sa.String(STATUS_LENGTH), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("leader", text(), nullable=False),
        sa.Column("updated_at", timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_accord_replication"),
        **MYSQL_TABLE_OPTIONS,
    )
    # The one row exists from the start, so raising the epoch is a plain conditional UPDATE
    # (two concurrent inserts of it would collide).
    op.bulk_insert(table, [{"name": "epoch", "epoch": 0, "leader": "", "updated_at": _EPOCH_ZERO}])


def downgrade() -> None:
    op.drop_table("accord_replication")
