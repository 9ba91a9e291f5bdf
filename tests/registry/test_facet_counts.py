"""Facet counts walk each facet's values largest first and stop early: still the exact top."""

from __future__ import annotations

import random

from pyroaring import BitMap

from opendata_registry.services.facets import FACET_VALUES, FACETS, FacetIndex


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
