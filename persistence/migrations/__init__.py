"""Alembic migrations of every accord table, run programmatically (no alembic.ini needed).

`accord.persistence.migrate.upgrade` applies them; savers call it on first use. To add tables
(session records, leases, audit, ...) add a revision to `versions/` whose `down_revision` is the
current head, with a `revision` id of the form `NNNN_topic` (at most 32 characters), prefix its
tables `accord_`, and describe them in `accord.persistence.schema` as well. To generate one:

    alembic -c /dev/null -x url=sqlite:///scratch.db revision -m "..."  # or write it by hand

Revisions must be safe to run while another process waits on the migration lock, and must not
assume they own the database: other applications' tables may live beside ours.
"""
