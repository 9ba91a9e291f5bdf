"""Search: index only the stems that do not begin their word (decision 0012).

A stem that begins its word (``rates`` → ``rate``) matches no query the word itself does not
(a prefix of the stem is a prefix of the word), yet indexing it doubled the postings of every
such word: a common word's prefix query read two lists. ``opendata_core.search.stems`` now
keeps only the others (``country`` → ``countri``, ``rating`` → ``rate``); this recomputes
``datasets.search_stems`` of the datasets already there (the engines' triggers and generated
column reindex them). What a query finds does not change.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Recompute ``search_stems`` with core's current rule."""
    from opendata_registry.db.models import search_stems

    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT pk, id, title, description, topics_text, search_stems FROM datasets")
    ).all()
    changed = [
        {"pk": r[0], "stems": new}
        for r in rows
        if (new := search_stems(*(v or "" for v in r[1:5]))) != r[5]
    ]
    if changed:
        bind.execute(sa.text("UPDATE datasets SET search_stems = :stems WHERE pk = :pk"), changed)


def downgrade() -> None:
    """Nothing to undo: the fewer stems find the same datasets."""
