"""What a publish writes about its data besides the data: preview rows and column statistics.

Column statistics are core's :class:`~opendata_core.profile.Profile`.

Computed with pyarrow.compute on the table the publish already holds in memory: one pass per
column for nulls, distinct values, min/max, mean/std, and a histogram or the most frequent
values; for the time column, rows per year, month or day. Work is bounded by the size of the
data (vectorised kernels, no Python loop per row) and the result by core's limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

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

__all__ = ["PREVIEW_ROWS", "describe", "preview_rows", "profile_table"]

PREVIEW_ROWS = 100
PROFILE_READ_BYTES = 256 * 1024 * 1024
"""An append holds only the partitions it rewrites; the rest of the version is read back for
the statistics up to this many bytes of Parquet, else the publish has no statistics."""

_SAMPLE_ROWS = 200_000
"""Rows sampled to estimate distinct values past DISTINCT_EXACT_ROWS."""


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _distinct(column: pa.ChunkedArray) -> tuple[int, bool]:
    """Distinct values: exact up to DISTINCT_EXACT_ROWS rows, else estimated from a sample.

    The estimate is Haas et al.'s Duj1 (VLDB 1995): n*d / (n - f1 + f1*n/N) for a sample of n of
    the N values holding d distinct values, f1 of them once. It is exact for all-distinct data
    and within a few percent for evenly spread values; a skewed column may be further off,
    hence ``distinct_exact: false``.
    """
    import numpy as np
    import pyarrow.compute as pc

    if len(column) <= DISTINCT_EXACT_ROWS:
        return int(pc.count_distinct(column, mode="only_valid").as_py()), True
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(column), size=_SAMPLE_ROWS, replace=False))
    sample = column.take(rows).drop_null()
    valid = len(column) - column.null_count
    n = len(sample)
    if n == 0:
        return 0, False
    counts = pc.value_counts(sample).field("counts").to_numpy()
    seen, once = len(counts), int((counts == 1).sum())
    population = valid * n / _SAMPLE_ROWS  # the non-null values the sample stands for
    estimate = n * seen / (n - once + once * n / population)
    return max(seen, min(valid, round(estimate))), False


def _histogram(values: Any, *, unit: str | None = None) -> Histogram | None:
    """Equal-width bins over finite values; with a numpy datetime ``unit``, ISO 8601 edges."""
    import numpy as np

    if values.size == 0:
        return None
    lo, hi = values.min(), values.max()
    if lo == hi:
        counts, edges = np.array([values.size]), np.array([lo, hi])
    else:
        counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(lo, hi))
    if unit is None:
        return Histogram(edges=[float(e) for e in edges], counts=[int(c) for c in counts])
    labels = [_iso(np.datetime64(round(float(e)), unit).item()) for e in edges]  # type: ignore[call-overload]
    return Histogram(edges=list(labels), counts=[int(c) for c in counts])


def _numbers(column: pa.ChunkedArray, kind: str) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    as_float = column.cast(pa.float64())
    values = as_float.drop_null().to_numpy()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {}
    out: dict[str, Any] = {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "histogram": _histogram(values),
    }
    bounds = pc.min_max(column)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    if kind == "float":
        lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = (int(lo) if lo is not None else None), (int(hi) if hi is not None else None)
    out.update(min=lo, max=hi)
    return out


def _times(column: pa.ChunkedArray) -> dict[str, Any]:
    import numpy as np
    import pyarrow.compute as pc

    valid = column.drop_null()
    if len(valid) == 0:
        return {}
    bounds = pc.min_max(valid)
    raw = np.asarray(valid.to_numpy(zero_copy_only=False))
    if raw.dtype.kind != "M":  # date32 comes as datetime.date objects
        raw = raw.astype("datetime64[D]")
    unit, _ = np.datetime_data(raw.dtype)
    if unit == "ns":  # .item() of a nanosecond value is an int, not a datetime
        raw, unit = raw.astype("datetime64[us]"), "us"
    return {
        "min": _iso(bounds["min"].as_py()),
        "max": _iso(bounds["max"].as_py()),
        "histogram": _histogram(raw.astype(np.int64), unit=unit),
    }


def _top(column: pa.ChunkedArray) -> list[ValueCount]:
    import pyarrow.compute as pc

    counts = pc.value_counts(column.drop_null())
    if len(counts) == 0:
        return []
    freq = counts.field("counts")
    k = min(TOP_VALUES, len(counts))
    # On a plain array select_k ignores the key's name; it needs one all the same.
    by_count = counts.take(pc.select_k_unstable(freq, k=k, sort_keys=[("counts", "descending")]))
    out = []
    for item in by_count.to_pylist():
        value = item["values"]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append(ValueCount(text[:VALUE_CHARS], int(item["counts"])))
    # select_k is unstable: most frequent first, ties by value, so the document is reproducible.
    return sorted(out, key=lambda v: (-v.count, v.value))


def _periods(column: pa.ChunkedArray) -> Periods | None:
    """Rows per year (more than 10 years), per day (at most 2 months), else per month."""
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = column.drop_null()
    if len(valid) == 0:
        return None
    years = pc.year(valid)
    bounds = pc.min_max(years)
    months = pc.add(pc.multiply(years.cast(pa.int64()), 12), pc.month(valid).cast(pa.int64()))
    span = pc.min_max(months)
    as_time = valid.cast(pa.timestamp("s")) if pa.types.is_date(valid.type) else valid
    unit: Literal["year", "month", "day"]
    if bounds["max"].as_py() - bounds["min"].as_py() >= 10:
        unit, labels = "year", pc.cast(years, pa.string())
    elif span["max"].as_py() - span["min"].as_py() < 2:
        unit, labels = "day", pc.strftime(as_time, format="%Y-%m-%d")
    else:
        unit, labels = "month", pc.strftime(as_time, format="%Y-%m")
    counts = pc.value_counts(labels)
    pairs = sorted(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )
    if len(pairs) > MAX_PERIODS:
        return None
    return Periods(unit=unit, counts=[ValueCount(str(k), int(n)) for k, n in pairs])


def _column(table: pa.Table, name: str, type_: str) -> ColumnProfile:
    import pyarrow as pa

    column = table.column(name)
    kind = column_kind(type_)
    stats: dict[str, Any] = {}
    distinct: int | None = None
    exact = True
    if kind not in ("other", "binary"):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        distinct, exact = _distinct(column)
    if kind in ("integer", "float"):
        stats = _numbers(column, kind)
    elif kind in ("date", "timestamp"):
        stats = _times(column)
    elif kind in ("text", "boolean"):
        stats["top"] = _top(column)
        if kind == "text" and column.null_count < len(column):
            import pyarrow.compute as pc

            bounds = pc.min_max(column)
            stats["min"] = str(bounds["min"].as_py())[:VALUE_CHARS]
            stats["max"] = str(bounds["max"].as_py())[:VALUE_CHARS]
    return ColumnProfile(
        name=name,
        type=type_,
        kind=kind,
        nulls=column.null_count,
        distinct=distinct,
        distinct_exact=exact,
        **stats,
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
    columns = [
        _column(table, name, types.get(name, str(table.schema.field(name).type)))
        for name in table.column_names
    ]
    periods = _periods(table.column(time_column)) if time_column else None
    return Profile(publish_id=publish_id, row_count=table.num_rows, columns=columns, time=periods)


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
