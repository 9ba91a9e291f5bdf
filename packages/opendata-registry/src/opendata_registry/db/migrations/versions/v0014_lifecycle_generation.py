"""The change counter follows ``lifecycles``: a download answers with the dataset's lifecycle.

Every download answer carries the dataset's ``lifecycle.json`` (spec §10.4), so a load learns
whether it is deprecated without a second request. The registry keeps that document in its
per-process hot cache beside the current manifest, keyed by ``registry_generation`` (migration
0003): a write to ``lifecycles`` (deprecate, verify, withdraw, …) must bump the counter, as
writes to ``datasets`` and ``dataset_tags`` do. PostgreSQL reuses migration 0004's function
(one bump per transaction).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_BUMP = "UPDATE registry_generation SET value = value + 1 WHERE id = 1"


def upgrade() -> None:
    """Triggers on ``lifecycles`` that bump the counter."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER lifecycles_generation_{event.lower()} AFTER {event} "
                f"ON lifecycles BEGIN {_BUMP}; END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER lifecycles_generation AFTER INSERT OR UPDATE OR DELETE "
            "ON lifecycles FOR EACH STATEMENT EXECUTE FUNCTION registry_bump_generation()"
        )


def downgrade() -> None:
    """Drop the triggers."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS lifecycles_generation_{event}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS lifecycles_generation ON lifecycles")
