"""Write a downloaded table as CSV, Parquet or JSON (``od get``), to a file or to stdout.

CSV is what people open in spreadsheets, so every text cell *and* every column name is escaped
against formula injection by :func:`escape_formulas`, whatever its Arrow type.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FORMATS", "FORMULA_PATTERN", "Format", "escape_formulas", "write_table"]

Format = Literal["csv", "parquet", "json"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "parquet", "json")

# OWASP "CSV Injection": a cell must not begin with = + - @, TAB (0x09) or CR (0x0D). We add LF
# (0x0A) and NUL, which spreadsheets also skip; the full-width equals, plus, minus and at signs
# (U+FF1D, U+FF0B, U+FF0D, U+FF20), which Excel and LibreOffice read as their ASCII twins; and
# any leading whitespace (spaces, no-break and ideographic spaces, line breaks) before one of
# those signs. Invisible characters count as leading too (OWASP: what decides is the first
# character a spreadsheet *sees*): a byte-order mark or zero-width space before ``=`` still starts
# a formula, so format characters (U+FEFF, U+200B-U+200F, U+2028/U+2029, bidi controls, word
# joiners, soft hyphen, ...) are skipped before a TAB/CR/LF/NUL or a sign. The pattern is RE2
# (pyarrow) syntax with literal characters only, so it means the same to Python's ``re``.
_INVISIBLE: Final = (
    "\u00ad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
)
"""Zero-width and format characters that a spreadsheet does not show before a cell's text."""
_SPACES: Final = " \t\r\n\f\v\u0085\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
FORMULA_PATTERN: Final = (
    f"^[{_INVISIBLE}]*(?:[\t\r\n\x00]|[{_SPACES}{_INVISIBLE}]*[=+@\\-\uff1d\uff0b\uff0d\uff20])"
)
_BATCH_ROWS: Final = 65_536


def _is_text(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
    )


def _escape_column(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        # Categorical columns: the CSV writer prints the values, so escape the values.
        col = pc.cast(col, col.type.value_type)
    if not _is_text(col.type):
        return col
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        # string_view/binary: the kernels below want plain (large) strings; the CSV writer
        # prints a binary cell's bytes as they are, so treat them as text too.
        col = pc.cast(col, pa.large_string())
    risky = pc.fill_null(pc.match_substring_regex(col, FORMULA_PATTERN), False)
    quoted = pc.binary_join_element_wise(pa.scalar("'", col.type), col, pa.scalar("", col.type))
    return pc.if_else(risky, quoted, col)


def escape_formulas(table: pa.Table) -> pa.Table:
    """``table`` with every text cell and column name that a spreadsheet would run prefixed ``'``.

    Applies to string, large_string, string_view, binary and dictionary (categorical) columns;
    numbers, dates and times cannot start a formula and are left alone.

    Example:
        >>> import pyarrow as pa
        >>> escape_formulas(pa.table({"=x": [" =1", "ok"]})).to_pylist()
        [{"'=x": "' =1"}, {"'=x": 'ok'}]
    """
    import pyarrow as pa

    names = _escape_column(pa.array(table.column_names, pa.string())).to_pylist()
    return pa.table([_escape_column(c) for c in table.columns], names=names)


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
        _write_csv(escape_formulas(table), sink)
    else:
        _write_json(table, sink)


def _write_csv(table: pa.Table, sink: IO[bytes]) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    batches = table.to_batches(max_chunksize=_BATCH_ROWS) or [
        pa.RecordBatch.from_pylist([], schema=table.schema)
    ]
    for i, batch in enumerate(batches):
        buf = pa.BufferOutputStream()
        pacsv.write_csv(batch, buf, write_options=pacsv.WriteOptions(include_header=i == 0))
        sink.write(buf.getvalue().to_pybytes())


def _write_json(table: pa.Table, sink: IO[bytes]) -> None:
    """A JSON array of row objects (dates and times as ISO 8601, NaN as null)."""
    import msgspec

    sink.write(b"[")
    first = True
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        rows = msgspec.json.encode(batch.to_pylist())[1:-1]
        if rows:
            sink.write((b"\n" if first else b",\n") + rows)
            first = False
    sink.write(b"\n]\n" if not first else b"]\n")
