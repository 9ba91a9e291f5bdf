"""Time ranges and shard selection: the one rule the client and the registry share."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from opendata_core import (
    Field,
    Manifest,
    OpenDataError,
    RangeOutsideCoverage,
    Shard,
    parse_range,
    select_range,
    select_shards,
)
from opendata_core.errors import FormatError
from opendata_core.timerange import parse_time, time_kind


def _manifest(time_type: str | None = "date32[day]", years: range = range(2020, 2025)) -> Manifest:
    shards = [
        Shard(
            path=f"parts/{y:064d}.parquet",
            sha256=f"{y:064d}",
            rows=1,
            bytes=1,
            partition=str(y),
            min=f"{y}-01-01" if time_type else None,
            max=f"{y}-12-31" if time_type else None,
        )
        for y in years
    ]
    schema = [Field(name="x", type="double")]
    if time_type:
        schema.insert(0, Field(name="date", type=time_type))
    return Manifest(
        dataset_id="me/series",
        publish_id="p1",
        published_at=datetime(2025, 1, 1, tzinfo=UTC),
        time_column="date" if time_type else None,
        partition="year" if time_type else "none",
        schema=schema,
        schema_hash="h",
        row_count=len(shards),
        bytes=len(shards),
        min_time=shards[0].min,
        max_time=shards[-1].max,
        shards=shards,
    )


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("2024-12", date(2024, 12, 1), date(2024, 12, 31)),
        ("2024-03-05", date(2024, 3, 5), date(2024, 3, 5)),
        (" 2024-03-05 ", date(2024, 3, 5), date(2024, 3, 5)),
    ],
)
def test_years_and_months_are_whole_periods(text: str, start: date, end: date) -> None:
    assert parse_time(text, "start") == start
    assert parse_time(text, "end", is_end=True) == end
    r = parse_range(text, text, "date32[day]")
    assert (r.lo, r.hi, r.hi_inclusive) == (start, end, True)


def test_a_year_on_a_timestamp_column_ends_at_the_next_midnight() -> None:
    r = parse_range("2024", "2024", "timestamp[us]")
    assert (r.lo, r.hi, r.hi_inclusive) == (datetime(2024, 1, 1), datetime(2025, 1, 1), False)
    aware = parse_range("2024-12", "2024-12", "timestamp[ns, tz=Europe/Paris]")
    assert aware.lo == datetime(2024, 12, 1, tzinfo=UTC)
    assert (aware.hi, aware.hi_inclusive) == (datetime(2025, 1, 1, tzinfo=UTC), False)
    assert aware.overlaps("2024-12-31T23:59:59+00:00", "2025-01-02T00:00:00+00:00")
    assert not aware.overlaps("2025-01-01T00:00:00+00:00", "2025-01-02T00:00:00+00:00")


def test_exact_instants_are_inclusive_and_converted_to_utc() -> None:
    plus_one = timezone(timedelta(hours=1))
    r = parse_range("2024-01-01T01:00:00+01:00", "2024-01-01T12:00:00Z", "timestamp[us]")
    assert (r.lo, r.hi, r.hi_inclusive) == (datetime(2024, 1, 1), datetime(2024, 1, 1, 12), True)
    aware = parse_range(datetime(2024, 1, 1, 1, tzinfo=plus_one), None, "timestamp[us, tz=UTC]")
    assert aware.lo == datetime(2024, 1, 1, tzinfo=UTC)
    # a datetime bound on a date column: a day that started before ``start`` is not in range
    assert parse_range("2024-01-01T12:00", None, "date32[day]").lo == date(2024, 1, 2)


class datetime64:  # noqa: N801 - stands in for numpy.datetime64 (core's tests have no numpy)
    __module__ = "numpy"

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class Timestamp(datetime):
    """Stands in for pandas.Timestamp: a datetime subclass with ``to_pydatetime``."""

    def to_pydatetime(self) -> datetime:
        return datetime(*self.timetuple()[:6], self.microsecond, tzinfo=self.tzinfo)


def test_numpy_and_pandas_values_are_recognised_without_importing_them() -> None:
    assert parse_time(datetime64("2024"), "end", is_end=True) == date(2024, 12, 31)
    assert parse_time(datetime64("2024-03-01"), "start") == date(2024, 3, 1)
    ns = parse_time(datetime64("2024-03-01T12:30:00.123456789"), "start")
    assert ns == datetime(2024, 3, 1, 12, 30, 0, 123456)
    ts = parse_time(Timestamp(2024, 3, 1, 12, tzinfo=UTC), "start")
    assert type(ts) is datetime and ts == datetime(2024, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"start='NaT' is not a date or time"):
        parse_time(datetime64("NaT"), "start")


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (
            "last week",
            ValueError,
            "start='last week' is not a date or time; use ISO 8601, e.g. '2024', '2024-01'",
        ),
        ("2024-13", ValueError, "start='2024-13' is not a date or time"),
        (
            20240101,
            TypeError,
            "start=20240101 is a int: pass a date, datetime, pandas.Timestamp, numpy.datetime64",
        ),
        ("x" * 500, ValueError, "start='" + "x" * 56 + "... is not a date or time"),
    ],
)
def test_bad_bounds_say_what_is_accepted(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as err:
        parse_range(value, None, "date32[day]")
    assert message in str(err.value)
    assert len(str(err.value)) < 200


def test_start_after_end_is_refused() -> None:
    with pytest.raises(ValueError, match="start 2024-02-01 is after end 2024-01-31"):
        parse_range("2024-02", "2024-01", "date32[day]")
    parse_range("2024-01", "2024-01", "date32[day]")  # one whole month is fine


def test_time_kind_from_the_manifests_type_text() -> None:
    assert time_kind("date64[ms]") == "date"
    assert time_kind("timestamp[s]") == "naive"
    assert time_kind("timestamp[us, tz=+01:00]") == "aware"
    with pytest.raises(ValueError, match="'double' is not a time type"):
        time_kind("double")


def test_shards_are_selected_by_overlap() -> None:
    m = _manifest()
    assert [s.partition for s in select_shards(m, "2022", "2023-01")] == ["2022", "2023"]
    assert [s.partition for s in select_shards(m, "2024-12-31")] == ["2024"]
    assert [s.partition for s in select_shards(m, end="2020")] == ["2020"]
    assert len(select_shards(m)) == 5
    tr, shards = select_range(m, "2021-06", None)
    assert tr.contains(shards[1].min, shards[1].max) and not tr.contains(
        shards[0].min, shards[0].max
    )


def test_a_range_outside_the_coverage_names_the_coverage() -> None:
    with pytest.raises(RangeOutsideCoverage) as err:
        select_shards(_manifest(), "2030")
    assert str(err.value) == (
        "me/series: requested range 2030-01-01 .. … is outside the data's coverage "
        "(2020-01-01 .. 2024-12-31)"
    )
    with pytest.raises(RangeOutsideCoverage, match="requested range … .. 2019-12-31"):
        select_shards(_manifest(), end="2019")


def test_a_gap_inside_the_coverage_is_an_empty_selection_of_the_right_shape() -> None:
    m = _manifest(years=range(2020, 2025, 2))  # 2020, 2022, 2024
    assert [s.partition for s in select_shards(m, "2021", "2021")] == ["2020"]


def test_no_time_column_and_a_missing_one() -> None:
    m = _manifest(None)
    assert len(select_shards(m)) == 5
    with pytest.raises(OpenDataError, match="me/series has no time column, so start/end cannot"):
        select_shards(m, "2024")
    broken = _manifest()
    broken.schema.pop(0)
    with pytest.raises(FormatError, match="time column 'date' is not in the schema"):
        select_shards(broken)
