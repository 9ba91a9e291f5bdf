"""Arrow helpers: turning user data into tables, time bounds, partitioning, Parquet bytes.

Imported only by functions that need pyarrow, so ``import opendata`` stays light.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opendata_core.documents import Field

__all__ = [
    "Bounds",
    "parse_bounds",
    "schema_fields",
    "to_table",
    "write_parquet",
]

ROW_GROUP_ROWS = 128 * 1024
"""Rows per Parquet row group: small enough to prune by statistics, large enough to compress."""
AUTO_SHARD_BYTES = 1 << 30
"""In-memory bytes per year above which auto partitioning goes to months (and months to days)."""
SMALL_TABLE_BYTES = 8 << 20
"""Below this many in-memory bytes a dataset is one shard: one request beats pruning."""


def to_table(data: Any) -> pa.Table:
    """Convert a pandas/polars DataFrame, Arrow table/batch or a Parquet/CSV path to a table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix in (".csv", ".tsv", ".gz"):
            import pyarrow.csv as pacsv

            delimiter = "\t" if suffix == ".tsv" else ","
            return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
        raise ValueError(f"cannot push {path}: expected a .parquet or .csv file")
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        # A named index (df.set_index("date")) is data: keep it as columns. An unnamed one is
        # row numbering and is dropped, so loads return plain columns for every library.
        if any(name is not None for name in data.index.names):
            data = data.reset_index()
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars":
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise TypeError(
        f"cannot push a {type(data).__name__}: pass a pandas or polars DataFrame, "
        "a pyarrow Table, or a path to a .parquet/.csv file"
    )


def schema_fields(schema: pa.Schema) -> list[Field]:
    """The manifest's description of a schema."""
    return [Field(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]


def is_time_type(t: pa.DataType) -> bool:
    """Whether a column can be the time column."""
    return bool(pa.types.is_date(t) or pa.types.is_timestamp(t))


def iso(value: date | datetime | None) -> str | None:
    """ISO 8601 text of a time value; aware datetimes are given in UTC."""
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def from_iso(text: str) -> date | datetime:
    """Parse what :func:`iso` wrote."""
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    # Dictionary encoding pays for repeated values (strings, dates, categoricals); on continuous
    # floats and ints it builds a dictionary as large as the data and doubles write time
    # (measured in docs/benchmarks.md).
    t = pa.types
    return [
        f.name
        for f in schema
        if t.is_string(f.type)
        or t.is_large_string(f.type)
        or t.is_binary(f.type)
        or t.is_date(f.type)
        or t.is_timestamp(f.type)
        or t.is_boolean(f.type)
        or t.is_dictionary(f.type)
    ]


def write_parquet(table: pa.Table) -> pa.Buffer:
    """Parquet bytes: zstd, statistics, page checksums (for verifiable ranged reads)."""
    sink = pa.BufferOutputStream()
    floats = [f.name for f in table.schema if pa.types.is_floating(f.type)]
    pq.write_table(
        table,
        sink,
        compression="zstd",
        row_group_size=ROW_GROUP_ROWS,
        use_dictionary=_dictionary_columns(table.schema),
        # Byte-stream split makes floating-point columns compress markedly better under zstd.
        use_byte_stream_split=floats or False,
        write_statistics=True,
        write_page_checksum=True,
    )
    return sink.getvalue()


Granularity = Literal["year", "month", "day", "none"]


def choose_granularity(table: pa.Table, time_column: str) -> Granularity:
    """Pick one shard for small data, else year, month or day shards from the size per period."""
    col = table.column(time_column)
    if table.nbytes < SMALL_TABLE_BYTES or len(col) == 0 or col.null_count == len(col):
        return "none"
    years = max(1, len(pc.unique(pc.year(col))))
    per_year = table.nbytes / years
    if per_year <= AUTO_SHARD_BYTES:
        return "year"
    return "month" if per_year / 12 <= AUTO_SHARD_BYTES else "day"


def partition_groups(
    table: pa.Table, time_column: str | None, granularity: Granularity
) -> list[tuple[str, pa.Table]]:
    """Split a table *sorted by time* into one slice per partition.

    Labels are ``"2024"``, ``"2024-03"``, ``"2024-03-01"`` or ``"all"``. Vectorised: no Python
    work per row.
    """
    import numpy as np

    if time_column is None or granularity == "none" or table.num_rows == 0:
        return [("all", table)]
    col = table.column(time_column)
    key = pc.year(col).to_numpy(zero_copy_only=False).astype(np.int64) * 10000
    if granularity in ("month", "day"):
        key += pc.month(col).to_numpy(zero_copy_only=False).astype(np.int64) * 100
    if granularity == "day":
        key += pc.day(col).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(key)) + 1))
    ends = np.append(starts[1:], len(key))
    out = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        k = int(key[a])
        y, m, d = k // 10000, k // 100 % 100, k % 100
        label = {"year": f"{y:04d}", "month": f"{y:04d}-{m:02d}"}.get(
            granularity, f"{y:04d}-{m:02d}-{d:02d}"
        )
        out.append((label, table.slice(a, b - a)))
    return out


# ---------------------------------------------------------------------------------------------
# Time bounds


