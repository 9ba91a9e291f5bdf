"""Dataset policy: an environment apart from the ref, and an explicit switch for producer tokens.

A policy's ``ref`` was matched against the token's ``ref`` *or* ``environment`` claim, so a job
on any branch running in an environment named ``refs/heads/main`` satisfied ``--ref
refs/heads/main``. Now ``ref`` matches ``ref`` only and ``environment`` (new) matches
``environment`` only. A stored ``ref`` that is not a git ref (``refs/…``) can only ever have
matched an environment name: it moves to ``environment`` (lower-case, as GitHub compares
environment names), so the policy keeps meaning what its operator meant.

``allow_tokens`` (new, false): a dataset pinned to a repository refuses producer tokens unless
an operator allows them (``opendata-registry datasets policy ID --allow-tokens``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``environment`` and ``allow_tokens``; move environment names out of ``ref``."""
    with op.batch_alter_table("owners") as batch:
        batch.add_column(sa.Column("environment", sa.String(400), nullable=True))
        batch.add_column(
            sa.Column("allow_tokens", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.execute(
        "UPDATE owners SET environment = lower(ref), ref = NULL "
        "WHERE ref IS NOT NULL AND ref NOT LIKE 'refs/%'"
    )


def downgrade() -> None:
    """Fold ``environment`` back into ``ref`` (where no ref is set) and drop both columns."""
    op.execute("UPDATE owners SET ref = environment WHERE ref IS NULL AND environment IS NOT NULL")
    with op.batch_alter_table("owners") as batch:
        batch.drop_column("allow_tokens")
        batch.drop_column("environment")
