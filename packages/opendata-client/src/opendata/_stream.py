"""Publishing more than fits in memory: a stream spilled to disk, then one shard at a time.

``od.push`` takes a polars ``LazyFrame``, a pyarrow ``RecordBatchReader`` or dataset, or an
iterator of frames (:func:`is_stream`). The input may come in any time order, so it is read once
and each batch is checked (the same rules as a table: :func:`~opendata._checks.check_piece`),
brought to the first batch's types, sorted by time and written to a temporary Parquet file with
each row's day (``yyyymmdd``) beside it (:class:`Spill`). When the input ends the granularity is
chosen from the totals (the rule of an in-memory push), and each shard is assembled from the row
groups of the spill files whose days it covers, sorted, and encoded as an in-memory push encodes
it: the same rows give byte-identical shards.

A ``primary_key`` is checked for repeats within each shard, as it is built: a key that holds
the time column (the usual case) is thereby checked across the whole dataset; one without it
could repeat across two shards unnoticed.

Memory: one input batch while spilling; while assembling, one shard twice over (its rows read
back, then sorted) plus its encoded bytes. Disk: the input once (LZ4) plus the encoded shards.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opendata._checks import check_piece, table_from
from opendata_core.errors import InvalidData

if TYPE_CHECKING:
    import pyarrow as pa

    from opendata._arrow import Granularity
    from opendata._profile import RunningSummary
    from opendata_core.documents import Field

__all__ = ["STREAM_TYPES", "Spill", "is_stream", "pieces"]

STREAM_TYPES = (
    "a polars LazyFrame, a pyarrow RecordBatchReader or dataset, or an iterator (a generator) "
    "of pandas/polars DataFrames or pyarrow Tables/RecordBatches"
)
SPILL_ROW_GROUP = 64 * 1024
"""Rows per row group of a spill file at most (they also end where the month changes)."""
DAY = "__opendata_day__"
"""The spill files' extra column: each row's day, ``yyyymmdd``."""


def is_stream(data: object) -> bool:
    """Whether ``data`` is published as a stream (see :data:`STREAM_TYPES`)."""
    if isinstance(data, list | tuple | str | bytes):
        return False
    module, name = type(data).__module__.split(".")[0], type(data).__name__
    if module == "polars":
        return name == "LazyFrame"
    if module == "pyarrow":
        return name == "RecordBatchReader" or _is_dataset(data)
    return isinstance(data, Iterator)


def _is_dataset(data: object) -> bool:
    import pyarrow.dataset as pds

    return isinstance(data, pds.Dataset)


def _sunk(lazy: Any) -> Iterator[pa.Table]:
    """A polars ``LazyFrame``'s rows in batches, for polars releases without ``collect_batches``.

    Polars' streaming engine writes a temporary Parquet file (``sink_parquet``), read back batch
    by batch, so the frame is never held whole.
    """
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="opendata-lazy-") as folder:
        path = f"{folder}/frame.parquet"
        lazy.sink_parquet(path)
        for batch in pq.ParquetFile(path).iter_batches():
            yield pa.Table.from_batches([batch])


def pieces(data: Any, dataset_id: str) -> Iterator[pa.Table]:
    """The stream's batches as Arrow tables, one at a time."""
    import pyarrow as pa

    module = type(data).__module__.split(".")[0]
    if module == "polars":
        if hasattr(data, "collect_batches"):
            for frame in data.collect_batches():
                yield frame.to_arrow()
        else:  # polars before collect_batches: its streaming engine writes, we read back
            yield from _sunk(data)
    elif isinstance(data, pa.RecordBatchReader):
        for batch in data:
            yield pa.Table.from_batches([batch])
    elif module == "pyarrow":
        for batch in data.to_batches():
            yield pa.Table.from_batches([batch])
    else:
        for i, piece in enumerate(data, 1):
            if isinstance(piece, list | tuple) or is_stream(piece):
                raise TypeError(_item_error(i, piece))
            try:
                yield table_from(piece, dataset_id)
            except TypeError:
                raise TypeError(_item_error(i, piece)) from None


def _item_error(i: int, piece: object) -> str:
    return (
        f"cannot push an iterator whose item {i} is a {type(piece).__name__}: yield pandas or "
        "polars DataFrames or pyarrow Tables/RecordBatches"
    )


