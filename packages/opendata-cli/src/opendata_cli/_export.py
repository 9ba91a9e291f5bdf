"""Write a downloaded table as CSV, Parquet or JSON (``od get``), to a file or to stdout.

CSV is what people open in spreadsheets, so every text cell *and* every column name is escaped
against formula injection by core's :func:`~opendata_core.tables.escape_formulas`, whatever its
Arrow type (the registry's CSV export writes the same bytes).
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FORMATS", "Format", "write_table"]

Format = Literal["csv", "parquet", "json"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "parquet", "json")


def write_table(table: pa.Table, sink: IO[bytes], fmt: Format) -> None:
    """Write ``table`` to the binary stream ``sink`` in batches (a closed pipe stops it early)."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Into memory first: Parquet's writer may ask a pipe for its position.
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf, compression="zstd")
        sink.write(buf.getvalue().to_pybytes())
    elif fmt == "csv":
        _write_csv(table, sink)
    else:
        _write_json(table, sink)


def _write_csv(table: pa.Table, sink: IO[bytes]) -> None:
    from opendata_core.tables import csv_chunks

    for chunk in csv_chunks([table], table.schema):
        sink.write(chunk)


def _write_json(table: pa.Table, sink: IO[bytes]) -> None:
    """A JSON array of row objects (dates and times as ISO 8601, NaN as null)."""
    import msgspec

    from opendata_core.tables import BATCH_ROWS

    sink.write(b"[")
    first = True
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        rows = msgspec.json.encode(batch.to_pylist())[1:-1]
        if rows:
            sink.write((b"\n" if first else b",\n") + rows)
            first = False
    sink.write(b"\n]\n" if not first else b"]\n")
