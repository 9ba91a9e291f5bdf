"""The search ranking over the catalogue (``od.search``, ``od search``, the portal's filters).

Every word of the query must occur in the id, the title, the topics or the description; matches
count 4, 3, 2 and 1 per word in those fields. Filters are exact and case-insensitive; ``geo``
matches a covered country code (ISO 3166-1, ``DE``) or the geographic scope (``global``,
``region``, ``country``, ``multi``), as the registry's ``geo`` facet does. Ties are broken by id,
so results are stable.

A registry with a full-text engine (SQLite FTS5, PostgreSQL ``tsvector``) replaces this ranking
for registry mode: see docs/decisions/0005-search-ranking.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from opendata_core.deprecation import renamed
from opendata_core.documents import IndexEntry

__all__ = ["resolve_geo", "search"]


def resolve_geo(geo: str | None, country: str | None) -> str | None:
    """The ``geo`` filter of a search that may still use its old name ``country`` (it warns).

    Each public search entry point calls it, so the warning points at the user's line.
    """
    if country is None:
        return geo
    if geo is not None and geo != country:
        raise TypeError("search() got geo= and its deprecated name country=: give geo= only")
    renamed("search(country=)", "search(geo=)", stacklevel=3)
    return country


def search(
    entries: Iterable[IndexEntry],
    query: str = "",
    *,
    topic: str | None = None,
    namespace: str | None = None,
    license: str | None = None,
    frequency: str | None = None,
    geo: str | None = None,
    limit: int | None = None,
    country: str | None = None,
) -> list[IndexEntry]:
    """The entries matching every word of ``query`` and the filters, best first.

    ``country`` is the deprecated name of ``geo``.

    Example:
        >>> a = IndexEntry(id="ecb/fx", title="Euro FX rates", description="", license="CC0",
        ...                repo="", provider="ECB")
        >>> b = IndexEntry(id="me/rates", title="Rates", description="fx rates", license="CC0",
        ...                repo="", provider="Me")
        >>> [e.id for e in search([b, a], "fx")]
        ['ecb/fx', 'me/rates']
    """
    geo = resolve_geo(geo, country)
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
        if geo and geo.lower() not in {(e.geo_scope or "").lower(), *map(str.lower, e.countries)}:
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
