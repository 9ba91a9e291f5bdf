"""pyarrow helpers shared by the client, the CLI and the registry: time filters and safe CSV.

- :func:`range_expression`: the rows of a time column inside a :class:`~.timerange.TimeRange`
  (the rule lives in :mod:`opendata_core.timerange`; this is its pyarrow side).
- :func:`escape_formulas` and :func:`csv_chunks`: CSV that a spreadsheet opens without running
  a formula (``od get -o x.csv`` and the registry's CSV export write the same bytes).

This module imports pyarrow, which core otherwise never does: install ``opendata-core[parquet]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from opendata_core.timerange import TimeRange

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

__all__ = ["BATCH_ROWS", "FORMULA_PATTERN", "csv_chunks", "escape_formulas", "range_expression"]

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
BATCH_ROWS: Final = 65_536
"""Rows per CSV chunk (and per JSON chunk of ``od get``)."""


def range_expression(tr: TimeRange, column: str, dtype: pa.DataType) -> pc.Expression | None:
    """A pyarrow filter expression for the rows of ``column`` inside ``tr``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    expr: pc.Expression | None = None
    field = pc.field(column)
    if tr.lo is not None:
        expr = field >= pa.scalar(tr.lo, type=dtype)
    if tr.hi is not None:
        hi = pa.scalar(tr.hi, type=dtype)
        cond = field <= hi if tr.hi_inclusive else field < hi
        expr = cond if expr is None else expr & cond
    return expr


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


def csv_chunks(
    tables: Iterable[pa.Table], schema: pa.Schema, *, header: bool = True
) -> Iterator[bytes]:
    r"""Formula-escaped CSV of ``tables`` (one header line, then their rows), chunk by chunk.

    ``schema`` names the columns when no table has a row (the header is written alone);
    ``header=False`` continues a CSV whose header was written already.

    Example:
        >>> import pyarrow as pa
        >>> t = pa.table({"x": ["=1", "a"]})
        >>> b"".join(csv_chunks([t], t.schema)).decode()
        '"x"\n"\'=1"\n"a"\n'
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    for table in tables:
        for batch in escape_formulas(table).to_batches(max_chunksize=BATCH_ROWS):
            buf = pa.BufferOutputStream()
            options = pacsv.WriteOptions(include_header=header)
            pacsv.write_csv(batch, buf, write_options=options)
            header = False
            yield buf.getvalue().to_pybytes()
    if header:
        buf = pa.BufferOutputStream()
        empty = escape_formulas(schema.empty_table())
        pacsv.write_csv(empty, buf, write_options=pacsv.WriteOptions(include_header=True))
        yield buf.getvalue().to_pybytes()
