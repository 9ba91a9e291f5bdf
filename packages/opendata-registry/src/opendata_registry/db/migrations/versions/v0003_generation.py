"""A change counter for the in-process caches: bumped by triggers when keys or datasets change.

Every registry process (granian workers, replicas) caches API keys and decoded manifests and
compares this one integer before trusting them; any write to ``api_keys`` or ``datasets`` (a
revocation by the CLI, a sync, a commit by another replica) bumps it in the same transaction,
so no process serves from a stale cache after the writer committed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLES = ("api_keys", "datasets")


def upgrade() -> None:
    """Create the counter and the triggers that bump it."""
    op.create_table(
        "registry_generation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO registry_generation (id, value) VALUES (1, 0)")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in _TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(  # names from the constants above, never from input
                    f"CREATE TRIGGER {table}_generation_{event.lower()} AFTER {event} ON {table} "  # noqa: S608
                    "BEGIN UPDATE registry_generation SET value = value + 1 WHERE id = 1; END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION registry_bump_generation() RETURNS trigger AS $$ BEGIN "
            "UPDATE registry_generation SET value = value + 1 WHERE id = 1; RETURN NULL; "
            "END $$ LANGUAGE plpgsql"
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_generation AFTER INSERT OR UPDATE OR DELETE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION registry_bump_generation()"
            )


def downgrade() -> None:
    """Drop the triggers and the counter."""
    dialect = op.get_bind().dialect.name
    for table in _TABLES:
        if dialect == "sqlite":
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_generation_{event}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_generation ON {table}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS registry_bump_generation()")
    op.drop_table("registry_generation")
