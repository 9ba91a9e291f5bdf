"""PostgreSQL: the full-text vector in a narrow table of its own (``dataset_search``).

Matching a common word over the wide ``datasets`` rows (JSON documents, README) read the whole
table; the vectors alone are a third of its size. A trigger copies the generated
``datasets.search`` (and ``id``, the tie-break of the ranking) into ``dataset_search`` on every
insert or text change; the GIN index moves there. SQLite is unchanged (its FTS5 index is
already a table of its own).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``dataset_search``, fill it, keep it by trigger; move the GIN index there."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE dataset_search (pk integer PRIMARY KEY "
        "REFERENCES datasets (pk) ON DELETE CASCADE, id varchar(141) NOT NULL, "
        "search tsvector NOT NULL)"
    )
    op.execute("INSERT INTO dataset_search (pk, id, search) SELECT pk, id, search FROM datasets")
    op.execute("CREATE INDEX ix_dataset_search ON dataset_search USING GIN (search)")
    op.execute(
        "CREATE FUNCTION dataset_search_copy() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO dataset_search (pk, id, search) VALUES (NEW.pk, NEW.id, NEW.search) "
        "ON CONFLICT (pk) DO UPDATE SET id = EXCLUDED.id, search = EXCLUDED.search; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER datasets_search_copy AFTER INSERT OR UPDATE OF id, title, description, "
        "topics_text ON datasets FOR EACH ROW EXECUTE FUNCTION dataset_search_copy()"
    )
    op.execute("DROP INDEX ix_datasets_search")


def downgrade() -> None:
    """Back to the GIN index on ``datasets``."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_datasets_search ON datasets USING GIN (search)")
    op.execute("DROP TRIGGER datasets_search_copy ON datasets")
    op.execute("DROP FUNCTION dataset_search_copy()")
    op.execute("DROP TABLE dataset_search")
