"""A bounded Parquet decode: the one place a shard's decoded size is limited (decision 0007).

A Parquet footer cannot say how big a file decodes (``DELTA_BYTE_ARRAY`` text, lists and structs
of strings decode to 100x+ what any footer-based estimate gives), so the size is not estimated:
the shard is decoded batch by batch with a running total of the bytes actually materialised
(``RecordBatch.nbytes``), and decoding stops with :class:`DecodeRefused` the moment the total
passes the limit. The client decodes with it (keeping the batches); the registry's commit decodes
every new shard with it (counting and dropping them).

Batches are sized from what was seen: the first batch of a shard is :data:`PROBE_ROWS` rows,
later ones hold about :data:`target_batch_bytes` at the largest bytes per row seen so far (or the
footer's, if larger). So a refused decode has materialised at most the limit plus one batch: the
margin is one batch, about ``target_batch_bytes(limit)`` (1/32 of the limit, between 256 KiB and
16 MiB), unless the rows of one row group grow sharply after its first batch (a batch is never
smaller than one row: one row larger than the limit is materialised whole before the refusal).

This module imports pyarrow, which core otherwise never does: install ``opendata-core[parquet]``.
The limit rule itself (:func:`decode_limit`) needs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from opendata_core.errors import first_line

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

__all__ = [
    "DECODE_FLOOR",
    "DECODE_RATIO",
    "PROBE_ROWS",
    "DecodeRefused",
    "Decoded",
    "decode_limit",
    "decode_parquet",
    "target_batch_bytes",
]

DECODE_FLOOR: Final = 1 << 30
"""Every shard may decode to this many bytes, whatever its size (1 GiB)."""
DECODE_RATIO: Final = 1000
"""... plus this many times its stored size (the decoded-to-stored ratio no honest file nears)."""
PROBE_ROWS: Final = 64
"""Rows in a shard's first batch, before anything is known about the size of its rows."""
_MIN_BATCH_BYTES: Final = 256 << 10
_MAX_BATCH_BYTES: Final = 16 << 20


def decode_limit(
    stored: int, ceiling: int, *, floor: int = DECODE_FLOOR, ratio: int = DECODE_RATIO
) -> int:
    """The most bytes a shard of ``stored`` bytes may decode to.

    ``floor + ratio * stored``, capped by ``ceiling`` (``OPENDATA_MAX_DECODE_BYTES`` and its
    registry counterpart).

    Example:
        >>> decode_limit(1_000, 8 << 30)
        1074741824
        >>> decode_limit(1_000, 1 << 20)
        1048576
    """
    return min(ceiling, floor + ratio * stored)


