"""Verified ranged reads of format-1.1 shards (spec §6.1, decision 0004).

Round trip 1: the footer block (its SHA-256 is in the manifest). Round trip 2: the blocks that
cover the needed column chunks of the needed row groups, coalesced, fetched concurrently. Every
block is checked against its SHA-256 (or comes from the cache, which re-hashes it) before a byte
of it is decoded; the footer passes the same row-count and decode-size checks as a whole shard.
Blocks already in the cache are not fetched; fetched blocks are cached.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from opendata._parquet_layout import chunks
from opendata_core.blocks import block_starts, coalesce, covering
from opendata_core.errors import CorruptDataError, first_line
from opendata_core.store import NotFound, RangeNotSatisfiable
from opendata_core.timerange import TimeRange, iso

if TYPE_CHECKING:
    from opendata._read import Reader
    from opendata_core.documents import Shard
    from opendata_core.ids import DatasetId

__all__ = ["COALESCE_GAP", "WHOLE_RATIO", "fetch_blocks", "read_ranged"]

COALESCE_GAP = 128 << 10
"""Blocks at most this far apart are fetched in one range (a gap costs ~10 ms at 100 Mbit/s)."""
WHOLE_RATIO = 0.8
"""Fetch the shard whole instead when the ranges would move more than this share of it."""


def fetch_blocks(
    reader: Reader, ds: DatasetId, key: str, shard: Shard, wanted: list[int]
) -> dict[int, bytes | memoryview]:
    """The blocks ``wanted`` (indices), verified; from the cache, else fetched (retried once)."""
    blocks = shard.blocks
    starts = block_starts(blocks)
    got: dict[int, bytes | memoryview] = {}
    for i in wanted:
        data = reader.cache.get(blocks[i].sha256, blocks[i].length)
        if data is not None:
            got[i] = data
    detail = ""
    for _attempt in range(2):
        missing = [i for i in wanted if i not in got]
        if not missing:
            return got
        spans = coalesce([(starts[i], starts[i + 1]) for i in missing], COALESCE_GAP)
        try:
            parts = reader.store.get_ranges(key, spans)
        except NotFound:
            detail = "the shard is missing from the store"
            continue
        except RangeNotSatisfiable:
            detail = f"the object is shorter than the {shard.bytes:,} bytes the manifest lists"
            continue
        remote = reader.store.local_path(key) is None
        for (a, b), part in zip(spans, parts, strict=True):
            view = memoryview(part)
            for i in missing:
                if not (a <= starts[i] and starts[i + 1] <= b):
                    continue
                piece = view[starts[i] - a : starts[i + 1] - a]  # short if the object is
                if hashlib.sha256(piece).hexdigest() == blocks[i].sha256:
                    got[i] = piece
                    if remote:
                        reader.cache.put(blocks[i].sha256, piece)
        bad = [i for i in missing if i not in got]
        if bad:
            i = bad[0]
            detail = (
                f"block {i} (bytes {starts[i]:,}..{starts[i + 1]:,}) does not match its sha256 "
                f"{blocks[i].sha256[:12]}… in the manifest"
            )
    if all(i in got for i in wanted):
        return got
    raise CorruptDataError(str(ds), key, detail)


def read_ranged(
    reader: Reader,
    ds: DatasetId,
    shard: Shard,
    columns: list[str] | None,
    bounds: TimeRange | None,
    user_filter: Any,
    filter_columns: set[str] | None,
    range_filter: Any,
    time_column: str | None,
) -> pa.Table | None:
    """The shard's rows in ``bounds`` and ``columns``, from verified blocks only.

    Row groups whose time statistics miss ``bounds`` are not fetched; ``range_filter`` (the
    exact bounds) and ``user_filter`` are applied after decoding, reading the columns they need:
    the time column and ``filter_columns`` (every column when that is None: a filter whose
    columns are unknown).

    Returns None when a whole-shard read is the better choice: the ranges would move nearly the
    whole file.
    """
    key = reader.layout.resolve(ds, shard.path)
    if reader.cache.get(shard.sha256, shard.bytes) is not None:
        return None  # the whole shard is cached: no request at all
    sparse, pf = _sparse_with_footer(reader, ds, key, shard)
    meta = pf.metadata
    if columns is None or (user_filter is not None and filter_columns is None):
        wanted_cols = pf.schema_arrow.names
    else:
        read = set(columns) | (filter_columns or set())
        if range_filter is not None and time_column is not None:
            read.add(time_column)
        wanted_cols = [n for n in pf.schema_arrow.names if n in read]
    reader.check_rows(ds, key, shard, meta.num_rows)
    groups = _row_groups(meta, bounds, time_column)
    idx = _blocks_covering(shard, meta, groups, wanted_cols)
    if sum(shard.blocks[i].length for i in idx) > WHOLE_RATIO * shard.bytes:
        return None
    starts = block_starts(shard.blocks)
    for i, data in fetch_blocks(reader, ds, key, shard, sorted(idx)).items():
        sparse[starts[i] : starts[i + 1]] = data
    if not groups:
        table = pf.schema_arrow.empty_table().select(wanted_cols)
    else:
        expr = None
        for e in (range_filter, user_filter):
            if e is not None:
                expr = e if expr is None else expr & e
        table = reader.bounded(
            ds, key, shard, sparse, columns=wanted_cols, row_groups=groups, filter=expr
        ).table
        assert table is not None  # kept
    return table.select(columns) if columns is not None else table


def _sparse_with_footer(
    reader: Reader, ds: DatasetId, key: str, shard: Shard
) -> tuple[bytearray, pq.ParquetFile]:
    """Round trip 1: a sparse copy of the shard with only its verified footer block, opened.

    The copy is zeros (untouched pages cost no memory) until the needed blocks are pasted in.
    """
    last = len(shard.blocks) - 1
    footer = fetch_blocks(reader, ds, key, shard, [last])[last]
    sparse = bytearray(shard.bytes)
    sparse[block_starts(shard.blocks)[last] :] = footer
    try:
        return sparse, pq.ParquetFile(pa.BufferReader(sparse))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptDataError(
            str(ds), key, f"not a readable Parquet file: {first_line(exc)}"
        ) from None


def _row_groups(
    meta: pq.FileMetaData, bounds: TimeRange | None, time_column: str | None
) -> list[int]:
    """The row groups whose time statistics may overlap ``bounds`` (all without statistics)."""
    leaf = next(
        (j for j in range(meta.num_columns) if meta.schema.column(j).path == time_column), None
    )
    groups = []
    for rg in range(meta.num_row_groups):
        if bounds is not None and leaf is not None:
            stats = meta.row_group(rg).column(leaf).statistics
            if (
                stats is not None
                and stats.has_min_max
                and not bounds.overlaps(iso(stats.min), iso(stats.max))
            ):
                continue
        groups.append(rg)
    return groups


def _blocks_covering(
    shard: Shard, meta: pq.FileMetaData, groups: list[int], columns: list[str]
) -> set[int]:
    """The blocks (indices) that hold ``columns`` of the row groups ``groups``, footer aside."""
    starts = block_starts(shard.blocks)
    idx: set[int] = set()
    for c in chunks(meta):
        if c.row_group in groups and c.column in columns:
            first, stop, _, _ = covering(shard.blocks, c.start, c.end, starts)
            idx.update(range(first, stop))
    idx.discard(len(shard.blocks) - 1)  # the footer is already there
    return idx
