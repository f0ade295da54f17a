"""Session records, leases and the audit trail.

Revision ID: 0002_sessions
Revises: 0001_checkpoints
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from accord.persistence.schema import (
    MYSQL_TABLE_OPTIONS,
    NAME_LENGTH,
    STATUS_LENGTH,
    THREAD_ID_LENGTH,
    big_id,
    key,
    text,
    timestamp,
)

revision: str = "0002_sessions"
down_revision: str | Sequence[str] | None = "0001_checkpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accord_sessions",
        sa.Column("session_id", key(THREAD_ID_LENGTH), nullable=False),
        sa.Column("owner", key(NAME_LENGTH), nullable=False),
        sa.Column("agent", key(NAME_LENGTH), nullable=True),
        sa.Column("status", sa.String(STATUS_LENGTH), nullable=False),
        sa.Column("scope", text(), nullable=False),
        sa.Column("limits", text(), nullable=False),
        sa.Column("usage", text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Column("updated_at", timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_accord_sessions"),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_accord_sessions_owner_status", "accord_sessions", ["owner", "status"])
    op.create_table(
        "accord_leases",
        sa.Column("session_id", key(THREAD_ID_LENGTH), nullable=False),
        sa.Column("holder", key(NAME_LENGTH), nullable=False),
        sa.Column("expires_at", timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_accord_leases"),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_table(
        "accord_audit",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("session_id", key(THREAD_ID_LENGTH), nullable=False),
        sa.Column("at", timestamp(), nullable=False),
        sa.Column("actor", key(NAME_LENGTH), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("agent", key(NAME_LENGTH), nullable=True),
        sa.Column("details", text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accord_audit"),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_accord_audit_session_id", "accord_audit", ["session_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_accord_audit_session_id", table_name="accord_audit")
    op.drop_table("accord_audit")
    op.drop_table("accord_leases")
    op.drop_index("ix_accord_sessions_owner_status", table_name="accord_sessions")
    op.drop_table("accord_sessions")
