"""The search rule over the catalogue (``od.search``, ``od search``, the registry, the portal).

One rule for every transport (docs/decisions/0005-search-ranking.md):

* a text's *words* are its runs of letters and digits, lower-cased (:func:`words`): ``"ECB/euro-fx
  rates"`` has the words ``ecb``, ``euro``, ``fx``, ``rates``;
* a query matches a dataset when every word of the query (the first :data:`MAX_QUERY_WORDS`)
  begins a word of its id, title, topics or description: ``"rate"`` and ``"eur fx"`` find
  ``ecb/euro-fx-rates``, ``"ates"`` does not (no substrings, no stemming);
* filters are exact and case-insensitive; ``geo`` matches a covered country code (ISO 3166-1,
  ``DE``) or the geographic scope (``global``, ``region``, ``country``, ``multi``), as the
  registry's ``geo`` facet does.

:func:`search` applies it to an ``index.json`` (a direct store, the static portal) and ranks by
where the words matched: 4, 3, 2 and 1 per word in the id, the title, the topics and the
description, ties by id. The registry's full-text engine applies the same rule (every word a
prefix term, no stemmer) and ranks with its own relevance (bm25 or ``ts_rank``), so the same
query finds the same datasets on every transport; the order may differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from opendata_core.deprecation import renamed
from opendata_core.documents import IndexEntry

__all__ = ["MAX_QUERY_WORDS", "query_words", "resolve_geo", "search", "words"]

MAX_QUERY_WORDS: Final = 12
"""Words of a query after this many are ignored (by every transport)."""
_WORD: Final = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The searchable words of ``text``: its runs of letters and digits, lower-cased.

    >>> words("ECB/euro-fx_rates, 2024!")
    ['ecb', 'euro', 'fx', 'rates', '2024']
    """
    return _WORD.findall(text.lower())


def query_words(query: str) -> list[str]:
    """The words of a query that count (operators and punctuation are not words).

    >>> query_words('euro "fx" OR rates*')
    ['euro', 'fx', 'or', 'rates']
    """
    return words(query)[:MAX_QUERY_WORDS]


def _begins_a_word(word: str, field: list[str]) -> bool:
    return any(w.startswith(word) for w in field)


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
        >>> [e.id for e in search([b, a], "rate")], search([b, a], "ates")
        (['me/rates', 'ecb/fx'], [])
    """
    geo = resolve_geo(geo, country)
    wanted = query_words(query)
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
        fields = (words(e.id), words(e.title), words(" ".join(e.topics)), words(e.description))
        weights = (4, 3, 2, 1)
        score = 0
        for w in wanted:
            hit = sum(wt for f, wt in zip(fields, weights, strict=True) if _begins_a_word(w, f))
            if not hit:
                break
            score += hit
        else:
            scored.append((score, e))
    scored.sort(key=lambda p: (-p[0], p[1].id))
    result = [e for _, e in scored]
    return result[:limit] if limit is not None else result