@dataclass(frozen=True)
class Bounds:
    """A time range in the column's own terms: ``lo <= t`` and ``t <= hi`` (or ``t < hi``)."""

    lo: date | datetime | None
    hi: date | datetime | None
    hi_inclusive: bool
    text: str

    def overlaps(self, smin: date | datetime | None, smax: date | datetime | None) -> bool:
        """Whether a shard with these min/max can hold rows in range."""
        if smin is None or smax is None:
            return True
        if self.lo is not None and smax < self.lo:
            return False
        if self.hi is not None:
            return smin <= self.hi if self.hi_inclusive else smin < self.hi
        return True

    def contains(self, smin: date | datetime | None, smax: date | datetime | None) -> bool:
        """Whether every row of a shard with these min/max is in range (no row filter needed)."""
        if smin is None or smax is None:
            return self.lo is None and self.hi is None
        if self.lo is not None and smin < self.lo:
            return False
        if self.hi is not None:
            return smax <= self.hi if self.hi_inclusive else smax < self.hi
        return True

    def expression(self, column: str, dtype: pa.DataType) -> pc.Expression | None:
        """A pyarrow filter expression for rows in range."""
        expr: pc.Expression | None = None
        field = pc.field(column)
        if self.lo is not None:
            expr = field >= pa.scalar(self.lo, type=dtype)
        if self.hi is not None:
            hi = pa.scalar(self.hi, type=dtype)
            cond = field <= hi if self.hi_inclusive else field < hi
            expr = cond if expr is None else expr & cond
        return expr


def _parse_one(value: object, name: str) -> date | datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        raise ValueError(
            f"{name}={value!r} is not a date or time; use ISO 8601, e.g. '2024-01-31' or "
            "'2024-01-31T12:00:00+00:00'"
        )
    # numpy.datetime64 and other date-likes
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()  # type: ignore[no-any-return]
    raise TypeError(f"{name} must be a date, datetime or ISO string, not {type(value).__name__}")


def _for_column(
    value: date | datetime, dtype: pa.DataType, *, is_end: bool
) -> tuple[date | datetime, bool]:
    """Express a bound in the column's type; returns (value, inclusive) for the end bound."""
    if pa.types.is_date(dtype):
        if isinstance(value, datetime):
            d = value.date()
            if not is_end and value.time() != time(0):
                d += timedelta(days=1)  # the day started before the bound: not in range
            return d, True
        return value, True
    tz = dtype.tz  # timestamp column
    if isinstance(value, datetime):
        v = value
        inclusive = True
    else:  # a date: the whole day, so the end is the next midnight, exclusive
        v = datetime.combine(value + timedelta(days=1) if is_end else value, time(0))
        inclusive = not is_end
    if tz is not None:
        v = v.replace(tzinfo=UTC) if v.tzinfo is None else v
    elif v.tzinfo is not None:
        v = v.astimezone(UTC).replace(tzinfo=None)
    return v, inclusive


def parse_bounds(start: object, end: object, dtype: pa.DataType | None) -> Bounds:
    """Turn user ``start``/``end`` into :class:`Bounds` for a column of type ``dtype``.

    Dates are whole days, so both ends are inclusive: ``start="2024-01-01", end="2024-12-31"`` is
    all of 2024. Datetimes are exact instants, both inclusive. A naive datetime compared with a
    time-zone-aware column is taken as UTC; an aware one compared with a naive column is converted
    to UTC (naive columns are assumed to hold UTC).
    """
    lo = _parse_one(start, "start") if start is not None else None
    hi = _parse_one(end, "end") if end is not None else None
    text = f"{lo.isoformat() if lo else '…'} .. {hi.isoformat() if hi else '…'}"
    if lo is not None and hi is not None:
        a = lo if isinstance(lo, datetime) else datetime.combine(lo, time(0))
        b = hi if isinstance(hi, datetime) else datetime.combine(hi, time.max)
        if (a.tzinfo is None) != (b.tzinfo is None):
            a, b = a.replace(tzinfo=a.tzinfo or UTC), b.replace(tzinfo=b.tzinfo or UTC)
        if a > b:
            raise ValueError(f"start {lo.isoformat()} is after end {hi.isoformat()}")
    if dtype is None:
        return Bounds(None, None, True, text)
    lo_v = _for_column(lo, dtype, is_end=False)[0] if lo is not None else None
    hi_v, hi_inc = _for_column(hi, dtype, is_end=True) if hi is not None else (None, True)
    return Bounds(lo_v, hi_v, hi_inc, text)


def shard_time(text: str | None, dtype: pa.DataType) -> date | datetime | None:
    """A manifest min/max in the same terms as :func:`parse_bounds` produces."""
    if text is None:
        return None
    value = from_iso(text)
    if pa.types.is_date(dtype):
        return value.date() if isinstance(value, datetime) else value
    if isinstance(value, datetime):
        if dtype.tz is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        if dtype.tz is None and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value
    return datetime.combine(value, time(0))


def min_max(col: pa.ChunkedArray | pa.Array) -> tuple[str | None, str | None]:
    """ISO min and max of a time column."""
    if len(col) == 0 or col.null_count == len(col):
        return None, None
    mm = pc.min_max(col)
    return iso(mm["min"].as_py()), iso(mm["max"].as_py())


def parse_type(text: str) -> pa.DataType:
    """Rebuild the few time types a manifest's time column can have from their text."""
    if text.startswith("date32"):
        return pa.date32()
    if text.startswith("date64"):
        return pa.date64()
    if text.startswith("timestamp["):
        inner = text[len("timestamp[") : -1]
        unit, _, rest = inner.partition(",")
        tz = rest.strip().removeprefix("tz=") or None
        return pa.timestamp(unit.strip(), tz=tz)
    raise ValueError(f"{text!r} is not a time type")
