"""Partial indexes for the facet index's lifecycle reads: withdrawn and trusted datasets.

Few datasets are withdrawn or trusted. Reading their keys with ``WHERE status = 'withdrawn'``
and ``WHERE trust <> 'none'`` read every (wide) ``datasets`` row before; a partial index with
that predicate gives them directly (both engines use one when the query repeats its predicate
with the constant: :mod:`opendata_registry.domain.catalogue.facets`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two partial indexes."""
    op.execute("CREATE INDEX ix_datasets_withdrawn ON datasets (pk) WHERE status = 'withdrawn'")
    op.execute("CREATE INDEX ix_datasets_trusted ON datasets (pk) WHERE trust <> 'none'")


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_datasets_trusted", table_name="datasets")
    op.drop_index("ix_datasets_withdrawn", table_name="datasets")
