"""Search: core's stems indexed next to the words, on both engines (decision 0005).

A query word, or its English Snowball stem, must begin a word of the dataset's texts or the
stem of one (``"rating"`` finds ``rates``). The stems are core's (``opendata_core.search.stem``,
PyStemmer), computed by the registry when it writes a dataset (``datasets.search_stems``), so
neither engine's own stemmer is used: FTS5's Porter and PostgreSQL's Snowball configuration
differ from each other and from a direct store's search. FTS5 indexes ``search_stems`` as a
fifth column (its triggers rebuilt to carry it); PostgreSQL's vector adds it with weight D and
the copy trigger of 0005 fires on its change too. ``datasets_fts_words`` (``fts5vocab``) lists
the index's words for "did you mean"; PostgreSQL reads them with ``ts_stat``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = ("id", "title", "description", "topics_text")


def _fts(columns: tuple[str, ...]) -> list[str]:
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    # Fixed column names, no input: plain SQL built once.
    delete = (
        f"INSERT INTO datasets_fts(datasets_fts, rowid, {names}) VALUES ('delete', old.pk, {old});"  # noqa: S608
    )
    insert = f"INSERT INTO datasets_fts(rowid, {names}) VALUES (new.pk, {new});"  # noqa: S608
    return [
        "DROP TRIGGER datasets_fts_ai",
        "DROP TRIGGER datasets_fts_ad",
        "DROP TRIGGER datasets_fts_au",
        "DROP TABLE datasets_fts",
        f"CREATE VIRTUAL TABLE datasets_fts USING fts5({names}, content='datasets', "
        "content_rowid='pk', tokenize='unicode61 remove_diacritics 0')",
        f"CREATE TRIGGER datasets_fts_ai AFTER INSERT ON datasets BEGIN {insert} END",
        f"CREATE TRIGGER datasets_fts_ad AFTER DELETE ON datasets BEGIN {delete} END",
        f"CREATE TRIGGER datasets_fts_au AFTER UPDATE OF {names} ON datasets "
        f"BEGIN {delete} {insert} END",
        "INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')",
    ]


def _vector(stemmed: bool) -> str:
    def words(column: str, weight: str) -> str:
        text = f"regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g')"
        return f"setweight(to_tsvector('simple', {text}), '{weight}')"

    parts = [words("id", "A"), words("title", "A"), words("topics_text", "B")]
    parts.append(words("description", "C"))
    if stemmed:
        parts.append("setweight(to_tsvector('simple', search_stems), 'D')")
    return (
        "ALTER TABLE datasets ADD COLUMN search tsvector GENERATED ALWAYS AS ("
        + " || ".join(parts)
        + ") STORED"
    )


def _copy_trigger(columns: tuple[str, ...]) -> list[str]:
    return [
        "DROP TRIGGER datasets_search_copy ON datasets",
        f"CREATE TRIGGER datasets_search_copy AFTER INSERT OR UPDATE OF {', '.join(columns)} "
        "ON datasets FOR EACH ROW EXECUTE FUNCTION dataset_search_copy()",
    ]


def _fill() -> None:
    from opendata_registry.db.models import search_stems

    bind = op.get_bind()
    columns = ", ".join(_COLUMNS)
    rows = bind.execute(sa.text(f"SELECT pk, {columns} FROM datasets")).all()  # noqa: S608
    if rows:
        bind.execute(
            sa.text("UPDATE datasets SET search_stems = :stems WHERE pk = :pk"),
            [{"pk": r[0], "stems": search_stems(*(v or "" for v in r[1:]))} for r in rows],
        )


def upgrade() -> None:
    """Add ``datasets.search_stems``, fill it, and index it with the words."""
    dialect = op.get_bind().dialect.name
    op.add_column(
        "datasets", sa.Column("search_stems", sa.Text(), nullable=False, server_default="")
    )
    _fill()
    if dialect == "sqlite":
        for statement in _fts((*_COLUMNS, "search_stems")):
            op.execute(statement)
        op.execute("CREATE VIRTUAL TABLE datasets_fts_words USING fts5vocab(datasets_fts, 'col')")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE datasets DROP COLUMN search")
        op.execute(_vector(stemmed=True))
        for statement in _copy_trigger((*_COLUMNS, "search_stems")):
            op.execute(statement)
        op.execute(
            "UPDATE dataset_search AS s SET search = d.search FROM datasets AS d WHERE d.pk = s.pk"
        )


def downgrade() -> None:
    """Back to the words alone (migration 0007)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE datasets_fts_words")
        for statement in _fts(_COLUMNS):
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("ALTER TABLE datasets DROP COLUMN search")
        op.execute(_vector(stemmed=False))
        for statement in _copy_trigger(_COLUMNS):
            op.execute(statement)
        op.execute(
            "UPDATE dataset_search AS s SET search = d.search FROM datasets AS d WHERE d.pk = s.pk"
        )
    if dialect == "sqlite":  # not batch mode: a copied table would lose the FTS5 triggers
        op.execute("ALTER TABLE datasets DROP COLUMN search_stems")
    else:
        op.drop_column("datasets", "search_stems")
