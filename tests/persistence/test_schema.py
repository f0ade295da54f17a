"""The models and the migrations agree: Alembic finds nothing to autogenerate after upgrade."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from accord.persistence import SQLAlchemySaver, migrate
from accord.persistence.engine import resolve
from accord.persistence.schema import VERSION_TABLE, metadata


def test_a_migrated_database_matches_the_models(saver_url: str) -> None:
    with SQLAlchemySaver.from_url(saver_url) as saver:
        saver.setup()
    engine = create_engine(resolve(saver_url).sync_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "version_table": VERSION_TABLE,
                    "include_name": migrate.ours,
                    "compare_type": True,
                    "compare_server_default": True,
                },
            )
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_every_table_is_in_the_one_metadata() -> None:
    assert sorted(metadata.tables) == [
        "accord_audit",
        "accord_blobs",
        "accord_checkpoints",
        "accord_leases",
        "accord_replication",
        "accord_sessions",
        "accord_writes",
    ]
