"""Publishing: dataset owners (pinned repository ids), namespace grants, producer tokens, jtis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opendata_registry.db.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the publishing tables."""
    op.create_table(
        "owners",
        sa.Column("dataset_id", sa.String(141), primary_key=True),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("repository_id", sa.String(40), nullable=False),
        sa.Column("repository_owner_id", sa.String(40), nullable=False),
        sa.Column("workflow_ref", sa.String(400), nullable=True),
        sa.Column("ref", sa.String(400), nullable=True),
        sa.Column("registered_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "namespace_grants",
        sa.Column("namespace", sa.String(39), primary_key=True),
        sa.Column("github_owner", sa.String(39), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "producer_tokens",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prefix", sa.String(40), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("namespace", sa.String(39), nullable=True),
        sa.Column("dataset_id", sa.String(141), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "used_jtis",
        sa.Column("jti", sa.String(200), primary_key=True),
        sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    )


def downgrade() -> None:
    """Drop the publishing tables."""
    for table in ("used_jtis", "producer_tokens", "namespace_grants", "owners"):
        op.drop_table(table)
