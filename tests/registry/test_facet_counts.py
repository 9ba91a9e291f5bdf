"""Facet counts walk each facet's values largest first and stop early: still the exact top."""

from __future__ import annotations

import random

from pyroaring import BitMap

from opendata_core.api import FACETS
from opendata_registry.domain.catalogue.facets import (
    FACET_VALUES,
    HEAD_ROWS,
    MEMO_ROWS,
    FacetIndex,
    RankedHead,
)


def _brute(index: FacetIndex, hits: BitMap) -> dict[str, list[tuple[str, int]]]:
    out = {}
    for name in FACETS:
        pairs = [(-len(hits & datasets), value) for value, datasets in index.by_facet.get(name, [])]
        out[name] = [(v, -n) for n, v in sorted(p for p in pairs if p[0])[:FACET_VALUES]]
    return out


def test_pruned_counts_equal_counting_every_value() -> None:
    rng = random.Random(3)
    universe = 20_000
    for trial in range(20):
        index = FacetIndex(generation=trial)
        for name in FACETS:
            pairs = []
            # A long tail: a few large values, many small ones, many of equal size (ties).
            for i in range(rng.choice([3, 40, 400])):
                size = max(1, int(universe / (i + 1) ** rng.uniform(0.5, 1.5)))
                size = min(size, rng.choice([size, 7, 7, 30]))
                pairs.append((f"{name}-{i:03d}", BitMap(rng.sample(range(universe), size))))
            rng.shuffle(pairs)  # equal sizes in any name order, as the database returns them
            pairs.sort(key=lambda pair: -len(pair[1]))
            index.by_facet[name] = pairs
        hits = BitMap(rng.sample(range(universe), rng.choice([5, 500, 15_000, universe])))
        got = {
            name: [(c.value, c.count) for c in counts] for name, counts in index.count(hits).items()
        }
        assert got == _brute(index, hits), trial


def test_values_tying_at_the_cut_are_ordered_by_value() -> None:
    rng = random.Random(5)
    index = FacetIndex(generation=0)
    pairs = [(f"org{i:03d}", BitMap(range(i * 5, i * 5 + 5))) for i in range(80)]
    rng.shuffle(pairs)
    index.by_facet["namespace"] = pairs
    counts = index.count(BitMap(range(1000)))["namespace"]
    assert [c.value for c in counts] == [f"org{i:03d}" for i in range(FACET_VALUES)]
    assert {c.count for c in counts} == {5}


def test_counts_read_from_each_keys_value_equal_counting_every_value() -> None:
    """A facet with many values and one value per key (a publisher): few hits are counted
    from each key's value; the counts are those of intersecting every value."""
    rng = random.Random(11)
    universe = 20_000
    keys = list(range(universe))
    for trial in range(10):
        rng.shuffle(keys)
        index = FacetIndex(generation=trial)
        pairs, start = [], 0
        for i in range(rng.choice([150, 2000])):
            size = rng.choice([1, 2, 7, 7, 30])
            pairs.append((f"org{i:04d}", BitMap(keys[start : start + size])))
            start += size
        pairs.sort(key=lambda pair: -len(pair[1]))
        index.by_facet["namespace"] = pairs
        index.by_facet["topic"] = [("shared", BitMap(keys[:50])), ("also", BitMap(keys[:60]))]
        index.keep_owners()
        assert set(index.owners) == {"namespace"}  # topic: below the many-values bar
        for size in (3, 300, 3000, universe):
            hits = BitMap(rng.sample(range(universe), size))
            got = {
                name: [(c.value, c.count) for c in counts]
                for name, counts in index.count(hits).items()
            }
            assert got == _brute(index, hits), (trial, size)


def test_a_facet_whose_keys_have_several_values_is_counted_by_value() -> None:
    index = FacetIndex(generation=0)
    index.by_facet["geo"] = [(f"c{i:03d}", BitMap([i, i + 1])) for i in range(200)]
    index.keep_owners()
    assert index.owners == {}
    counts = index.count(BitMap([5]))["geo"]
    assert [(c.value, c.count) for c in counts] == [("c004", 1), ("c005", 1)]


def test_the_ranked_memo_is_bounded_by_rows_and_keeps_the_recently_used() -> None:
    index = FacetIndex(generation=0)
    head = RankedHead(HEAD_ROWS, [(float(i), i) for i in range(HEAD_ROWS)])
    index.keep_head(("common",), head)
    for word in range(MEMO_ROWS // HEAD_ROWS * 2):  # twice what fits
        index.keep_head((f"w{word}",), head)
        assert index.ranked.get(("common",)) is head  # used by every request: never dropped
    assert index.ranked.currsize <= MEMO_ROWS
    assert ("w0",) not in index.ranked  # the least recently used went first
    # A deeper head than that (a far page of a common word) is answered but not kept.
    index.keep_head(("deep",), RankedHead(HEAD_ROWS + 1, [*head.rows, (0.0, -1)]))
    assert ("deep",) not in index.ranked and ("common",) in index.ranked