class Spill:
    """The input, checked and sorted batch by batch, in temporary Parquet files under ``folder``."""

    def __init__(
        self, folder: Path, dataset_id: str, time_column: str | None, primary_key: list[str]
    ) -> None:
        self.folder = folder
        self.dataset_id = dataset_id
        self.time_column = time_column
        self.primary_key = primary_key
        self.schema: pa.Schema | None = None
        """The published schema: the first batch's, as Parquet gives it back (stable_types)."""
        self.given: pa.Schema | None = None
        """The first batch's schema as it came: each later batch must have it."""
        self.rows = 0
        self.batches = 0
        self.nbytes = 0
        self.days: set[int] = set()
        self.files: list[tuple[Path, list[tuple[int, int]]]] = []
        """Each spill file and the first and last day of each of its row groups."""
        self.summary: RunningSummary

    def add(self, table: pa.Table) -> None:
        """Check one batch, bring it to the first batch's types, spill it sorted by time."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        from opendata._arrow import day_keys, stable_types
        from opendata._profile import RunningSummary
        from opendata._publish import _sort

        self.batches += 1
        if self.schema is not None:
            table = self._fit(table)  # first: a later batch's problem is named as that batch's
        check_piece(
            table, self.dataset_id, time_column=self.time_column, primary_key=self.primary_key
        )
        if self.schema is None:
            self.given = table.schema
            table = stable_types(table)
            self.schema = table.schema
            self.summary = RunningSummary(
                {f.name: str(f.type) for f in table.schema}, self.time_column
            )
        if table.num_rows == 0:
            return
        self.rows += table.num_rows
        self.nbytes += table.nbytes
        self.summary.observe(table)
        table = _sort(table, self.time_column, self.primary_key)
        path = self.folder / f"spill-{len(self.files):06d}.parquet"
        cuts = list(range(0, table.num_rows, SPILL_ROW_GROUP))
        days = None
        if self.time_column is not None:
            days = day_keys(table.column(self.time_column))
            self.days.update(int(d) for d in np.unique(days).tolist())
            table = table.append_column(DAY, pa.array(days, pa.int64()))
            # Row groups also end where the month changes: a year or month shard reads only its
            # own rows back, however scattered in time the input was.
            months = np.flatnonzero(np.diff(days // 100)) + 1
            cuts = sorted(set(cuts) | set(months.tolist()))
        groups = []
        with pq.ParquetWriter(path, table.schema, compression="lz4") as writer:
            for a, b in itertools.pairwise([*cuts, table.num_rows]):
                writer.write_table(table.slice(a, b - a), row_group_size=b - a)
                groups.append((int(days[a]), int(days[b - 1])) if days is not None else (0, 0))
        self.files.append((path, groups))

    def _fit(self, table: pa.Table) -> pa.Table:
        """A later batch in the first one's column order and types, or a clear refusal."""
        import pyarrow as pa

        assert self.schema is not None
        names, got = self.schema.names, table.column_names
        missing = [n for n in names if n not in got]
        extra = [n for n in got if n not in names]
        if missing or extra:
            parts = [f"lacks column(s) {', '.join(missing)}"] if missing else []
            parts += [f"has extra column(s) {', '.join(extra)}"] if extra else []
            raise InvalidData(
                f"{self.dataset_id}: batch {self.batches} {' and '.join(parts)}; the first "
                f"batch had {', '.join(names)}; nothing was published",
                dataset_id=self.dataset_id,
                column=(missing or extra)[0],
                hint="give every batch the same columns",
            )
        table = table.select(names)
        assert self.given is not None
        for i, field in enumerate(self.given):
            have = table.schema.field(i).type
            if have == field.type:
                continue
            # As pieces of a list are concatenated: only an all-null column takes the type.
            if not pa.types.is_null(have):
                raise InvalidData(
                    f"{self.dataset_id}: column {field.name!r} of batch {self.batches} is {have}, "
                    f"the first batch's is {field.type}; nothing was published",
                    dataset_id=self.dataset_id,
                    column=field.name,
                    hint=f"give {field.name!r} one type in every batch, e.g. cast it before "
                    "yielding it",
                )
            table = table.set_column(i, field.name, table.column(i).cast(field.type))
        # The types the first batch was given, then the ones it is published in (stable_types).
        return table.cast(self.schema)

    def auto_granularity(self) -> Granularity:
        """The granularity an in-memory push of the same rows would choose."""
        from opendata._arrow import granularity_for

        return granularity_for(self.nbytes, len({d // 10000 for d in self.days}))

    def fields(self) -> list[Field]:
        """The manifest's schema of the published rows."""
        from opendata._arrow import schema_fields

        assert self.schema is not None
        return schema_fields(self.schema)

    def partitions(self, granularity: Granularity) -> list[tuple[str, int | None, int | None]]:
        """``(label, first day, last day)`` of each partition, in time order."""
        from opendata._arrow import period_key, period_label

        if self.time_column is None or granularity == "none":
            return [("all", None, None)]
        unit = {"year": 10000, "month": 100, "day": 1}[granularity]
        keys = sorted({int(period_key(d, granularity)) for d in self.days})
        return [(period_label(k, granularity), k, k + unit - 1) for k in keys]

    def read(self, first: int | None, last: int | None) -> pa.Table:
        """The rows of days ``first..last`` (every row for ``None``) in input order, sorted."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from opendata._publish import _sort

        assert self.schema is not None
        tables = []
        for path, groups in self.files:
            wanted = [
                i
                for i, (lo, hi) in enumerate(groups)
                if first is None or last is None or (lo <= last and hi >= first)
            ]
            if not wanted:
                continue
            part = pq.ParquetFile(path).read_row_groups(wanted)
            if first is not None and last is not None:
                days = part.column(DAY).to_numpy()
                part = part.filter(pa.array((days >= first) & (days <= last)))
            if DAY in part.column_names:
                part = part.drop_columns([DAY])
            tables.append(part)
        whole = pa.concat_tables(tables).replace_schema_metadata(self.schema.metadata)
        del tables
        return _sort(whole, self.time_column, self.primary_key)
