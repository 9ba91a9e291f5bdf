"""The facet index: every dataset's facet values as compressed bitmaps, kept per generation.

Counting facet values with SQL ``GROUP BY`` over the hits of a common word costs a B-tree probe
per hit and value (0.3 to 0.4 s for 50,000 hits on SQLite, the same order on PostgreSQL).
Search engines keep facet values as per-value posting bitmaps instead (Meilisearch's roaring
bitmaps, Lucene's doc values); so does this: the database finds the hits (its own full-text
match and conditions) and returns their keys, and the counts are the cardinalities of
``hits ∩ value`` over roaring bitmaps (pyroaring, computed in C). Facet filters are bitmap
intersections, and the order by update or name comes from the database's own order, read once.

The same generation also holds the engine's answers to recent text queries
(:attr:`FacetIndex.matches`, :attr:`FacetIndex.ranked`, least recently used dropped first): the
keys a query matches and its ranked head. Ranking every match of a common word is the
costly part of a search (FTS5's bm25 or ``ts_rank`` over 50,000 matches: 30 to 100 ms), and
a search log repeats its common words; an answer is reused only while the catalogue is
unchanged, so it is the same answer the engine would give.

The index is built once per value of the database's change counter (``registry_generation``,
bumped by triggers on every write to ``datasets``, ``dataset_tags`` and ``api_keys``, whoever
writes: migrations 0003 and 0004; read with
:func:`~opendata_registry.infra.hotcache.read_generation`), so every process sees a change on
its next request, and by one request at a time: the requests that arrive while it is rebuilt
wait for that one build (0.8 s at 100,000 datasets) instead of each starting their own.
Decision 0008 records the design and its measurements.

Withdrawn datasets (spec §10.4) are in no order and not in :attr:`FacetIndex.everything`, so
search never shows them; ``trust`` is the level in force on the day the index was built (a
``review_by`` that passed counts as ``none``), so an index is also rebuilt when the day changes.
"""

from __future__ import annotations

import asyncio
import bisect
import weakref
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple

import msgspec
from cachetools import LRUCache
from pyroaring import BitMap
from sqlalchemy import String, cast, func, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.api import FACETS, TRUST_FACET, FacetCount
from opendata_core.lifecycle import Trust
from opendata_core.search import Vocabulary
from opendata_registry.db.models import Dataset, DatasetTag
from opendata_registry.infra.hotcache import read_generation

__all__ = [
    "HEAD_ROWS",
    "MEMO_ENTRIES",
    "MEMO_ROWS",
    "FacetIndex",
    "MatchKey",
    "RankedHead",
    "facet_index",
    "join_pks",
    "split_pks",
]

FACET_VALUES: Final = 50
"""Values shown per facet (the most frequent first)."""

_SORTS: Final[dict[str, tuple[Any, ...]]] = {
    "updated": (Dataset.updated_at.desc().nulls_last(), Dataset.id),
    "name": (Dataset.id,),
}
MEMO_ENTRIES: Final = 256
"""Text queries whose matching keys are kept per generation (least recently used dropped)."""
MEMO_ROWS: Final = 200_000
"""Ranked rows kept per generation over all text queries (~120 bytes each: ~25 MB)."""
HEAD_ROWS: Final = 20_000
"""A longer ranked head (a deep page of a common word) is used once and not kept."""
_WITHDRAWN: Final = "status = 'withdrawn'"
_TRUSTED: Final = "trust <> 'none'"
"""The predicates of the partial indexes of migration 0011, written as they are there (with a
bound parameter instead of the constant, neither engine could use them)."""
_DENSE: Final = 50
"""A page is found by walking the whole order when at least 1 in this many datasets is a hit."""
_MANY_VALUES: Final = 100
"""A facet with at least this many values, none shared by two values, keeps each key's value."""
_HITS_PER_VALUE: Final = 4
"""Such a facet counts by reading the hits' values when there are at most this many per value."""


def join_pks(pk: Any) -> Any:
    """The aggregate that returns every ``pk`` of a statement as one comma-separated string."""
    return func.aggregate_strings(cast(pk, String), ",")


_KEYS: Final = msgspec.json.Decoder(list[int])


