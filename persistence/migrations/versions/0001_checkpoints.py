"""Checkpoints, channel values (full or list deltas) and pending writes.

Revision ID: 0001_checkpoints
Revises:
Create Date: 2025-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from accord.persistence.schema import (
    CHANNEL_LENGTH,
    ID_LENGTH,
    MYSQL_TABLE_OPTIONS,
    NAMESPACE_LENGTH,
    TASK_ID_LENGTH,
    THREAD_ID_LENGTH,
    ascii_key,
    blob,
    key,
    text,
)

revision: str = "0001_checkpoints"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accord_checkpoints",
        sa.Column("thread_id", key(THREAD_ID_LENGTH), nullable=False),
        sa.Column("checkpoint_ns", key(NAMESPACE_LENGTH), nullable=False),
        sa.Column("checkpoint_id", ascii_key(ID_LENGTH), nullable=False),
        sa.Column("parent_checkpoint_id", ascii_key(ID_LENGTH), nullable=True),
        sa.Column("run_id", key(THREAD_ID_LENGTH), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("checkpoint", blob(), nullable=False),
        sa.Column("metadata", text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "thread_id", "checkpoint_ns", "checkpoint_id", name="pk_accord_checkpoints"
        ),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_accord_checkpoints_run_id", "accord_checkpoints", ["run_id"])
    op.create_table(
        "accord_blobs",
        sa.Column("thread_id", key(THREAD_ID_LENGTH), nullable=False),
        sa.Column("checkpoint_ns", key(NAMESPACE_LENGTH), nullable=False),
        sa.Column("channel", key(CHANNEL_LENGTH), nullable=False),
        sa.Column("version", ascii_key(ID_LENGTH), nullable=False),
        sa.Column("base", ascii_key(ID_LENGTH), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", blob(), nullable=False),
        sa.PrimaryKeyConstraint(
            "thread_id", "checkpoint_ns", "channel", "version", name="pk_accord_blobs"
        ),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_table(
        "accord_writes",
        sa.Column("thread_id", key(THREAD_ID_LENGTH), nullable=False),
        sa.Column("checkpoint_ns", key(NAMESPACE_LENGTH), nullable=False),
        sa.Column("checkpoint_id", ascii_key(ID_LENGTH), nullable=False),
        sa.Column("task_id", key(TASK_ID_LENGTH), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("channel", key(CHANNEL_LENGTH), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("value", blob(), nullable=False),
        sa.Column("task_path", text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "thread_id",
            "checkpoint_ns",
            "checkpoint_id",
            "task_id",
            "idx",
            name="pk_accord_writes",
        ),
        **MYSQL_TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("accord_writes")
    op.drop_table("accord_blobs")
    op.drop_index("ix_accord_checkpoints_run_id", table_name="accord_checkpoints")
    op.drop_table("accord_checkpoints")
