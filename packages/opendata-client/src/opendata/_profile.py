"""What a publish writes about its data besides the data: preview rows and column statistics.

Column statistics are core's :class:`~opendata_core.profile.Profile`.

Computed with pyarrow.compute on the table the publish already holds in memory: one pass per
column for nulls, distinct values, min/max, mean/std, and a histogram or the most frequent
values; for the time column, rows per year, month or day. Work is bounded by the size of the
data (vectorised kernels, no Python loop per row) and the result by core's limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from opendata_core.profile import (
    DISTINCT_EXACT_ROWS,
    HISTOGRAM_BINS,
    MAX_PERIODS,
    TOP_VALUES,
    VALUE_CHARS,
    ColumnProfile,
    Histogram,
    Periods,
    Profile,
    ValueCount,
    column_kind,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from opendata._read import Reader
    from opendata_core.documents import Manifest
    from opendata_core.ids import DatasetId

__all__ = [
    "PREVIEW_ROWS",
    "ProfileBuilder",
    "RunningSummary",
    "Summary",
    "describe",
    "preview_rows",
    "profile_table",
]

PREVIEW_ROWS = 100
PROFILE_READ_BYTES = 256 * 1024 * 1024
"""An append holds only the partitions it rewrites; the rest of the version is read back for
the statistics up to this many bytes of Parquet, else the publish has no statistics."""

_SAMPLE_ROWS = 200_000
"""Rows sampled to estimate distinct values past DISTINCT_EXACT_ROWS."""
TOP_CANDIDATES = 100_000
"""Values a text column's counts keep between pieces (the most frequent); see ProfileBuilder."""


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _histogram(values: Any, lo: Any, hi: Any) -> Any:
    """Counts of ``values`` in :data:`HISTOGRAM_BINS` equal-width bins over ``[lo, hi]``.

    One bin when ``lo == hi``. A value falls in the same bin whichever piece it comes in, so the
    counts of the pieces of a column add up to the counts of the whole column.
    """
    import numpy as np

    if lo == hi:
        return np.array([values.size])
    return np.histogram(values, bins=HISTOGRAM_BINS, range=(lo, hi))[0]


def _edges(lo: Any, hi: Any, counts: Any, unit: str | None) -> Histogram:
    """The histogram of ``counts`` over ``[lo, hi]``; with a numpy datetime ``unit``, ISO edges."""
    import numpy as np

    edges = np.array([lo, hi]) if lo == hi else np.histogram_bin_edges([], HISTOGRAM_BINS, (lo, hi))
    if unit is None:
        return Histogram(edges=[float(e) for e in edges], counts=[int(c) for c in counts])
    labels = [_iso(np.datetime64(round(float(e)), unit).item()) for e in edges]  # type: ignore[call-overload]
    return Histogram(edges=list(labels), counts=[int(c) for c in counts])


def _finite(column: pa.ChunkedArray) -> Any:
    """The finite values of a number column as float64 (numpy)."""
    import numpy as np
    import pyarrow as pa

    values = column.cast(pa.float64()).drop_null().to_numpy()
    return values[np.isfinite(values)]


