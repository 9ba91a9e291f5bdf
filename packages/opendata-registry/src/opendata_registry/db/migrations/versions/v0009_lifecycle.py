"""Dataset lifecycle and trust (spec §10): every id's state, audit events, namespace owners.

- ``lifecycles``: one row per id that has a ``lifecycle.json`` (a live dataset's, or the
  reserved tombstone of a moved one), with the document itself and the bucket's ETag of it, so
  a sync reads only changed documents and a rebuilt database gets every state back.
- ``lifecycle_events``: the audit trail (who, when, what, why) of each id, in order; a
  namespace transfer is recorded under the namespace itself (``subject`` without a slash).
- ``namespace_owners``: the GitHub owner id a namespace belongs to once an operator transferred
  it (``opendata-registry namespaces transfer``).
- ``datasets`` gains ``status``, ``trust`` and ``trust_review_by`` (what search filters and
  counts: withdrawn datasets are left out, trust is a facet), written by the sync from the entry.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the lifecycle tables and the search columns of ``datasets``."""
    op.create_table(
        "lifecycles",
        sa.Column("dataset_id", sa.String(141), primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("moved_to", sa.String(141), nullable=True),
        sa.Column("trust", sa.String(24), nullable=False),
        sa.Column("trust_review_by", sa.Date, nullable=True),
        sa.Column("doc_json", sa.Text, nullable=False),
        sa.Column("etag", sa.String(200), nullable=False, server_default=""),
        sa.Column("updated_at", _UTC, nullable=False),
    )
    op.create_table(
        "lifecycle_events",
        sa.Column("subject", sa.String(141), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("details_json", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "namespace_owners",
        sa.Column("namespace", sa.String(39), primary_key=True),
        sa.Column("owner_id", sa.String(40), nullable=False),
        sa.Column("transferred_at", _UTC, nullable=False),
        sa.Column("transferred_by", sa.String(200), nullable=False),
    )
    # Plain ADD COLUMN on both engines (a batch would rebuild ``datasets`` and lose the
    # full-text triggers of SQLite).
    op.add_column(
        "datasets", sa.Column("status", sa.String(12), nullable=False, server_default="active")
    )
    op.add_column(
        "datasets", sa.Column("trust", sa.String(24), nullable=False, server_default="none")
    )
    op.add_column("datasets", sa.Column("trust_review_by", sa.Date, nullable=True))


def downgrade() -> None:
    """Drop them (the bucket's ``lifecycle.json`` documents keep the state)."""
    for column in ("trust_review_by", "trust", "status"):
        op.drop_column("datasets", column)  # SQLite >= 3.35 drops a column in place
    op.drop_table("namespace_owners")
    op.drop_table("lifecycle_events")
    op.drop_table("lifecycles")
