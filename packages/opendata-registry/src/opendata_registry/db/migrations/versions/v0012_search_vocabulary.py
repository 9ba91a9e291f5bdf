"""Search: the catalogue's words, counted, for "did you mean" (decision 0005).

``datasets.search_words`` holds core's vocabulary words of a dataset's id, title, topics and
description (a JSON array, computed by the registry when it writes the dataset), and triggers
count them into ``search_vocabulary`` (word → datasets using it; a word no dataset uses any
more is deleted), whoever writes. A query that finds nothing reads that table, once per
catalogue generation, and core's ``Vocabulary`` suggests from it. Reading the text index's own
word list instead cost 0.3 to 0.9 s on SQLite (``fts5vocab`` counts every posting list) and
3 s on PostgreSQL (``ts_stat`` reads every vector) at 100,000 datasets, on the request path.

On PostgreSQL a statement trigger applies a statement's changes in one upsert, in word order,
so concurrent writers lock the counts they share in the same order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Each trigger's statements are fixed SQL (no input).
_SQLITE_DELTA = (
    "INSERT INTO search_vocabulary (word, datasets) "
    "SELECT word, sum(d) FROM ({rows}) GROUP BY word HAVING sum(d) != 0 "
    "ON CONFLICT (word) DO UPDATE SET datasets = datasets + excluded.datasets;"
)
_SQLITE_NEW = "SELECT value AS word, 1 AS d FROM json_each(new.search_words)"
_SQLITE_OLD = "SELECT value AS word, -1 AS d FROM json_each(old.search_words)"
_SQLITE_UNUSED = (
    "DELETE FROM search_vocabulary WHERE datasets <= 0 "
    "AND word IN (SELECT value FROM json_each(old.search_words));"
)
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER datasets_words_ai AFTER INSERT ON datasets BEGIN "
    + _SQLITE_DELTA.format(rows=_SQLITE_NEW)
    + " END",
    "CREATE TRIGGER datasets_words_ad AFTER DELETE ON datasets BEGIN "
    + _SQLITE_DELTA.format(rows=_SQLITE_OLD)
    + " "
    + _SQLITE_UNUSED
    + " END",
    "CREATE TRIGGER datasets_words_au AFTER UPDATE OF search_words ON datasets "
    "WHEN old.search_words IS NOT new.search_words BEGIN "
    + _SQLITE_DELTA.format(rows=f"{_SQLITE_NEW} UNION ALL {_SQLITE_OLD}")
    + " "
    + _SQLITE_UNUSED
    + " END",
]
# Statement triggers with transition tables: a bulk insert counts each word once per statement.
# Row triggers updated the count of a common word once per row, and PostgreSQL keeps every
# version of a row updated again in the same transaction: 100,000 rows did not load in 8 min.
_PG_WORDS = (
    "SELECT w, {sign} AS d FROM {table}, "
    "jsonb_array_elements_text({table}.search_words::jsonb) AS w"
)
_PG_APPLY = (
    "INSERT INTO search_vocabulary (word, datasets) "
    "SELECT w, sum(d) FROM ({rows}) AS delta GROUP BY w HAVING sum(d) <> 0 ORDER BY w "
    "ON CONFLICT (word) DO UPDATE SET datasets = search_vocabulary.datasets + EXCLUDED.datasets;"
)
_PG_UNUSED = (
    "DELETE FROM search_vocabulary WHERE datasets <= 0 AND word IN "
    "(SELECT jsonb_array_elements_text(search_words::jsonb) FROM removed);"
)
_PG_ADDED = _PG_WORDS.format(sign=1, table="added")
_PG_REMOVED = _PG_WORDS.format(sign=-1, table="removed")
_PG_FUNCTION = f"""
CREATE FUNCTION search_vocabulary_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_PG_APPLY.format(rows=_PG_ADDED)}
    ELSIF TG_OP = 'DELETE' THEN
        {_PG_APPLY.format(rows=_PG_REMOVED)}
        {_PG_UNUSED}
    ELSE
        {_PG_APPLY.format(rows=f"{_PG_ADDED} UNION ALL {_PG_REMOVED}")}
        {_PG_UNUSED}
    END IF;
    RETURN NULL;
END $$
"""
_PG_TRIGGERS = [
    "CREATE TRIGGER datasets_words_insert AFTER INSERT ON datasets REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION search_vocabulary_count()",
    "CREATE TRIGGER datasets_words_delete AFTER DELETE ON datasets REFERENCING OLD TABLE AS "
    "removed FOR EACH STATEMENT EXECUTE FUNCTION search_vocabulary_count()",
    # Transition tables allow no column list: an update of other columns finds no change.
    "CREATE TRIGGER datasets_words_update AFTER UPDATE ON datasets "
    "REFERENCING OLD TABLE AS removed NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION search_vocabulary_count()",
]


def _fill() -> None:
    """Compute ``search_words`` of the datasets already there, then count them at once."""
    from opendata_registry.db.models import search_words

    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT pk, id, title, description, topics_text FROM datasets")
    ).all()
    if rows:
        bind.execute(
            sa.text("UPDATE datasets SET search_words = :words WHERE pk = :pk"),
            [{"pk": r[0], "words": search_words(*(v or "" for v in r[1:]))} for r in rows],
        )
    elements = (
        "json_each(d.search_words) AS w"
        if bind.dialect.name == "sqlite"
        else "jsonb_array_elements_text(d.search_words::jsonb) AS w(value)"
    )
    count = f"SELECT w.value, count(*) FROM datasets AS d, {elements} GROUP BY w.value"  # noqa: S608
    op.execute(f"INSERT INTO search_vocabulary (word, datasets) {count}")


def upgrade() -> None:
    """Add ``datasets.search_words`` and ``search_vocabulary``, fill them, count by trigger."""
    dialect = op.get_bind().dialect.name
    op.add_column(
        "datasets", sa.Column("search_words", sa.Text(), nullable=False, server_default="[]")
    )
    op.create_table(
        "search_vocabulary",
        sa.Column("word", sa.Text(), primary_key=True),
        sa.Column("datasets", sa.Integer(), nullable=False),
    )
    _fill()
    if dialect == "sqlite":
        op.execute("DROP TABLE datasets_fts_words")  # 0008's fts5vocab: too slow to read
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    """Back to 0011: no counted vocabulary."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("datasets_words_ai", "datasets_words_ad", "datasets_words_au"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("CREATE VIRTUAL TABLE datasets_fts_words USING fts5vocab(datasets_fts, 'col')")
        op.execute("DROP TABLE search_vocabulary")
        op.execute("ALTER TABLE datasets DROP COLUMN search_words")
    elif dialect == "postgresql":
        for name in ("datasets_words_insert", "datasets_words_delete", "datasets_words_update"):
            op.execute(f"DROP TRIGGER {name} ON datasets")
        op.execute("DROP FUNCTION search_vocabulary_count()")
        op.drop_table("search_vocabulary")
        op.drop_column("datasets", "search_words")
