"""Full-text search by the database's own engine: SQLite FTS5 (bm25) or PostgreSQL (ts_rank_cd).

The index itself is created by the migration (an FTS5 table kept by triggers; a generated,
weighted ``tsvector`` column with a GIN index). Here the user's words become a safe engine query
(each word a prefix term, all required) and a rank column where smaller is better.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sqlalchemy import ColumnElement, Label, Select, func, literal_column, select, table, text

from opendata_registry.db.models import Dataset

__all__ = ["apply_text_search", "match_keys", "query_terms"]

_WORD: Final = re.compile(r"[^\W_]+")
_MAX_TERMS: Final = 12
# bm25 column weights for (id, title, description, topics_text).
_BM25: Final = "bm25(datasets_fts, 10.0, 8.0, 1.0, 4.0)"


def query_terms(q: str) -> list[str]:
    """The words of a query, lower-cased (punctuation and operators dropped).

    >>> query_terms('euro "fx" OR rates*')
    ['euro', 'fx', 'or', 'rates']
    """
    return _WORD.findall(q.lower())[:_MAX_TERMS]


def _fts_query(terms: list[str]) -> str:
    """Each term quoted (no FTS5 syntax can get through) and used as a prefix."""
    return " ".join(f'"{t}"*' for t in terms)


def apply_text_search(
    stmt: Select[Any], terms: list[str], dialect: str
) -> tuple[Select[Any], ColumnElement[Any]]:
    """Restrict ``stmt`` (over ``datasets``) to matches of every term; return it and a rank."""
    if dialect == "sqlite":
        fts_query = _fts_query(terms)
        fts = table("datasets_fts")
        matches = (
            select(literal_column("rowid").label("pk"), literal_column(_BM25).label("rank"))
            .select_from(fts)
            .where(text("datasets_fts MATCH :fts_query").bindparams(fts_query=fts_query))
            .subquery("fts_hits")
        )
        return stmt.join(matches, matches.c.pk == Dataset.pk), matches.c.rank
    if dialect == "postgresql":
        tsquery = func.to_tsquery("english", " & ".join(f"{t}:*" for t in terms))
        vector: ColumnElement[Any] = literal_column("datasets.search")
        return stmt.where(vector.op("@@")(tsquery)), -func.ts_rank_cd(vector, tsquery)
    raise NotImplementedError(f"full-text search on {dialect}")


def match_keys(terms: list[str], dialect: str, *, rank: bool = False) -> Select[Any]:
    """The keys (``pk``) of the datasets matching every term, from the text index alone.

    With ``rank``, also the engine's rank (smaller is better) and ordered by it. On SQLite the
    ``datasets`` table is not read: FTS5 answers from its own index.
    """
    stmt: Select[Any]
    if dialect == "sqlite":
        stmt = (
            select(literal_column("rowid").label("pk"))
            .select_from(table("datasets_fts"))
            .where(text("datasets_fts MATCH :fts_query").bindparams(fts_query=_fts_query(terms)))
        )
        if rank:
            bm25: Label[Any] = literal_column(_BM25).label("rank")
            stmt = stmt.add_columns(bm25).order_by(bm25)
        return stmt
    stmt, score = apply_text_search(select(Dataset.pk.label("pk")), terms, dialect)
    if rank:
        stmt = stmt.add_columns(score.label("rank")).order_by(score)
    return stmt
