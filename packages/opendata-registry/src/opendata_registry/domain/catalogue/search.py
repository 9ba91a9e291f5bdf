"""Full-text search by the database's own engine: SQLite FTS5 (bm25) or PostgreSQL (ts_rank).

The rule is core's (:mod:`opendata_core.search`): every word of the query, or its stem, begins
a word of the dataset's texts or the stem of one, so a direct store finds the same datasets. The
index is created by the migrations (an FTS5 table kept by triggers; a generated, weighted
``tsvector`` column copied by trigger into the narrow ``dataset_search`` table, with a GIN index;
both over core's words since migration 0007, and core's stems, ``datasets.search_stems``, since
0008). Here the query's words become a safe engine query (each word's forms,
:func:`~opendata_core.search.query_forms`, prefix terms; every word required) and a rank column
where smaller is better. :func:`catalogue_words` reads the catalogue's words for "did you mean".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Label,
    Select,
    any_,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from opendata_core.search import query_forms, query_words
from opendata_registry.db.models import SearchWord

__all__ = ["catalogue_words", "match_keys", "query_terms"]

# bm25 column weights for (id, title, description, topics_text, search_stems).
_BM25: Final = "bm25(datasets_fts, 10.0, 8.0, 1.0, 4.0, 2.0)"


def query_terms(q: str) -> list[str]:
    """The words of a query (core's :func:`~opendata_core.search.query_words`).

    >>> query_terms('euro "fx" OR rates*')
    ['euro', 'fx', 'or', 'rates']
    """
    return query_words(q)


def _fts_query(terms: list[str]) -> str:
    """Each term's forms quoted (no FTS5 syntax can get through) and used as prefixes.

    >>> _fts_query(["rates", "happy"])
    '("rate"*) AND ("happy"* OR "happi"*)'
    """
    return " AND ".join("(" + " OR ".join(f'"{f}"*' for f in query_forms(t)) + ")" for t in terms)


def _tsquery(terms: list[str]) -> str:
    """The same for ``to_tsquery('simple', …)`` (words are letters and digits: no syntax).

    >>> _tsquery(["rates", "happy"])
    '(rate:*) & (happy:* | happi:*)'
    """
    return " & ".join("(" + " | ".join(f"{f}:*" for f in query_forms(t)) + ")" for t in terms)


async def catalogue_words(connection: AsyncConnection) -> list[str]:
    """Every word of the catalogue's ids, titles, topics and descriptions (not stems).

    Counted by trigger into ``search_vocabulary`` (migration 0012): one narrow table read.
    """
    return list((await connection.execute(select(SearchWord.word))).scalars())


def match_keys(
    terms: list[str],
    dialect: str,
    *,
    rank: bool = False,
    among: Iterable[int] | None = None,
) -> Select[Any]:
    """The keys (``pk``) of the datasets matching every term (a query word), from the index alone.

    With ``rank``, also the engine's rank (smaller is better), ordered by it, then by what the
    index holds to break ties: ``id`` on PostgreSQL, the ``rowid`` (the order datasets entered
    the catalogue) on SQLite, where ordering by ``id`` would read the ``datasets`` row of every
    match (scores tie often: equal-length texts that use a word once). The wide
    ``datasets`` rows are never read: FTS5 answers from its own index on SQLite, and on
    PostgreSQL the vectors live in the narrow ``dataset_search`` table (migration 0005).

    ``among`` keeps only those keys, so a filtered search ranks only the datasets it can show.
    A rank does not depend on which matches are kept (bm25 takes its word statistics from the
    whole index; ``ts_rank`` reads one vector), so the order is that of the unfiltered ranking.
    """
    stmt: Select[Any]
    if dialect == "sqlite":
        stmt = (
            select(literal_column("rowid").label("pk"))
            .select_from(table("datasets_fts"))
            .where(text("datasets_fts MATCH :fts_query").bindparams(fts_query=_fts_query(terms)))
        )
        if among is not None:
            # ``+rowid``: tested by SQLite, not handed to FTS5, which would restart the query
            # (and bm25's statistics over every match) once per key.
            keys = msgspec.json.encode(list(among)).decode()
            stmt = stmt.where(
                text("+rowid IN (SELECT value FROM json_each(:among))").bindparams(among=keys)
            )
        score: ColumnElement[Any] = literal_column(_BM25)
        tie: ColumnElement[Any] = literal_column("rowid")
    elif dialect == "postgresql":
        found = table("dataset_search", column("pk"), column("id"), column("search"))
        tsquery = func.to_tsquery("simple", _tsquery(terms))
        stmt = select(found.c.pk.label("pk")).where(found.c.search.op("@@")(tsquery))
        if among is not None:
            keys_param = bindparam("among", list(among), type_=ARRAY(Integer))
            stmt = stmt.where(found.c.pk == any_(keys_param))
        score = -func.ts_rank(found.c.search, tsquery)
        tie = found.c.id
    else:
        raise NotImplementedError(f"full-text search on {dialect}")
    if rank:
        ranked: Label[Any] = score.label("rank")
        stmt = stmt.add_columns(ranked).order_by(ranked, tie)
    return stmt
