"""Column statistics of one publish (spec §5.7): the ``profile`` of ``metadata.json``.

The publishing client computes them from the data it holds in Arrow and stores them next to the
preview; ``publish_id`` ties them to the version they describe. Per column: its kind, nulls,
distinct values (exact up to :data:`DISTINCT_EXACT_ROWS` rows, else estimated from a sample and
marked ``distinct_exact: false``), min and max, mean and standard deviation for numbers, a
histogram (numbers, dates, times) or the most frequent values (text, booleans), and for the time
column the rows per period. Everything is bounded, so the document stays small whatever the data:
at most :data:`HISTOGRAM_BINS` bins, :data:`TOP_VALUES` values of at most
:data:`VALUE_CHARS` characters, and :data:`MAX_PERIODS` periods. Decoding enforces those bounds,
so a profile a producer sends through a registry cannot be larger.

Example:
    >>> p = Profile(publish_id="x", row_count=3, columns=[
    ...     ColumnProfile(name="n", type="int64", kind="integer", nulls=1, distinct=2)])
    >>> p.column("n").null_share(p.row_count)
    0.3333333333333333
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeAlias

import msgspec

from opendata_core._types import Count

__all__ = [
    "DISTINCT_EXACT_ROWS",
    "HISTOGRAM_BINS",
    "MAX_COLUMNS",
    "MAX_PERIODS",
    "TOP_VALUES",
    "VALUE_CHARS",
    "ColumnKind",
    "ColumnProfile",
    "Histogram",
    "Periods",
    "Profile",
    "ValueCount",
    "column_kind",
]

HISTOGRAM_BINS: Final = 20
TOP_VALUES: Final = 10
VALUE_CHARS: Final = 80
"""Top values are cut to this many characters (the count still covers the whole value)."""
MAX_PERIODS: Final = 120
"""The time column's rows per period: years, months or days, the finest that fits this many."""
DISTINCT_EXACT_ROWS: Final = 2_000_000
"""Up to this many rows distinct values are counted exactly; past it, estimated from a sample."""

MAX_COLUMNS: Final = 10_000
"""A profile longer than this is refused when decoded (a producer's document is bounded)."""

ColumnKind: TypeAlias = Literal[
    "integer", "float", "boolean", "date", "timestamp", "text", "binary", "other"
]
_Text: TypeAlias = Annotated[str, msgspec.Meta(max_length=VALUE_CHARS)]
Scalar: TypeAlias = int | float | _Text | bool | None


def column_kind(arrow_type: str) -> ColumnKind:
    """The kind of an Arrow type string (``str(pyarrow.DataType)``).

    Example:
        >>> [column_kind(t) for t in ["int64", "double", "date32[day]", "large_string", "list<x>"]]
        ['integer', 'float', 'date', 'text', 'other']
    """
    t = arrow_type.lower()
    if t.startswith(("int", "uint")):
        return "integer"
    if t.startswith(("float", "double", "halffloat", "decimal")):
        return "float"
    if t == "bool":
        return "boolean"
    if t.startswith("date"):
        return "date"
    if t.startswith("timestamp"):
        return "timestamp"
    if t in ("string", "large_string", "string_view") or t.startswith("dictionary<values=string"):
        return "text"
    if t in ("binary", "large_binary", "binary_view") or t.startswith("fixed_size_binary"):
        return "binary"
    return "other"


class Histogram(msgspec.Struct, kw_only=True, frozen=True):
    """``counts[i]`` values fall in ``[edges[i], edges[i+1])`` (the last bin includes its end).

    Edges are numbers, or ISO 8601 strings for dates and times.
    """

    edges: Annotated[list[float | _Text], msgspec.Meta(max_length=HISTOGRAM_BINS + 1)]
    counts: Annotated[list[Count], msgspec.Meta(max_length=HISTOGRAM_BINS)]


class ValueCount(msgspec.Struct, array_like=True, frozen=True):
    """One frequent value and how many rows hold it, written ``[value, count]``."""

    value: _Text
    count: Count


class Periods(msgspec.Struct, kw_only=True, frozen=True):
    """Rows per period of the time column (periods without rows are left out)."""

    unit: Literal["year", "month", "day"]
    counts: Annotated[list[ValueCount], msgspec.Meta(max_length=MAX_PERIODS)]
    """``[["2024", 366], ...]`` in time order; the labels are ISO 8601 prefixes."""


class ColumnProfile(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Statistics of one column."""

    name: str
    type: str
    """The Arrow type, as in the schema."""
    kind: ColumnKind
    nulls: Count = 0
    distinct: Count | None = None
    distinct_exact: bool = True
    min: Scalar = None
    max: Scalar = None
    """Numbers as numbers; dates and times as ISO 8601; text by code point order."""
    mean: float | None = None
    std: float | None = None
    """Population standard deviation (numbers only)."""
    histogram: Histogram | None = None
    top: Annotated[list[ValueCount], msgspec.Meta(max_length=TOP_VALUES)] = []
    """The most frequent values, most frequent first (text and booleans)."""

    def null_share(self, rows: int) -> float:
        """The share of null values (0 for an empty table)."""
        return self.nulls / rows if rows else 0.0


class Profile(msgspec.Struct, kw_only=True, frozen=True):
    """Column statistics of one publish (inside ``metadata.json``, whose format it follows)."""

    publish_id: str
    """The publish these statistics describe (the manifest's ``publish_id``)."""
    row_count: Count
    columns: Annotated[list[ColumnProfile], msgspec.Meta(max_length=MAX_COLUMNS)] = []
    time: Periods | None = None

    def column(self, name: str) -> ColumnProfile | None:
        """The statistics of one column, if profiled."""
        return next((c for c in self.columns if c.name == name), None)