def split_pks(joined: str | None) -> BitMap:
    """The keys of :func:`join_pks`'s string, as a bitmap.

    Read as a JSON array (a C decoder): four times faster than ``map(int, split)``, which
    cost ~10 ms for the 60,000 keys of a common word.

    >>> list(split_pks("3,1,2")), len(split_pks(None))
    ([1, 2, 3], 0)
    """
    return BitMap(_KEYS.decode(f"[{joined}]")) if joined else BitMap()


MatchKey = tuple[tuple[str, ...], date | None, date | None, date | None]
"""A text query's words and its time conditions (``updated_since``, ``covers_from``/``_to``)."""


class RankedHead(NamedTuple):
    """The engine's first rows for a text query: ``ORDER BY rank, tie LIMIT limit``."""

    limit: int
    rows: list[tuple[float, int]]
    """``(rank, key)``, best first (smaller rank is better)."""

    @property
    def complete(self) -> bool:
        """Whether these are all the matches (the engine had fewer than ``limit``)."""
        return len(self.rows) < self.limit


def _head_rows(head: RankedHead) -> int:
    return len(head.rows) + 1


def _matches_memo() -> LRUCache[MatchKey, BitMap]:
    return LRUCache(maxsize=MEMO_ENTRIES)


def _ranked_memo() -> LRUCache[tuple[str, ...], RankedHead]:
    return LRUCache(maxsize=MEMO_ROWS, getsizeof=_head_rows)


@dataclass
class FacetIndex:
    """Bitmaps of the datasets with each facet value, and the orders, for one generation."""

    generation: int
    built_on: date = field(default_factory=lambda: datetime.now(UTC).date())
    """The day the trust levels were read in force (an index is kept for one day at most)."""
    hidden: BitMap = field(default_factory=BitMap)
    """Withdrawn datasets: in no order, not in :attr:`everything`, never a search hit."""
    by_facet: dict[str, list[tuple[str, BitMap]]] = field(default_factory=dict)
    """``facet → (value, datasets)``, the largest first."""
    members: dict[tuple[str, str], BitMap] = field(default_factory=dict)
    """``(facet, lower-cased value) → datasets``: what a filter on that value keeps."""
    order: dict[str, list[int]] = field(default_factory=dict)
    """``sort → keys`` in the database's own order (``updated``: newest first, then id)."""
    position: dict[str, dict[int, int]] = field(default_factory=dict)
    """``sort → key → place`` in :attr:`order`."""
    everything: BitMap = field(default_factory=BitMap)
    counts: dict[str, list[FacetCount]] = field(default_factory=dict)
    """The counts of the unfiltered catalogue."""
    owners: dict[str, array[int]] = field(default_factory=dict)
    """``facet → key → place of the key's value in`` :attr:`by_facet` (-1: none), for the
    facets of :meth:`keep_owners`."""
    matches: LRUCache[MatchKey, BitMap] = field(default_factory=_matches_memo)
    """The engine's matching keys per text query and time conditions, at this generation."""
    ranked: LRUCache[tuple[str, ...], RankedHead] = field(default_factory=_ranked_memo)
    """The engine's ranked head per text query, at this generation (bounded by rows)."""
    vocabulary: Vocabulary | None = None
    """The words of the text index at this generation, read when a query first finds nothing."""

    def keep_head(self, terms: tuple[str, ...], head: RankedHead) -> None:
        """Keep ``head`` for ``terms`` unless it is longer than :data:`HEAD_ROWS`."""
        if len(head.rows) <= HEAD_ROWS:
            self.ranked[terms] = head

    def keep_owners(self) -> None:
        """Keep each key's value of the facets with many values where a key has at most one.

        A publisher's handful of hits then costs a look-up each, where visiting the values
        would cost one intersection per publisher (2,000 of them: 3 to 6 ms a search).
        """
        for name, pairs in self.by_facet.items():
            if len(pairs) >= _MANY_VALUES and (owner := _owners(pairs)) is not None:
                self.owners[name] = owner

    def count(self, hits: BitMap) -> dict[str, list[FacetCount]]:
        """Counts per facet value over ``hits`` (the most frequent first, then by value).

        Only the top :data:`FACET_VALUES` of a facet are shown, so its values are visited
        largest first and the walk stops at the first value too small to enter the top (a
        value's count over the hits is at most its size): a long tail of small publishers
        costs nothing. Few hits of a facet kept by :meth:`keep_owners` are counted by value.
        """
        out: dict[str, list[FacetCount]] = {}
        extra = (TRUST_FACET,) if TRUST_FACET in self.by_facet else ()
        for name in (*FACETS, *extra):
            pairs = self.by_facet.get(name, [])
            owner = self.owners.get(name)
            if owner is not None and len(hits) <= len(pairs) * _HITS_PER_VALUE:
                top = _top_by_key(hits, pairs, owner)
            else:
                top = _top_by_value(hits, pairs)
            out[name] = [FacetCount(value=v, count=-n) for n, v in top]
        return out

    def restrict(self, hits: BitMap | None, wanted: list[tuple[str, str]]) -> BitMap | None:
        """``hits`` (``None``: every dataset) keeping those with every ``(facet, value)``.

        Withdrawn datasets are dropped from engine hits as from value sets.
        """
        if not wanted:
            return hits - self.hidden if hits is not None and self.hidden else hits
        sets = [self.members.get(w, BitMap()) for w in wanted]
        return BitMap.intersection(*sets, hits if hits is not None else self.everything)

    def restrict_any(self, hits: BitMap | None, facet: str, values: Sequence[str]) -> BitMap:
        """``hits`` (``None``: every dataset) keeping those with any of ``values`` of ``facet``."""
        either = BitMap.union(BitMap(), *(self.members.get((facet, v), BitMap()) for v in values))
        return either & (hits if hits is not None else self.everything)

    def top(self, hits: BitMap | None, sort: str, start: int, stop: int) -> list[int]:
        """The keys at places ``start:stop`` of ``hits`` (``None``: all) in the ``sort`` order."""
        order = self.order[sort]
        if hits is None:
            return order[start:stop]
        if len(hits) * _DENSE >= len(order):
            found: list[int] = []
            for pk in order:
                if pk in hits:
                    found.append(pk)
                    if len(found) == stop:
                        break
            return found[start:]
        place = self.position[sort]
        places = sorted(place[pk] for pk in hits if pk in place)
        return [order[p] for p in places[start:stop]]