def _instants(column: pa.ChunkedArray) -> tuple[Any, str]:
    """The non-null values of a date or timestamp column as int64, and their numpy unit."""
    import numpy as np

    raw = np.asarray(column.drop_null().to_numpy(zero_copy_only=False))
    if raw.dtype.kind != "M":  # date32 comes as datetime.date objects
        raw = raw.astype("datetime64[D]")
    unit, _ = np.datetime_data(raw.dtype)
    if unit == "ns":  # .item() of a nanosecond value is an int, not a datetime
        raw, unit = raw.astype("datetime64[us]"), "us"
    return raw.astype(np.int64), unit


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _lower(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _upper(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


class _Column:
    """What is known of one column: bounds from :meth:`observe`, the rest from :meth:`add`."""

    def __init__(self, name: str, type_: str) -> None:
        self.name = name
        self.type = type_
        self.kind = column_kind(type_)
        self.lo: Any = None
        """min and max: a number, a date or datetime, or text."""
        self.hi: Any = None
        self.span: tuple[Any, Any] = (None, None)
        """The histogram's range: finite floats, or a time column's values as int64."""
        self.unit: str | None = None
        self.nulls = 0
        self.finite = 0
        self.mean = 0.0
        self.m2 = 0.0
        """The sum of squared deviations from the mean (Chan et al.'s parallel merge)."""
        self.counts: Any = None
        self.uniques: pa.Array | None = None
        self.sample: list[pa.ChunkedArray] = []
        self.values: pa.Table | None = None
        """Value counts (text, booleans): ``values`` and ``n``."""

    def observe(self, column: pa.ChunkedArray) -> None:
        import pyarrow.compute as pc

        kind = self.kind
        if column.null_count == len(column):
            return
        if kind in ("integer", "float"):
            values = _finite(column)
            if values.size:
                self.span = (_lower(self.span[0], values.min()), _upper(self.span[1], values.max()))
            if kind == "float" and values.size:
                self.lo = _lower(self.lo, float(values.min()))
                self.hi = _upper(self.hi, float(values.max()))
            elif kind == "integer":
                bounds = pc.min_max(column)
                self.lo = _lower(self.lo, int(bounds["min"].as_py()))
                self.hi = _upper(self.hi, int(bounds["max"].as_py()))
        elif kind in ("date", "timestamp", "text"):
            if kind != "text":
                ints, self.unit = _instants(column)
                self.span = (_lower(self.span[0], ints.min()), _upper(self.span[1], ints.max()))
            bounds = pc.min_max(_plain(column))
            self.lo = _lower(self.lo, bounds["min"].as_py())
            self.hi = _upper(self.hi, bounds["max"].as_py())

    def add(self, column: pa.ChunkedArray, sample: Any, exact: bool) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = self.kind
        self.nulls += column.null_count
        column = _plain(column)
        if kind not in ("other", "binary"):
            if exact:
                unique = pc.unique(column.drop_null())
                if self.uniques is not None:
                    unique = pc.unique(pa.concat_arrays([self.uniques, unique]))
                self.uniques = unique
            elif len(sample):
                self.sample.append(column.take(pa.array(sample)))
        if kind in ("integer", "float"):
            values = _finite(column)
            if values.size:
                n, mean = values.size, float(values.mean())
                m2 = float(((values - mean) ** 2).sum())
                delta, seen = mean - self.mean, self.finite + n
                self.mean += delta * n / seen
                self.m2 += m2 + delta * delta * self.finite * n / seen
                self.finite = seen
                self._count(_histogram(values, *self.span))
        elif kind in ("date", "timestamp"):
            ints, _ = _instants(column)
            if ints.size:
                self._count(_histogram(ints, *self.span))
        elif kind in ("text", "boolean"):
            counts = pc.value_counts(column.drop_null())
            if len(counts):
                values, n = counts.field("values"), counts.field("counts")
                self._merge(pa.table({"values": values, "n": n}))

    def _count(self, counts: Any) -> None:
        self.counts = counts if self.counts is None else self.counts + counts

    def _merge(self, table: pa.Table) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.values is not None:
            table = (
                pa.concat_tables([self.values, table])
                .group_by("values", use_threads=False)
                .aggregate([("n", "sum")])
                .rename_columns(["values", "n"])
            )
            if table.num_rows > TOP_CANDIDATES:
                most = [("n", "descending")]
                table = table.take(pc.select_k_unstable(table, k=TOP_CANDIDATES, sort_keys=most))
        self.values = table

    def result(self, rows: int) -> ColumnProfile:
        kind = self.kind
        stats: dict[str, Any] = {}
        distinct: int | None = None
        exact = True
        if kind not in ("other", "binary"):
            if rows <= DISTINCT_EXACT_ROWS:
                distinct = 0 if self.uniques is None else len(self.uniques)
            else:
                distinct, exact = _estimate(self.sample, rows - self.nulls)
        if kind in ("integer", "float") and self.finite:
            stats = {
                "mean": self.mean,
                "std": (self.m2 / self.finite) ** 0.5,
                "histogram": _edges(*self.span, self.counts, None),
                "min": self.lo,
                "max": self.hi,
            }
        elif kind in ("date", "timestamp") and self.counts is not None:
            stats = {
                "min": _iso(self.lo),
                "max": _iso(self.hi),
                "histogram": _edges(*self.span, self.counts, self.unit),
            }
        elif kind in ("text", "boolean"):
            stats["top"] = _top(self.values)
            if kind == "text" and self.lo is not None:
                stats["min"] = str(self.lo)[:VALUE_CHARS]
                stats["max"] = str(self.hi)[:VALUE_CHARS]
        return ColumnProfile(
            name=self.name,
            type=self.type,
            kind=kind,
            nulls=self.nulls,
            distinct=distinct,
            distinct_exact=exact,
            **stats,
        )


def _estimate(pieces: list[pa.ChunkedArray], valid: int) -> tuple[int, bool]:
    """Distinct values estimated from a sample of :data:`_SAMPLE_ROWS` rows.

    The estimate is Haas et al.'s Duj1 (VLDB 1995): n*d / (n - f1 + f1*n/N) for a sample of n of
    the N values holding d distinct values, f1 of them once. It is exact for all-distinct data
    and within a few percent for evenly spread values; a skewed column may be further off,
    hence ``distinct_exact: false``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = [c for piece in pieces for c in piece.chunks]
    sample = pa.chunked_array(chunks).drop_null() if chunks else []
    n = len(sample)
    if n == 0:
        return 0, False
    counts = pc.value_counts(sample).field("counts").to_numpy()
    seen, once = len(counts), int((counts == 1).sum())
    population = valid * n / _SAMPLE_ROWS  # the non-null values the sample stands for
    estimate = n * seen / (n - once + once * n / population)
    return max(seen, min(valid, round(estimate))), False


def _top(counts: pa.Table | None) -> list[ValueCount]:
    import pyarrow.compute as pc

    if counts is None or counts.num_rows == 0:
        return []
    k = min(TOP_VALUES, counts.num_rows)
    by_count = counts.take(pc.select_k_unstable(counts, k=k, sort_keys=[("n", "descending")]))
    out = []
    for item in by_count.to_pylist():
        value = item["values"]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append(ValueCount(text[:VALUE_CHARS], int(item["n"])))
    # select_k is unstable: most frequent first, ties by value, so the document is reproducible.
    return sorted(out, key=lambda v: (-v.count, v.value))


def _period_labels(column: pa.ChunkedArray, unit: str) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = column.drop_null()
    if unit == "year":
        return pc.cast(pc.year(valid), pa.string())
    as_time = valid.cast(pa.timestamp("s")) if pa.types.is_date(valid.type) else valid
    return pc.strftime(as_time, format="%Y-%m-%d" if unit == "day" else "%Y-%m")


class ProfileBuilder:
    """Column statistics of data seen in pieces, in two passes, holding one piece at a time.

    :meth:`observe` every piece (in any order: bounds and rows), then :meth:`add` every piece in
    the order of the published rows, then :meth:`result`. The result is the one pass over the
    whole table would give (nulls, min/max, histograms, rows per period, distinct values and
    their sample) except in the last digits of mean and std, and for a text column with more
    than :data:`TOP_CANDIDATES` distinct values, whose most frequent values are then counted
    among the most frequent of each piece.
    """

    def __init__(self, types: dict[str, str], time_column: str | None) -> None:
        self.columns = {name: _Column(name, t) for name, t in types.items()}
        self.time_column = time_column
        self.rows = 0
        self.added = 0
        self.positions: Any = None
        self.periods: dict[str, int] = {}

    def observe(self, table: pa.Table) -> None:
        """Pass 1: the bounds of each column (histogram ranges, the period unit) and the rows."""
        self.rows += table.num_rows
        for name, col in self.columns.items():
            col.observe(table.column(name))

    def add(self, table: pa.Table) -> None:
        """Pass 2: the next rows, in the published order."""
        import numpy as np
        import pyarrow.compute as pc

        if self.positions is None:  # the rows sampled for distinct values, as one pass takes them
            self.positions = np.arange(0)
            if self.rows > DISTINCT_EXACT_ROWS:
                rng = np.random.default_rng(0)
                self.positions = np.sort(rng.choice(self.rows, size=_SAMPLE_ROWS, replace=False))
        a, b = np.searchsorted(self.positions, [self.added, self.added + table.num_rows])
        sample = self.positions[a:b] - self.added
        self.added += table.num_rows
        for name, col in self.columns.items():
            col.add(table.column(name), sample, self.rows <= DISTINCT_EXACT_ROWS)
        unit = self._unit()
        if unit is not None and self.time_column is not None:
            counts = pc.value_counts(_period_labels(table.column(self.time_column), unit))
            labels, n_rows = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
            for k, n in zip(labels, n_rows, strict=True):
                self.periods[k] = self.periods.get(k, 0) + n

    def _unit(self) -> Literal["year", "month", "day"] | None:
        """Rows per year (more than 10 years), per day (at most 2 months), else per month."""
        col = self.columns.get(self.time_column) if self.time_column else None
        if col is None or col.lo is None:
            return None
        lo, hi = col.lo, col.hi
        if hi.year - lo.year >= 10:
            return "year"
        if (hi.year * 12 + hi.month) - (lo.year * 12 + lo.month) < 2:
            return "day"
        return "month"

    def result(self, publish_id: str) -> Profile:
        """The statistics of the rows added, for publish ``publish_id``."""
        unit = self._unit()
        periods = None
        if unit is not None and len(self.periods) <= MAX_PERIODS:
            pairs = sorted(self.periods.items())
            periods = Periods(unit=unit, counts=[ValueCount(str(k), int(n)) for k, n in pairs])
        return Profile(
            publish_id=publish_id,
            row_count=self.added,
            columns=[c.result(self.added) for c in self.columns.values()],
            time=periods,
        )


def profile_table(
    table: pa.Table, *, publish_id: str, time_column: str | None, types: dict[str, str]
) -> Profile:
    """The column statistics of ``table`` for publish ``publish_id``.

    Args:
        table: every row of the version being published.
        publish_id: the manifest's ``publish_id``.
        time_column: the dataset's time column (its rows per period are counted), if any.
        types: column name → Arrow type string, as the manifest's schema writes it.
    """
    names = table.column_names
    builder = ProfileBuilder(
        {n: types.get(n, str(table.schema.field(n).type)) for n in names}, time_column
    )
    builder.observe(table)
    builder.add(table)
    return builder.result(publish_id)


def preview_rows(table: pa.Table, *, last: bool) -> list[dict[str, Any]]:
    """The first or last :data:`PREVIEW_ROWS` rows as JSON values (times as ISO 8601)."""
    import msgspec

    start = max(0, table.num_rows - PREVIEW_ROWS) if last else 0
    rows = table.slice(start, PREVIEW_ROWS).to_pylist()
    # pyarrow gives nanosecond timestamps as pandas.Timestamp (a datetime subclass msgspec does not
    # encode): written as ISO 8601, the form msgspec gives a plain datetime.
    return msgspec.to_builtins(rows, enc_hook=_iso_datetime)  # type: ignore[no-any-return]


def _iso_datetime(value: Any) -> str:
    import datetime

    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise NotImplementedError(f"cannot write {type(value).__name__} in a preview")


def describe(
    reader: Reader, ds: DatasetId, manifest: Manifest, in_memory: dict[str, pa.Table]
) -> tuple[list[dict[str, Any]], Profile | None]:
    """The first rows and the column statistics of the version ``manifest`` commits.

    ``in_memory`` holds the partitions this publish built; other shards are read back (an
    append) unless that is more than :data:`PROFILE_READ_BYTES`: then only the first rows.
    """
    import pyarrow as pa

    missing = [
        s
        for s in manifest.shards
        if (t := in_memory.get(s.partition)) is None or t.num_rows != s.rows
    ]
    if sum(s.bytes for s in missing) > PROFILE_READ_BYTES:
        first = manifest.shards[0] if manifest.shards else None
        if first is None:
            return [], None
        table = in_memory.get(first.partition)
        if table is None or table.num_rows != first.rows:
            table = reader.read_table(ds, first)
        return preview_rows(table, last=False), None
    tables = []
    for shard in manifest.shards:
        table = in_memory.get(shard.partition)
        if table is None or table.num_rows != shard.rows:
            table = reader.read_table(ds, shard)
        tables.append(table)
    if not tables:
        return [], None
    whole = pa.concat_tables([t.cast(tables[-1].schema) for t in tables])
    profile = profile_table(
        whole,
        publish_id=manifest.publish_id,
        time_column=manifest.time_column,
        types={f.name: f.type for f in manifest.schema},
    )
    return preview_rows(whole, last=False), profile


class Summary(NamedTuple):
    """What metadata.json says of a version's rows besides its stats."""

    head: list[dict[str, Any]]
    """The first :data:`PREVIEW_ROWS` rows."""
    profile: Profile | None
    tail: list[dict[str, Any]]
    """The last :data:`PREVIEW_ROWS` rows (the preview)."""


class RunningSummary:
    """The :class:`Summary` of a publish that holds one shard at a time (a streamed push).

    :meth:`observe` every batch of the input, then :meth:`add` each shard in order; the preview
    rows are kept as JSON values, never as slices that would keep a shard's memory alive.
    """

    def __init__(self, types: dict[str, str], time_column: str | None) -> None:
        self.profile = ProfileBuilder(types, time_column)
        self.head: list[dict[str, Any]] = []
        self.tail: list[dict[str, Any]] = []

    def observe(self, table: pa.Table) -> None:
        """Pass 1 of the statistics (see :class:`ProfileBuilder`)."""
        self.profile.observe(table)

    def add(self, table: pa.Table) -> None:
        """The next shard's rows, in the published order."""
        self.profile.add(table)
        if len(self.head) < PREVIEW_ROWS:
            self.head += preview_rows(table, last=False)[: PREVIEW_ROWS - len(self.head)]
        self.tail = (self.tail + preview_rows(table, last=True))[-PREVIEW_ROWS:]

    def result(self, manifest: Manifest) -> Summary:
        """The summary, its statistics tied to ``manifest``'s publish."""
        return Summary(self.head, self.profile.result(manifest.publish_id), self.tail)
