"""Time ranges: what ``start``/``end`` mean and which shards of a manifest they select.

One home for the rule, shared by the client (which reads the selected shards) and the registry
(which signs URLs for them), so both always pick the same shards. Pure: the column's kind comes
from the manifest's Arrow type *text* (``"date32[day]"``, ``"timestamp[us]"``,
``"timestamp[us, tz=UTC]"``), and numpy/pandas values are recognised without importing either.

Dates are whole days and both ends are inclusive; ``"2024"`` and ``"2024-03"`` are whole years
and months (``start`` is the period's first instant, ``end`` its last). Datetimes are exact
instants, both inclusive.

Example:
    >>> from opendata_core.timerange import parse_range
    >>> r = parse_range("2024", "2024-03", "timestamp[us]")
    >>> r.lo, r.hi, r.hi_inclusive
    (datetime.datetime(2024, 1, 1, 0, 0), datetime.datetime(2024, 4, 1, 0, 0), False)
    >>> r.overlaps("2024-03-31T23:59:59", "2024-05-01T00:00:00")
    True
    >>> r.overlaps("2024-04-01T00:00:00", "2024-05-01T00:00:00")
    False
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from opendata_core.errors import FormatError, OpenDataError, RangeOutsideCoverage

if TYPE_CHECKING:
    from opendata_core.documents import Manifest, Shard

__all__ = [
    "TimeRange",
    "coverage_text",
    "from_iso",
    "iso",
    "parse_range",
    "parse_time",
    "select_range",
    "select_shards",
    "time_kind",
    "to_column",
]

TimeValue = date | datetime


def coverage_text(min_time: str | None, max_time: str | None) -> str | None:
    """How OpenData shows a time coverage everywhere: ``min .. max`` (``None`` without one).

    Example:
        >>> coverage_text("2024-01-01", "2024-12-31")
        '2024-01-01 .. 2024-12-31'
        >>> coverage_text(None, None) is None
        True
    """
    if min_time is None or max_time is None:
        return None
    return f"{min_time} .. {max_time}"


Kind = Literal["date", "naive", "aware"]
"""A time column's kind: dates, naive timestamps (taken as UTC) or time-zone-aware timestamps."""

