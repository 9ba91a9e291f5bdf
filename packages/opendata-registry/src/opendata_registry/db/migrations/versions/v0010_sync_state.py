"""What the last sync saw of the bucket: the ``index.json`` ETag the catalogue is in step with.

``opendata-registry sync --changed`` and the periodic sync compare it with the bucket's current
``index.json`` (one HEAD request): every publish, through the registry or straight to the
bucket, rewrites that document, so an equal ETag means nothing was published since, and the
sync ends without listing the bucket.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``sync_state`` (name → value)."""
    op.create_table(
        "sync_state",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    """Drop ``sync_state``."""
    op.drop_table("sync_state")
