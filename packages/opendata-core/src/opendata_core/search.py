"""The search rule over the catalogue (``od.search``, ``od search``, the registry, the portal).

One rule for every transport (docs/decisions/0005-search-ranking.md):

* a text's *words* are its runs of letters and digits, lower-cased (:func:`words`): ``"ECB/euro-fx
  rates"`` has the words ``ecb``, ``euro``, ``fx``, ``rates``;
* a word's *stem* is its English Snowball stem (:func:`stem`, the Snowball project's own
  ``PyStemmer``): ``rates`` and ``rating`` have the stem ``rate``, ``countries`` ``countri``;
* a query matches a dataset when every word of the query (the first :data:`MAX_QUERY_WORDS`),
  or its stem, begins a word of its id, title, topics or description or the stem of one:
  ``"rate"``, ``"rating"`` and ``"eur fx"`` find ``ecb/euro-fx-rates``, ``"unemplo"`` finds
  ``unemployment``, ``"ates"`` does not (no substrings);
* when a query finds nothing, :class:`Vocabulary` suggests one ("did you mean"): each query
  word that begins no word of the catalogue is replaced by the closest word of the catalogue
  (``rapidfuzz``'s optimal string alignment distance, at most 1 edit for words of up to 4
  characters, 2 above; ties by the word's order);
* ``withdrawn`` datasets are never found (they stay reachable by id, as a tombstone), and
  ``trust`` keeps the datasets whose trust level (spec §10.1; a lapsed review counts as
  ``none``) is the one given or higher;
* filters are exact and case-insensitive; ``geo`` matches a covered country code (ISO 3166-1,
  ``DE``) or the geographic scope (``global``, ``region``, ``country``, ``multi``), as the
  registry's ``geo`` facet does.

:func:`search` applies it to an ``index.json`` (a direct store, the static portal) and ranks by
where the words matched: 4, 3, 2 and 1 per word in the id, the title, the topics and the
description, ties by id. The registry's full-text engine applies the same rule (every word a
prefix term over an index of the same words and of core's stems) and ranks with its own
relevance (bm25 or ``ts_rank``), so the same query finds the same datasets on every transport;
the order may differ. The registry counts the same words (its ``search_vocabulary``), so it
suggests the same.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

from opendata_core.deprecation import renamed
from opendata_core.documents import IndexEntry, TrustLevel

__all__ = [
    "MAX_QUERY_WORDS",
    "Matches",
    "Vocabulary",
    "query_forms",
    "query_words",
    "resolve_geo",
    "search",
    "stem",
    "stems",
    "vocabulary",
    "vocabulary_words",
    "words",
]

MAX_QUERY_WORDS: Final = 12
"""Words of a query after this many are ignored (by every transport)."""
_WORD: Final = re.compile(r"[^\W_]+")
_STEMMER: Final = Stemmer.Stemmer("english")


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


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The English Snowball stem of a word (lower-case, as :func:`words` gives it).

    >>> stem("rates"), stem("rating"), stem("countries"), stem("fx")
    ('rate', 'rate', 'countri', 'fx')
    """
    result: str = _STEMMER.stemWord(word)
    return result


def stems(text: str) -> list[str]:
    """The stems of ``text``'s words that do not begin their word, each once, in order.

    A stem that begins its word (``rates`` → ``rate``) matches no query the word does not: a
    prefix of the stem is a prefix of the word. Only the others need indexing next to the
    words (``country`` → ``countri``, ``rating`` → ``rate``); the registry keeps them in
    ``datasets.search_stems``.

    >>> stems("Unemployment rates; rating of the country, fx")
    ['rate', 'countri']
    """
    out: dict[str, None] = {}
    for w in words(text):
        s = stem(w)
        if not w.startswith(s):
            out[s] = None
    return list(out)


def query_forms(word: str) -> tuple[str, ...]:
    """The prefixes a query word is looked up by (each matches a word or a stem it begins).

    Its stem, and the word itself when the stem does not begin it (``happy`` → ``happi``).

    >>> query_forms("rates"), query_forms("happy"), query_forms("fx")
    (('rate',), ('happy', 'happi'), ('fx',))
    """
    s = stem(word)
    return (s,) if word.startswith(s) else (word, s)


def _tokens(text: str) -> list[str]:
    return words(text) + stems(text)


def _begins_a_word(forms: tuple[str, ...], field: list[str]) -> bool:
    return any(w.startswith(f) for w in field for f in forms)


