"""The search ranking over the catalogue (``od.search``, ``od search``, the portal's filters).

Every word of the query must occur in the id, the title, the topics or the description; matches
count 4, 3, 2 and 1 per word in those fields. Filters are exact and case-insensitive. Ties are
broken by id, so results are stable.

A registry with a full-text engine (SQLite FTS5, PostgreSQL ``tsvector``) replaces this ranking
for registry mode: see docs/decisions/0005-search-ranking.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from opendata_core.documents import IndexEntry

__all__ = ["search"]


def search(
    entries: Iterable[IndexEntry],
    query: str = "",
    *,
    topic: str | None = None,
    namespace: str | None = None,
    license: str | None = None,
    frequency: str | None = None,
    country: str | None = None,
    limit: int | None = None,
) -> list[IndexEntry]:
    """The entries matching every word of ``query`` and the filters, best first.

    Example:
        >>> a = IndexEntry(id="ecb/fx", title="Euro FX rates", description="", license="CC0",
        ...                repo="", provider="ECB")
        >>> b = IndexEntry(id="me/rates", title="Rates", description="fx rates", license="CC0",
        ...                repo="", provider="Me")
        >>> [e.id for e in search([b, a], "fx")]
        ['ecb/fx', 'me/rates']
    """
    words = [w.lower() for w in query.split()]
    scored: list[tuple[int, IndexEntry]] = []
    for e in entries:
        if topic and topic.lower() not in (t.lower() for t in e.topics):
            continue
        if namespace and e.namespace != namespace.lower():
            continue
        if license and e.license.lower() != license.lower():
            continue
        if frequency and (e.frequency or "").lower() != frequency.lower():
            continue
        if country and country.upper() not in e.countries:
            continue
        fields = (
            e.id.lower(),
            e.title.lower(),
            " ".join(e.topics).lower(),
            e.description.lower(),
        )
        weights = (4, 3, 2, 1)
        score = 0
        for w in words:
            hit = sum(wt for f, wt in zip(fields, weights, strict=True) if w in f)
            if not hit:
                break
            score += hit
        else:
            scored.append((score, e))
    scored.sort(key=lambda p: (-p[0], p[1].id))
    result = [e for _, e in scored]
    return result[:limit] if limit is not None else result
