"""What a pandas user expects: datetime dates, periods and numpy/pandas bounds, filters that
explain themselves, and a "not found" that says where it looked (issue 7, items 9-12)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import opendata as od

from .conftest import record_gets

DAYS = pd.date_range("2024-01-01", "2025-03-31", freq="D")


@pytest.fixture
def fx(client: od.Client) -> od.Client:
    """A small rates table: a date time column, a tz-aware timestamp, a category, numbers."""
    n = len(DAYS)
    df = pd.DataFrame(
        {
            "date": DAYS.date,
            "at": DAYS.tz_localize("UTC") + pd.Timedelta(hours=12),
            "naive": DAYS + pd.Timedelta(hours=12),
            "currency": pd.Categorical(np.where(np.arange(n) % 2, "USD", "GBP")),
            "rate": np.arange(n, dtype="float64"),
            "n": np.arange(n, dtype="int64"),
        }
    )
    client.push(df, "me/fx", time_column="date", partition="year")
    return client


# -- item 9: dates come back as datetimes ---------------------------------------------------


def test_dates_load_as_datetime64(fx: od.Client) -> None:
    df = fx.load("me/fx")
    assert str(df["date"].dtype) == "datetime64[ms]"
    # Timestamps keep their unit (microseconds from pandas 3, nanoseconds from pandas 2).
    assert str(df["at"].dtype) == f"datetime64[{DAYS.unit}, UTC]"
    assert df["date"].dt.year.unique().tolist() == [2024, 2025]
    monthly = df.set_index("date").resample("MS")["n"].count()
    assert monthly.index[0] == pd.Timestamp("2024-01-01") and monthly.iloc[1] == 29
    assert fx.load("me/fx", format="polars").schema["date"] == pl.Date
    assert fx.load("me/fx", format="arrow").schema.field("date").type == pa.date32()


def test_nanosecond_timestamps_reach_the_preview(client: od.Client) -> None:
    """pyarrow hands nanosecond timestamps over as pandas.Timestamp; metadata.json still gets written."""
    at = pd.DatetimeIndex(["2024-01-01 12:00:00.000000001"]).as_unit("ns")
    table = pa.table(
        {"date": pa.array([dt.date(2024, 1, 1)]), "at": pa.array(at, pa.timestamp("ns"))}
    )
    client.push(table, "me/ns", time_column="date")
    assert client.info("me/ns").preview == [
        {"date": "2024-01-01", "at": "2024-01-01T12:00:00.000000001"}
    ]


def test_a_datetime_frame_round_trips_through_append(fx: od.Client) -> None:
    """A loaded frame (datetime64 dates) appended back still fits the published date32 column."""
    last = fx.load("me/fx", start="2025-03-31")
    nxt = last.assign(date=last["date"] + pd.Timedelta(days=1), n=last["n"] + 1)
    fx.push(nxt, "me/fx", mode="append")
    assert fx.manifest("me/fx").schema[0].type == "date32[day]"
    assert fx.load("me/fx", start="2025-04")["date"].tolist() == [pd.Timestamp("2025-04-01")]


# -- item 11: years, months, numpy and pandas bounds ----------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        ("2024", "2024", "2024-01-01", "2024-12-31"),
        ("2024-02", "2024-02", "2024-02-01", "2024-02-29"),
        ("2025-03", None, "2025-03-01", "2025-03-31"),
        (None, "2024-01", "2024-01-01", "2024-01-31"),
        (np.datetime64("2024-03-05"), np.datetime64("2024-03-06"), "2024-03-05", "2024-03-06"),
        (np.datetime64("2024"), np.datetime64("2024-02"), "2024-01-01", "2024-02-29"),
        (np.datetime64("2024-03-05T12:00"), None, "2024-03-06", "2025-03-31"),
        (pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-06"), "2024-03-05", "2024-03-06"),
        (pd.Timestamp("2024-03-05", tz="UTC"), None, "2024-03-05", "2025-03-31"),
        (dt.date(2024, 3, 5), "2024-03", "2024-03-05", "2024-03-31"),
    ],
)
def test_periods_numpy_and_pandas_bounds_on_a_date_column(
    fx: od.Client, start: object, end: object, first: str, last: str
) -> None:
    dates = fx.load("me/fx", start=start, end=end, columns=["date"])["date"]
    assert (dates.min(), dates.max()) == (pd.Timestamp(first), pd.Timestamp(last))
    assert len(dates) == (pd.Timestamp(last) - pd.Timestamp(first)).days + 1


@pytest.mark.parametrize("column", ["at", "naive"])
def test_periods_and_pandas_bounds_on_timestamp_columns(client: od.Client, column: str) -> None:
    df = pd.DataFrame({"at": DAYS.tz_localize("UTC") + pd.Timedelta(hours=12)})
    df["naive"] = df["at"].dt.tz_localize(None)
    client.push(df[[column]], "me/ts", time_column=column)
    year = client.load("me/ts", start="2024", end="2024")[column]
    assert len(year) == 366 and year.iloc[-1].day == 31
    feb = client.load("me/ts", start=np.datetime64("2024-02"), end="2024-02")[column]
    assert len(feb) == 29
    noon = pd.Timestamp("2024-03-05 12:00")
    for start in (noon, noon.tz_localize("UTC"), np.datetime64("2024-03-05T12:00:00")):
        assert client.load("me/ts", start=start, end=start)[column].dt.day.tolist() == [5]
    berlin = pd.Timestamp("2024-03-05 13:00", tz="Europe/Berlin")  # 12:00 UTC: the 5th's noon
    assert client.load("me/ts", start=berlin)[column].iloc[0].day == 5
    assert client.load("me/ts", start=berlin + pd.Timedelta(minutes=1))[column].iloc[0].day == 6


def test_bad_bounds_say_what_is_accepted(fx: od.Client) -> None:
    with pytest.raises(
        ValueError,
        match=r"start='2024-13' is not a date or time; use ISO 8601, e\.g\. '2024', '2024-01'",
    ):
        fx.load("me/fx", start="2024-13")
    with pytest.raises(
        TypeError,
        match=r"end=2024 is a int: pass a date, datetime, pandas\.Timestamp, numpy\.datetime64",
    ):
        fx.load("me/fx", end=2024)
    with pytest.raises(ValueError, match="start='NaT' is not a date or time"):
        fx.load("me/fx", start=np.datetime64("NaT"))
    with pytest.raises(TypeError, match="start=NaT is a NaTType"):
        fx.load("me/fx", start=pd.NaT)


# -- item 10: filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "rows"),
    [
        ([("currency", "=", "USD")], 228),
        ([("date", ">=", "2025-02-27")], 33),
        ([("date", ">=", dt.date(2025, 2, 27)), ("currency", "==", "GBP")], 16),
        ([("date", "<=", "2024")], 366),
        ([("date", ">", "2024-12")], 90),
        ([("date", "<", "2024-02")], 31),
        ([("at", "<=", "2024-01-02")], 2),
        ([("at", ">", "2024-01-02")], 454),
        ([("naive", ">=", "2025-03-31T12:00:00")], 1),
        ([("at", "=", "2024-01-02T12:00:00Z")], 1),
        ([("date", "in", ["2024-01-02", dt.date(2024, 1, 3), np.datetime64("2024-01-04")])], 3),
        ([("date", "not in", [pd.Timestamp("2024-01-05")])], 455),
        ([("n", "<", "10")], 10),
        ([("n", "<", 10.5)], 11),
        ([("rate", ">=", 450)], 6),
        ([("n", "in", [1, 2, 3])], 3),
        ([[("n", "<", 2)], [("n", ">=", 453)]], 5),
        (pc.field("n") < 3, 3),
        ([], 456),
    ],
)
def test_filters_coerce_values_to_the_column(fx: od.Client, filters: object, rows: int) -> None:
    assert len(fx.load("me/fx", filters=filters)) == rows


def test_an_unknown_filter_column_is_column_not_found(fx: od.Client) -> None:
    with pytest.raises(od.ColumnNotFound) as err:
        fx.load("me/fx", filters=[("ccy", "=", "USD")])
    assert (
        str(err.value) == "me/fx: no column 'ccy'; columns are: date, at, naive, currency, rate, n"
    )


FORMS = "filters take [(column, op, value), ...] (every condition holds)"


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            ("currency", "=", "USD"),
            "filters=('currency', '=', 'USD') is one bare condition: wrap it in a list, filters=[('currency', '=', 'USD')]; "
            + FORMS,
        ),
        ([("currency", "=")], "filter ('currency', '=') is not (column, op, value): " + FORMS),
        (
            [("currency", "~", "USD")],
            "filter ('currency', '~', 'USD'): operator '~' is not one of =, ==, !=, <, <=, >, >=, in, not in",
        ),
        ("currency = 'USD'", "filters=\"currency = 'USD'\" is a str: " + FORMS),
        (
            [("currency", "in", "USD")],
            "filter ('currency', 'in', 'USD'): 'in' takes a list of values",
        ),
        (
            [("n", "=", "abc")],
            "filter ('n', '=', 'abc'): 'abc' does not fit column 'n' of type int64",
        ),
        (
            [("n", "in", [1, 2.5])],
            "filter ('n', 'in', [1, 2.5]): 2.5 does not fit column 'n' of type int64",
        ),
        ([("n", "<", None)], "filter ('n', '<', None): None matches no row"),
        ([("date", ">=", "soon")], "filter 'date'='soon' is not a date or time; use ISO 8601"),
        (
            [("date", "=", "2024-01")],
            "filter ('date', '=', '2024-01'): '2024-01' is a period (2024-01-01 .. 2024-01-31); select it with [('date', '>=', '2024-01'), ('date', '<=', '2024-01')]",
        ),
        (
            [("at", "=", "2024-01-02")],
            f"filter ('at', '=', '2024-01-02'): '2024-01-02' is a whole day but 'at' holds instants (timestamp[{DAYS.unit}, tz=UTC]); select the day with",
        ),
        (
            [("date", "=", "2024-01-02T12:00")],
            "'2024-01-02T12:00' is an instant but 'date' holds dates (date32[day]); give a date",
        ),
    ],
)
def test_malformed_filters_explain_the_accepted_forms(
    fx: od.Client, filters: object, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        fx.load("me/fx", filters=filters)
    assert not isinstance(err.value, pa.ArrowException)


def test_filters_are_checked_before_any_shard_is_read(fx: od.Client) -> None:
    fetched = record_gets(fx)
    with pytest.raises(od.ColumnNotFound):
        fx.load("me/fx", filters=[("ccy", "=", "USD")])
    assert not [k for k in fetched if "/parts/" in k]


# -- item 12: not found on a fresh machine ------------------------------------------------------


def test_not_found_in_an_empty_store_says_where_and_how_to_get_data(tmp_path: Path) -> None:
    # Another folder than $OPENDATA_HOME/store: `od demo` does not publish there.
    store = tmp_path / "fresh"
    with pytest.raises(od.DatasetNotFound) as err:
        od.Client(store=store).load("ecb/euro-fx-reference-rates")
    assert str(err.value) == (
        f"dataset 'ecb/euro-fx-reference-rates' not found: the store {store} holds no datasets"
    )
    assert err.value.hint is not None
    assert "od.Client(store='s3://bucket/prefix')" in err.value.hint
    assert "OPENDATA_STORE" in err.value.hint and "od.push" in err.value.hint
    assert "od demo" not in err.value.hint
    assert err.value.shell_hint is not None and "`od push`" in err.value.shell_hint
    assert "od.Client" not in err.value.shell_hint


def test_not_found_in_the_empty_default_store_names_the_command_that_fills_it() -> None:
    home = os.environ["OPENDATA_HOME"]
    with pytest.raises(od.DatasetNotFound) as err:
        od.load("ecb/euro-fx-reference-rates")
    import importlib.util

    command = f"OPENDATA_HOME={home} od demo --no-serve"
    if importlib.util.find_spec("opendata_cli") is None:  # the lowest-direct run has no CLI
        command = f"pip install opendata-cli && {command}"
    assert err.value.hint is not None and f"run `{command}` in a shell" in err.value.hint
    assert err.value.shell_hint is not None
    assert err.value.shell_hint.startswith(f"run `{command}` to publish the example datasets")


def test_not_found_without_the_cli_installed_says_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    # A consumer's environment: opendata-client without opendata-cli (scripts/check-wheels.sh
    # runs the real one).
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "opendata_cli" else find_spec(n, *a)
    )
    monkeypatch.delenv("OPENDATA_HOME")
    with pytest.raises(od.DatasetNotFound) as err:
        od.load("ecb/euro-fx-reference-rates")
    assert "run `pip install opendata-cli && od demo --no-serve` in a shell" in str(err.value.hint)


def test_not_found_in_a_populated_store_keeps_close_matches(fx: od.Client) -> None:
    with pytest.raises(
        od.DatasetNotFound, match=r"^dataset 'me/fz' not found; did you mean 'me/fx'\?$"
    ):
        fx.load("me/fz")
    with pytest.raises(od.DatasetNotFound) as err:
        fx.info("other/thing")
    assert str(err.value) == f"dataset 'other/thing' not found in the store {fx.store.url}" + (
        f"/{fx.layout.prefix}" if fx.layout.prefix else ""
    )
    assert err.value.hint == (
        "search it with od.search('words'), or read another store: od.Client(store=...)"
    )
