"""Search: the words of core's rule, prefix-matched, on both engines (decision 0005).

A dataset matches when every word of the query begins one of its words, a word being a run of
letters and digits (``opendata_core.search.words``); a direct store's ``od.search`` applies the
same rule. Before, SQLite stemmed with Porter (``porter unicode61``, which also strips
diacritics) and PostgreSQL with Snowball English (``to_tsvector('english', …)``, which also drops
stop words), while direct stores matched substrings: the same query found different datasets on
each. Now SQLite tokenizes with ``unicode61 remove_diacritics 0`` (letters and digits, case
folded) and PostgreSQL's vector is ``simple`` (lower-cased, no stemmer, no stop words) over the
text with everything but letters and digits turned into spaces (its parser would keep
``example.com`` or ``euro-fx`` as one token).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_FTS5 = (
    "CREATE VIRTUAL TABLE datasets_fts USING fts5(id, title, description, topics_text, "
    "content='datasets', content_rowid='pk', tokenize='{tokenize}')"
)


def _vector(config: str) -> str:
    def words(column: str) -> str:
        text = f"regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g')"
        return f"to_tsvector('{config}', {text})"

    return (
        "ALTER TABLE datasets ADD COLUMN search tsvector GENERATED ALWAYS AS ("
        f"setweight({words('id')}, 'A') || "
        f"setweight({words('title')}, 'A') || "
        f"setweight({words('topics_text')}, 'B') || "
        f"setweight({words('description')}, 'C')) STORED"
    )


def _old_vector() -> str:
    return (
        "ALTER TABLE datasets ADD COLUMN search tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('simple', translate(id, '/-_.', '    ')), 'A') || "
        "setweight(to_tsvector('english', title), 'A') || "
        "setweight(to_tsvector('english', topics_text), 'B') || "
        "setweight(to_tsvector('english', description), 'C')) STORED"
    )


def _rebuild(tokenize: str | None, vector: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # The triggers of 0001 name the table, not its tokenizer: they keep working.
        op.execute("DROP TABLE datasets_fts")
        op.execute(_FTS5.format(tokenize=tokenize))
        op.execute("INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        # A generated column's expression cannot be changed before PostgreSQL 17: re-add it,
        # then refresh the copy in dataset_search (migration 0005), whose trigger fires on
        # changes of the texts only.
        op.execute("ALTER TABLE datasets DROP COLUMN search")
        op.execute(vector)
        op.execute(
            "UPDATE dataset_search AS s SET search = d.search FROM datasets AS d WHERE d.pk = s.pk"
        )


def upgrade() -> None:
    """Rebuild the full-text index of each engine with core's words."""
    _rebuild("unicode61 remove_diacritics 0", _vector("simple"))


def downgrade() -> None:
    """Back to the stemming indexes of 0001."""
    _rebuild("porter unicode61", _old_vector())
