"""A catalogue generation: one counter row that every change to the catalogue bumps.

Search caches what depends only on the catalogue (facet values per dataset) keyed by this
number; triggers bump it on every write to ``datasets`` and ``dataset_tags``, whoever writes
(sync, publishing, a bulk load), so every process sees a change on its next request.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLES = ("datasets", "dataset_tags")
_BUMP = "UPDATE catalogue_state SET generation = generation + 1 WHERE id = 1"


def upgrade() -> None:
    """Create ``catalogue_state`` (one row) and the triggers that bump it."""
    op.create_table(
        "catalogue_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO catalogue_state (id, generation) VALUES (1, 0)")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # Row-level (SQLite has no statement triggers): one small update per written row.
        for table in _TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_generation_{event.lower()} AFTER {event} ON {table} "
                    f"BEGIN {_BUMP}; END"
                )
    elif dialect == "postgresql":
        # Statement-level, and once per transaction (a transaction-local setting remembers
        # it): a bulk load is not thousands of updates of one row in one transaction.
        op.execute(
            "CREATE FUNCTION catalogue_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF current_setting('opendata.generation_bumped', true) IS DISTINCT FROM "
            f"txid_current()::text THEN {_BUMP}; "
            "PERFORM set_config('opendata.generation_bumped', txid_current()::text, true); "
            "END IF; RETURN NULL; END $$"
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION catalogue_bump_generation()"
            )


def downgrade() -> None:
    """Drop the triggers and the table."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in _TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_generation_{event}")
    elif dialect == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_generation ON {table}")
        op.execute("DROP FUNCTION IF EXISTS catalogue_bump_generation()")
    op.drop_table("catalogue_state")