class Matches(list[IndexEntry]):
    """The datasets a search found, best first, and a ``suggestion`` when it found none.

    ``suggestion`` is a query made of the catalogue's own words ("did you mean"), or ``None``.
    """

    suggestion: str | None

    def __init__(self, found: Iterable[IndexEntry] = (), suggestion: str | None = None) -> None:
        super().__init__(found)
        self.suggestion = suggestion


def vocabulary_words(text: str) -> list[str]:
    """The words of ``text`` a suggestion may use: each once, sorted, none without a letter.

    >>> vocabulary_words("Rates 2024: rates, CO2")
    ['co2', 'rates']
    """
    return sorted({w for w in words(text) if not w.isdigit()})


class Vocabulary:
    """The words of a catalogue, to tell a query's unknown words and suggest known ones.

    Built from :func:`vocabulary_words` of every dataset's id, title, topics and description
    (the registry keeps them in its ``search_vocabulary`` table).
    """

    def __init__(self, catalogue_words: Iterable[str]) -> None:
        self.words = sorted({w for w in catalogue_words if not w.isdigit()})
        self._tokens = sorted({*self.words, *stems(" ".join(self.words))})

    def knows(self, word: str) -> bool:
        """Whether a form of ``word`` begins a word of the catalogue or the stem of one."""
        for form in query_forms(word):
            i = bisect.bisect_left(self._tokens, form)
            if i < len(self._tokens) and self._tokens[i].startswith(form):
                return True
        return False

    def closest(self, word: str) -> str | None:
        """The catalogue's word nearest to ``word`` (fewest edits, then first in order)."""
        limit = 1 if len(word) <= 4 else 2
        found = process.extract(
            word, self.words, scorer=OSA.distance, score_cutoff=limit, limit=None
        )
        return min(((d, w) for w, d, _ in found), default=(0, None))[1]

    def suggest(self, query: str) -> str | None:
        """A query of known words for one whose words are not all known, else ``None``.

        >>> Vocabulary(["unemployment", "rates", "euro"]).suggest("Unemplyment rates")
        'unemployment rates'
        >>> Vocabulary(["rates"]).suggest("rates"), Vocabulary(["rates"]).suggest("zzzz")
        (None, None)
        """
        wanted = query_words(query)
        out, changed = [], False
        for w in wanted:
            if self.knows(w):
                out.append(w)
            elif (near := self.closest(w)) is not None:
                out.append(near)
                changed = True
            else:
                return None
        return " ".join(out) if changed else None


def vocabulary(entries: Iterable[IndexEntry]) -> Vocabulary:
    """The :class:`Vocabulary` of ``index.json`` entries (a direct store, the static portal)."""
    found: set[str] = set()
    for e in entries:
        found.update(vocabulary_words(f"{e.id} {e.title} {' '.join(e.topics)} {e.description}"))
    return Vocabulary(found)


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
    trust: TrustLevel | None = None,
) -> Matches:
    """The entries matching every word of ``query`` and the filters, best first.

    When none match a text query, ``suggestion`` holds a query of the catalogue's words
    (:meth:`Vocabulary.suggest`). ``country`` is the deprecated name of ``geo``;
    ``trust`` is the lowest trust level kept.

    Example:
        >>> a = IndexEntry(id="ecb/fx", title="Euro FX rates", description="", license="CC0",
        ...                repo="", provider="ECB")
        >>> b = IndexEntry(id="me/rates", title="Rates", description="fx rates", license="CC0",
        ...                repo="", provider="Me")
        >>> [e.id for e in search([b, a], "fx")]
        ['ecb/fx', 'me/rates']
        >>> [e.id for e in search([b, a], "rate")], search([b, a], "ates")
        (['me/rates', 'ecb/fx'], [])
        >>> search([b, a], "rtaes").suggestion
        'rates'
    """
    from opendata_core.lifecycle import TRUST_LEVELS, trust_at_least

    geo = resolve_geo(geo, country)
    if trust is not None and trust not in TRUST_LEVELS:
        raise ValueError(f"trust={trust!r}: use one of {', '.join(TRUST_LEVELS)}")
    entries = list(entries)
    wanted = [query_forms(w) for w in query_words(query)]
    scored: list[tuple[int, IndexEntry]] = []
    for e in entries:
        if e.status == "withdrawn":
            continue
        if trust and not trust_at_least(e.effective_trust(), trust):
            continue
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
            _tokens(e.id),
            _tokens(e.title),
            _tokens(" ".join(e.topics)),
            _tokens(e.description),
        )
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
    result = [e for _, e in scored][:limit]
    if result or not wanted:
        return Matches(result)
    return Matches(result, vocabulary(entries).suggest(query))