_YEAR = re.compile(r"\d{4}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_FORMS = "'2024', '2024-01', '2024-01-31' or '2024-01-31T12:00:00+00:00'"


def iso(value: TimeValue | None) -> str | None:
    """ISO 8601 text of a time value; aware datetimes are given in UTC.

    >>> iso(datetime(2024, 1, 1, 12, tzinfo=UTC)), iso(date(2024, 1, 1))
    ('2024-01-01T12:00:00+00:00', '2024-01-01')
    """
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def from_iso(text: str) -> TimeValue:
    """Parse what :func:`iso` wrote: a date, or a datetime when the text has a time part."""
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def time_kind(arrow_type: str) -> Kind:
    """The kind of a time column from its Arrow type text, as the manifest's schema records it.

    >>> time_kind("date32[day]"), time_kind("timestamp[ns]"), time_kind("timestamp[us, tz=UTC]")
    ('date', 'naive', 'aware')
    """
    if arrow_type.startswith("date"):
        return "date"
    if arrow_type.startswith("timestamp["):
        return "aware" if "tz=" in arrow_type else "naive"
    raise ValueError(f"{arrow_type!r} is not a time type (expected a date or timestamp type)")


def parse_time(value: object, name: str, *, is_end: bool = False) -> TimeValue:
    """One user bound as a date or datetime.

    Accepts ``date``/``datetime`` (so ``pandas.Timestamp``), ``numpy.datetime64``, and ISO 8601
    text. A year (``"2024"``) or month (``"2024-03"``) is its first day, or its last day when
    ``is_end``; a date is a whole day either way.

    >>> parse_time("2024-02", "end", is_end=True)
    datetime.date(2024, 2, 29)
    """
    if hasattr(value, "to_pydatetime") and not _is_nat(value):
        value = value.to_pydatetime()  # pandas.Timestamp: drop the pandas type (and nanoseconds)
    elif type(value).__name__ == "datetime64" and type(value).__module__ == "numpy":
        value = str(value)  # numpy keeps its unit in the text: '2024', '2024-03-01T12:00', ...
    if isinstance(value, date) and not _is_nat(value):
        return value  # a datetime is a date too
    if isinstance(value, str):
        text = value.strip()
        if _YEAR.fullmatch(text):
            y = int(text)
            return date(y, 12, 31) if is_end else date(y, 1, 1)
        if m := _MONTH.fullmatch(text):
            y, mo = int(m[1]), int(m[2])
            if 1 <= mo <= 12:
                return date(y, mo, calendar.monthrange(y, mo)[1] if is_end else 1)
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        raise ValueError(
            f"{name}={_short(value)} is not a date or time; use ISO 8601, e.g. {_FORMS}"
        )
    raise TypeError(
        f"{name}={_short(value)} is a {type(value).__name__}: pass a date, datetime, "
        f"pandas.Timestamp, numpy.datetime64 or ISO 8601 text, e.g. {_FORMS}"
    )


def _is_nat(value: object) -> bool:
    # pandas.NaT is an instance of datetime; numpy's NaT prints as 'NaT' and is caught as text.
    return type(value).__name__ == "NaTType"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_column(value: TimeValue, kind: Kind, *, is_end: bool) -> tuple[TimeValue, bool]:
    """Express a bound in a column's kind; returns ``(value, inclusive)``.

    A date against a timestamp column is a whole day, so as an end it becomes the next midnight,
    exclusive; a datetime against a date column starts from the first whole day at or after it.
    """
    if kind == "date":
        if isinstance(value, datetime):
            d = value.date()
            if not is_end and value.time() != time(0):
                d += timedelta(days=1)  # the day started before the bound: not in range
            return d, True
        return value, True
    if isinstance(value, datetime):
        v, inclusive = value, True
    else:  # a date: the whole day, so the end is the next midnight, exclusive
        v = datetime.combine(value + timedelta(days=1) if is_end else value, time(0))
        inclusive = not is_end
    if kind == "aware":
        v = v.replace(tzinfo=UTC) if v.tzinfo is None else v
    elif v.tzinfo is not None:
        v = v.astimezone(UTC).replace(tzinfo=None)
    return v, inclusive


@functools.lru_cache(maxsize=65_536)
def shard_time(text: str | None, kind: Kind) -> TimeValue | None:
    """A manifest min/max (ISO text) in the same terms as the range's bounds.

    Cached: a registry selects the shards of the same manifests on every download, and the
    texts and the dates they parse to are immutable.
    """
    if text is None:
        return None
    value = from_iso(text)
    if kind == "date":
        return value.date() if isinstance(value, datetime) else value
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if kind == "aware" and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if kind == "naive" and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class TimeRange:
    """A range in a time column's own terms: ``lo <= t`` and ``t <= hi`` (or ``t < hi``).

    ``lo``/``hi`` are dates for a date column and datetimes (aware for an aware column, naive
    UTC otherwise) for a timestamp column; ``None`` is unbounded. ``text`` is the range as the
    user gave it, for messages.
    """

    lo: TimeValue | None
    hi: TimeValue | None
    hi_inclusive: bool
    text: str
    kind: Kind | None = None

    def _shard(self, smin: str | None, smax: str | None) -> tuple[TimeValue | None, ...]:
        if self.kind is None:
            return None, None
        return shard_time(smin, self.kind), shard_time(smax, self.kind)

    def overlaps(self, smin: str | None, smax: str | None) -> bool:
        """Whether a shard with these ISO min/max can hold rows in range."""
        lo, hi = self._shard(smin, smax)
        if lo is None or hi is None:
            return True
        if self.lo is not None and hi < self.lo:
            return False
        if self.hi is not None:
            return lo <= self.hi if self.hi_inclusive else lo < self.hi
        return True

    def contains(self, smin: str | None, smax: str | None) -> bool:
        """Whether every row of a shard with these ISO min/max is in range (no filter needed)."""
        lo, hi = self._shard(smin, smax)
        if lo is None or hi is None:
            return self.lo is None and self.hi is None
        if self.lo is not None and lo < self.lo:
            return False
        if self.hi is not None:
            return hi <= self.hi if self.hi_inclusive else hi < self.hi
        return True

    def after(self, smax: str | None) -> bool:
        """Whether the whole range lies after ``smax`` (an ISO max)."""
        hi = self._shard(None, smax)[1]
        return self.lo is not None and hi is not None and self.lo > hi

    def before(self, smin: str | None) -> bool:
        """Whether the whole range lies before ``smin`` (an ISO min)."""
        lo = self._shard(smin, None)[0]
        if self.hi is None or lo is None:
            return False
        return self.hi < lo if self.hi_inclusive else self.hi <= lo


def parse_range(start: object, end: object, time_type: str | None) -> TimeRange:
    """Turn user ``start``/``end`` into a :class:`TimeRange` for a column of this Arrow type.

    ``time_type`` is the manifest's type text; ``None`` (no time column) bounds nothing.

    A naive datetime compared with a time-zone-aware column is taken as UTC; an aware one
    compared with a naive column is converted to UTC (naive columns are assumed to hold UTC).

    Raises:
        ValueError: unparseable text, or ``start`` after ``end``.
        TypeError: a value that is not a date, time or text.
    """
    lo = parse_time(start, "start") if start is not None else None
    hi = parse_time(end, "end", is_end=True) if end is not None else None
    text = f"{lo.isoformat() if lo else '…'} .. {hi.isoformat() if hi else '…'}"
    if lo is not None and hi is not None:
        a = lo if isinstance(lo, datetime) else datetime.combine(lo, time(0))
        b = hi if isinstance(hi, datetime) else datetime.combine(hi, time.max)
        if (a.tzinfo is None) != (b.tzinfo is None):
            a, b = a.replace(tzinfo=a.tzinfo or UTC), b.replace(tzinfo=b.tzinfo or UTC)
        if a > b:
            raise ValueError(
                f"start {lo.isoformat()} is after end {hi.isoformat()}: start is the first "
                "date to load and end the last (both included); swap them"
            )
    if time_type is None:
        return TimeRange(None, None, True, text)
    kind = time_kind(time_type)
    lo_v = to_column(lo, kind, is_end=False)[0] if lo is not None else None
    hi_v, hi_inc = to_column(hi, kind, is_end=True) if hi is not None else (None, True)
    return TimeRange(lo_v, hi_v, hi_inc, text, kind)


@functools.lru_cache(maxsize=1024)
def _parse_text_range(start: str | None, end: str | None, time_type: str | None) -> TimeRange:
    return parse_range(start, end, time_type)


def _parse_range_cached(start: object, end: object, time_type: str | None) -> TimeRange:
    """:func:`parse_range`, remembered for text bounds (the same few ranges come again)."""
    if isinstance(start, str | None) and isinstance(end, str | None):
        return _parse_text_range(start, end, time_type)
    return parse_range(start, end, time_type)


def _time_type(manifest: Manifest) -> str | None:
    tc = manifest.time_column
    if tc is None:
        return None
    for f in manifest.schema:
        if f.name == tc:
            return f.type
    raise FormatError(
        f"{manifest.dataset_id}/manifest.json: time column {tc!r} is not in the schema",
        document="manifest.json",
        field="time_column",
    )


def select_range(manifest: Manifest, start: object, end: object) -> tuple[TimeRange, list[Shard]]:
    """The range ``[start, end]`` in the manifest's time column and the shards it overlaps.

    A range inside the coverage that falls in a gap selects the first shard (an empty result
    with the right columns).

    Raises:
        RangeOutsideCoverage: the range lies wholly before or after the data (with the coverage).
        OpenDataError: ``start``/``end`` given for a dataset without a time column.
    """
    time_type = _time_type(manifest)
    ds = manifest.dataset_id
    if time_type is None and (start is not None or end is not None):
        raise OpenDataError(
            f"{ds} has no time column, so start/end cannot select rows",
            hint="load without start/end, or use filters=[('column', '>=', value)]",
        )
    tr = _parse_range_cached(start, end, time_type)
    if time_type is None:
        return tr, list(manifest.shards)
    selected = [s for s in manifest.shards if tr.overlaps(s.min, s.max)]
    if not selected and manifest.shards:
        if tr.after(manifest.max_time) or tr.before(manifest.min_time):
            cov = (
                (manifest.min_time, manifest.max_time)
                if manifest.min_time and manifest.max_time
                else None
            )
            raise RangeOutsideCoverage(ds, tr.text, cov)
        selected = [manifest.shards[0]]
    return tr, selected


def select_shards(manifest: Manifest, start: object = None, end: object = None) -> list[Shard]:
    """The shards of ``manifest`` that overlap ``[start, end]`` (see :func:`select_range`)."""
    return select_range(manifest, start, end)[1]