def _top_by_value(hits: BitMap, pairs: list[tuple[str, BitMap]]) -> list[tuple[int, str]]:
    """The top ``(-count, value)`` over ``hits``, visiting the values (largest first)."""
    top: list[tuple[int, str]] = []  # kept sorted
    for value, datasets in pairs:
        if len(top) >= FACET_VALUES and len(datasets) < -top[-1][0]:
            break
        n = hits.intersection_cardinality(datasets)
        if n:
            bisect.insort(top, (-n, value))
            del top[FACET_VALUES:]
    return top


def _top_by_key(
    hits: BitMap, pairs: list[tuple[str, BitMap]], owner: array[int]
) -> list[tuple[int, str]]:
    """The top ``(-count, value)`` over ``hits``, reading each hit's value in ``owner``."""
    size = len(owner)
    tally = Counter(owner[pk] for pk in hits if pk < size)
    top = sorted((-n, pairs[place][0]) for place, n in tally.items() if place >= 0)
    return top[:FACET_VALUES]


def _owners(pairs: list[tuple[str, BitMap]]) -> array[int] | None:
    """Each key's place in ``pairs`` (-1: none), or ``None`` if a key is in two of them."""
    owner = array("i", [-1]) * (max((d.max() for _, d in pairs if d), default=-1) + 1)
    for place, (_, datasets) in enumerate(pairs):
        for pk in datasets:
            if owner[pk] != -1:
                return None
            owner[pk] = place
    return owner


_CACHE: weakref.WeakKeyDictionary[Any, FacetIndex] = weakref.WeakKeyDictionary()
_BUILDING: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Any, asyncio.Lock]
] = weakref.WeakKeyDictionary()
"""One lock per event loop and engine: an ``asyncio.Lock`` serves only the loop it first
waited on, and tests (or a CLI) may run one engine's requests in several loops in turn."""


def _lock(bind: Any) -> asyncio.Lock:
    locks = _BUILDING.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    lock = locks.get(bind)
    if lock is None:
        lock = locks[bind] = asyncio.Lock()
    return lock


