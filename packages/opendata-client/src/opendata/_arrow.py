"""Arrow helpers: user data to tables, range and filter expressions, partitions, Parquet bytes.

Imported only by functions that need pyarrow, so ``import opendata`` stays light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opendata_core.documents import Field
from opendata_core.timerange import TimeRange, iso

__all__ = [
    "range_expression",
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
# Time bounds (the rule lives in opendata_core.timerange; this is its pyarrow side)


def range_expression(tr: TimeRange, column: str, dtype: pa.DataType) -> pc.Expression | None:
    """A pyarrow filter expression for the rows of ``column`` inside ``tr``."""
    expr: pc.Expression | None = None
    field = pc.field(column)
    if tr.lo is not None:
        expr = field >= pa.scalar(tr.lo, type=dtype)
    if tr.hi is not None:
        hi = pa.scalar(tr.hi, type=dtype)
        cond = field <= hi if tr.hi_inclusive else field < hi
        expr = cond if expr is None else expr & cond
    return expr


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
