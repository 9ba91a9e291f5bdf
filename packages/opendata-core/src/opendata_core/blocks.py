"""Byte ranges of a shard: cutting it into hashed blocks, the blocks a range needs, coalescing.

A format-1.1 shard lists its :class:`~opendata_core.documents.Block` s in the manifest (decision
0004). A reader that wants some byte ranges of it widens each range to the blocks that cover it,
fetches those (coalesced into few requests) and checks each block's SHA-256 before decoding.

Example:
    >>> from opendata_core.blocks import coalesce, covering, hash_blocks
    >>> blocks = hash_blocks(b"PAR1" + b"x" * 96 + b"footer!!", [4, 100])
    >>> [b.length for b in blocks]
    [4, 96, 8]
    >>> covering(blocks, 10, 20)
    (1, 2, 4, 100)
    >>> coalesce([(0, 10), (12, 20), (100, 110)], gap=4)
    [(0, 20), (100, 110)]
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate, pairwise

from opendata_core.documents import Block

__all__ = ["block_starts", "coalesce", "covering", "hash_blocks"]


def hash_blocks(data: bytes | memoryview, cuts: Iterable[int]) -> list[Block]:
    """Cut ``data`` at the offsets ``cuts`` (any order; 0, the end and repeats are ignored).

    The writer passes the column-chunk starts and the footer start, so the last block is the
    footer.
    """
    size = len(data)
    view = memoryview(data)
    edges = [0, *sorted({c for c in cuts if 0 < c < size}), size]
    return [
        Block(length=b - a, sha256=hashlib.sha256(view[a:b]).hexdigest())
        for a, b in pairwise(edges)
        if b > a
    ]


def block_starts(blocks: Sequence[Block]) -> list[int]:
    """The offset of every block, plus the end of the last (``len(blocks) + 1`` numbers)."""
    return [0, *accumulate(b.length for b in blocks)]


def covering(
    blocks: Sequence[Block], start: int, end: int, starts: Sequence[int] | None = None
) -> tuple[int, int, int, int]:
    """The blocks that cover bytes ``[start, end)``: ``(first, stop, from, to)``.

    ``blocks[first:stop]`` cover the range, and together they span bytes ``[from, to)``.
    ``starts`` (from :func:`block_starts`) saves recomputing the offsets.

    Raises:
        ValueError: the range is empty or not inside the blocks.
    """
    starts = block_starts(blocks) if starts is None else starts
    if not 0 <= start < end <= starts[-1]:
        raise ValueError(
            f"byte range [{start}, {end}) is not inside the shard's {starts[-1]} bytes"
        )

    first = bisect_right(starts, start) - 1
    stop = bisect_left(starts, end)
    return first, stop, starts[first], starts[stop]


def coalesce(ranges: Iterable[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Merge ``[start, end)`` ranges that overlap or lie at most ``gap`` bytes apart, sorted.

    Fetching a gap costs its bytes; a separate request costs a round trip (or a request fee):
    the caller picks ``gap`` from that trade.
    """
    merged: list[tuple[int, int]] = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if merged and a - merged[-1][1] <= gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