async def _trust(index: FacetIndex, connection: Any) -> None:
    """The ``trust`` facet: each shown dataset's level in force on :attr:`FacetIndex.built_on`."""
    stmt = select(Dataset.pk, Dataset.trust, Dataset.trust_review_by).where(text(_TRUSTED))
    levels: dict[str, BitMap] = {}
    for pk, level, review_by in (await connection.execute(stmt)).all():
        if pk in index.hidden:
            continue
        found = Trust(level=level, review_by=review_by).effective(index.built_on)
        levels.setdefault(found, BitMap()).add(pk)
    levels.setdefault("none", BitMap())
    for value, datasets in levels.items():
        index.by_facet.setdefault(TRUST_FACET, []).append((value, datasets))
        index.members[(TRUST_FACET, value)] = datasets


def _kept(bind: Any, generation: int) -> FacetIndex | None:
    """The index kept for ``bind`` if it was built at ``generation``, today."""
    cached = _CACHE.get(bind)
    if cached is None or cached.generation != generation:
        return None
    return cached if cached.built_on == datetime.now(UTC).date() else None


async def facet_index(session: AsyncSession) -> FacetIndex:
    """The facet index of the database's current generation (rebuilt when it changed).

    One build at a time per engine: a request that finds the index stale waits for the lock,
    reads the counter again and takes the index that the request ahead of it built for that
    value, so the requests that arrive after a change share one build. The builder reads the
    counter under the lock, then the rows: a write that lands in between makes the index newer
    than its label, never older, and the next request rebuilds it. Equality, not order: a
    database restored from a backup (a lower counter) is rebuilt too.
    """
    bind = session.get_bind()
    if (index := _kept(bind, await read_generation(session))) is not None:
        return index
    async with _lock(bind):
        current = await read_generation(session)
        if (index := _kept(bind, current)) is not None:
            return index
        index = await _build(session, current)
        _CACHE[bind] = index
        return index


async def _build(session: AsyncSession, generation: int) -> FacetIndex:
    """Read every facet value's keys and the two orders from the database."""
    index = FacetIndex(generation=generation)
    parts = [
        select(DatasetTag.facet, DatasetTag.value, join_pks(DatasetTag.dataset_pk)).group_by(
            DatasetTag.facet, DatasetTag.value
        )
    ]
    for name in ("namespace", "license", "frequency"):
        column = getattr(Dataset, name)
        parts.append(
            select(literal(name), column, join_pks(Dataset.pk))
            .where(column.is_not(None))
            .group_by(column)
        )
    for facet, value, joined in (await session.execute(union_all(*parts))).all():
        datasets = split_pks(joined)
        index.by_facet.setdefault(facet, []).append((value, datasets))
        index.members.setdefault((facet, value.lower()), BitMap()).update(datasets)
    connection = await session.connection()  # Core rows: no ORM processing of 100,000 keys
    # The few withdrawn keys come from a partial index (migration 0011); the orders are read
    # from their covering indexes as before and the withdrawn keys dropped here.
    hidden = select(Dataset.pk).where(text(_WITHDRAWN))
    index.hidden = BitMap((await connection.execute(hidden)).scalars())
    for sort, keys in _SORTS.items():
        ordered = list((await connection.execute(select(Dataset.pk).order_by(*keys))).scalars())
        if index.hidden:
            ordered = [pk for pk in ordered if pk not in index.hidden]
        index.order[sort] = ordered
        index.position[sort] = {pk: place for place, pk in enumerate(ordered)}
    await _trust(index, connection)
    for pairs in index.by_facet.values():
        pairs.sort(key=lambda pair: -len(pair[1]))
    index.keep_owners()
    index.everything = BitMap(index.order["name"])
    trusted = index.members.get((TRUST_FACET, "none"))
    if trusted is not None:  # "none": every shown dataset without a level in force
        trusted |= index.everything - BitMap.union(
            BitMap(), *(d for v, d in index.by_facet[TRUST_FACET] if v != "none")
        )
        index.by_facet[TRUST_FACET] = [p for p in index.by_facet[TRUST_FACET] if p[0] != "none"]
        index.by_facet[TRUST_FACET].append(("none", trusted))
        index.by_facet[TRUST_FACET].sort(key=lambda pair: -len(pair[1]))
    index.counts = index.count(index.everything)
    return index