def target_batch_bytes(limit: int) -> int:
    """The bytes one batch aims at under ``limit``: 1/32 of it, within 256 KiB .. 16 MiB.

    A refused decode overshoots the limit by about one batch.

    Example:
        >>> target_batch_bytes(16 << 20) == 512 << 10
        True
    """
    return max(_MIN_BATCH_BYTES, min(_MAX_BATCH_BYTES, limit // 32))


class DecodeRefused(ValueError):
    """A shard that cannot be decoded within its limit, or not at all.

    Attributes:
        name: The shard (its object key or its place in a manifest).
        decoded: Bytes materialised when decoding stopped (0 when unreadable).
        limit: The limit that applied.
        over_limit: True for a shard past its limit, False for one that is not readable Parquet.
        detail: The message without the shard's name, for callers that name it their own way.
    """

    def __init__(
        self, name: str, detail: str, *, decoded: int = 0, limit: int = 0, over_limit: bool
    ) -> None:
        self.name = name
        self.detail = detail
        self.decoded = decoded
        self.limit = limit
        self.over_limit = over_limit
        super().__init__(f"{name}: {detail}")


@dataclass(frozen=True)
class Decoded:
    """What :func:`decode_parquet` returns.

    Attributes:
        table: The decoded rows (filtered, if a filter was given); ``None`` when not kept.
        rows: Rows in the file (the footer's count, all row groups).
        decoded: Bytes materialised (before any filter).
    """

    table: pa.Table | None
    rows: int
    decoded: int


def decode_parquet(
    source: bytes | bytearray | memoryview | str | Path,
    *,
    name: str,
    limit: int,
    stored: int | None = None,
    setting: str = "OPENDATA_MAX_DECODE_BYTES",
    columns: Sequence[str] | None = None,
    row_groups: Sequence[int] | None = None,
    filter: Any = None,
    keep: bool = True,
) -> Decoded:
    """Decode a Parquet file batch by batch, refusing it once it has materialised ``limit`` bytes.

    Args:
        source: The file's bytes, or a local path.
        name: The shard, as the error message names it.
        limit: The most bytes the decode may materialise (see :func:`decode_limit`).
        stored: The file's size, for the message (default: ``len(source)``).
        setting: The setting that raises the limit, for the message.
        columns: Top-level columns to decode (default all); others are never decoded.
        row_groups: Row groups to decode (default all).
        filter: A ``pyarrow.compute.Expression``: row groups whose statistics exclude it are
            skipped, the rest is filtered batch by batch (the bytes count before filtering).
        keep: False counts and drops the batches (a check that needs no rows).

    Raises:
        DecodeRefused: Past the limit (``over_limit``), or not readable Parquet.

    Example:
        >>> import io, pyarrow as pa, pyarrow.parquet as pq
        >>> sink = io.BytesIO()
        >>> pq.write_table(pa.table({"s": ["x" * 1000] * 10_000}), sink)
        >>> decode_parquet(sink.getvalue(), name="bomb", limit=1 << 20)
        Traceback (most recent call last):
        ...
        opendata_core.decoding.DecodeRefused: bomb: exceeds OPENDATA_MAX_DECODE_BYTES: ...
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def unreadable(exc: BaseException) -> DecodeRefused:
        return DecodeRefused(
            name, f"not a readable Parquet file: {first_line(exc)}", over_limit=False
        )

    if isinstance(source, (bytes, bytearray, memoryview)):
        size = len(source)

        def open_source() -> Any:
            return pa.BufferReader(source)
    else:
        path = str(source)
        size = 0

        def open_source() -> Any:
            return pa.OSFile(path)

    try:
        pf = pq.ParquetFile(open_source())
        meta = pf.metadata
        schema = pf.schema_arrow
        groups = list(range(meta.num_row_groups) if row_groups is None else row_groups)
        if filter is not None and groups:
            groups = _matching_row_groups(open_source(), filter, groups)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise unreadable(exc) from None
    names = list(schema.names if columns is None else columns)
    size = size if stored is None else stored

    def refuse(decoded: int, what: str) -> DecodeRefused:
        return DecodeRefused(
            name,
            f"exceeds {setting}: {what} {decoded:,} bytes, more than the {limit:,} allowed for "
            f"its {size:,} bytes; refused (a decompression bomb?). If the data is genuine, "
            f"raise {setting}",
            decoded=decoded,
            limit=limit,
            over_limit=True,
        )

    # What the footer declares the chosen column chunks decompress to is a floor of the work:
    # above the limit, nothing is decoded (a single huge page would be decompressed whole).
    # Levels: pyarrow decodes 2 + 2 bytes of definition and repetition levels per leaf value
    # beside the batch (32 times what a boolean decodes to): batches are sized for them too.
    leaves = set(names)
    declared = [0] * meta.num_row_groups
    levels = [0] * meta.num_row_groups
    for rg in groups:
        group = meta.row_group(rg)
        for c in range(group.num_columns):
            col = group.column(c)
            if col.path_in_schema.split(".", 1)[0] in leaves:
                declared[rg] += max(col.total_uncompressed_size, 0)
                levels[rg] += 4 * max(col.num_values, 0)
    if sum(declared) > limit:
        raise refuse(sum(declared), "its footer declares")

    target = target_batch_bytes(limit)
    decoded = 0
    per_row = 0.0  # the largest bytes per row seen so far
    kept: list[pa.RecordBatch] = []

    def count(batch: pa.RecordBatch) -> None:
        nonlocal decoded, per_row
        decoded += batch.nbytes
        if batch.num_rows:
            per_row = max(per_row, batch.nbytes / batch.num_rows)
        if decoded > limit:
            raise refuse(decoded, "decoding stopped after")
        if keep:
            kept.append(batch.filter(filter) if filter is not None else batch)

    try:
        for rg in groups:
            rows = meta.row_group(rg).num_rows
            if rows <= 0:
                continue
            skip = 0
            guess = max(per_row, declared[rg] / rows, levels[rg] / rows)
            if per_row == 0:  # nothing seen yet: a small first batch, then sized from it
                probe = next(
                    iter(pf.iter_batches(batch_size=PROBE_ROWS, row_groups=[rg], columns=names)),
                    None,
                )
                if probe is None:
                    continue
                count(probe)
                skip = probe.num_rows
                guess = max(per_row, guess)
                if skip >= rows:
                    continue
            batch_rows = max(1, min(rows, int(target / guess) if guess > 0 else rows))
            for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[rg], columns=names):
                if skip:  # rows the probe already counted (decoded again, counted once)
                    if batch.num_rows <= skip:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                count(batch)
    except DecodeRefused:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise unreadable(exc) from None
    if not keep:
        return Decoded(None, meta.num_rows, decoded)
    out = schema if columns is None else pa.schema([schema.field(n) for n in names])
    table = pa.Table.from_batches(kept, schema=out.with_metadata(schema.metadata))
    return Decoded(table, meta.num_rows, decoded)


def _matching_row_groups(source: Any, expression: Any, groups: list[int]) -> list[int]:
    """The row groups among ``groups`` whose statistics may satisfy ``expression``."""
    import pyarrow.dataset as pds

    fragment = pds.ParquetFileFormat().make_fragment(source, row_groups=groups)
    keep = {rg.id for rg in fragment.subset(filter=expression).row_groups}
    return [rg for rg in groups if rg in keep]  # in file order: subset() may reorder them
