from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import opendata as od
from opendata_core import DatasetId

from .conftest import record_gets

DAYS = pd.date_range("2019-01-01", "2024-12-31", freq="D")


def daily(symbols: tuple[str, ...] = ("AAA", "BBB")) -> pd.DataFrame:
    n = len(DAYS)
    frames = [
        pd.DataFrame(
            {
                "date": DAYS.date,
                "symbol": s,
                "close": np.linspace(1, 2, n) + i,
                "volume": np.arange(n, dtype="int64") * (i + 1),
            }
        )
        for i, s in enumerate(symbols)
    ]
    return pd.concat(frames, ignore_index=True)


def test_push_then_load_round_trip(client: od.Client) -> None:
    df = daily()
    result = client.push(df, "me/prices", time_column="date", partition="year")
    assert result.rows == len(df)
    assert result.shards_written == 6  # one per year
    assert result.shards_reused == 0
    assert (result.min_time, result.max_time) == ("2019-01-01", "2024-12-31")
    out = client.load("me/prices")
    expected = df.sort_values(["date"], kind="stable").reset_index(drop=True)
    expected["date"] = pd.to_datetime(expected["date"]).astype(
        "datetime64[ms]"
    )  # dates load as datetimes
    pd.testing.assert_frame_equal(out, expected)
    assert out["date"].is_monotonic_increasing


def test_republish_of_unchanged_data_uploads_nothing(client: od.Client) -> None:
    df = daily()
    client.push(df, "me/prices", time_column="date", partition="year")
    again = client.push(df, "me/prices", time_column="date", partition="year")
    assert (again.shards_written, again.shards_reused) == (0, 6)
    changed = df.copy()
    changed.loc[changed["date"] == dt.date(2024, 6, 1), "close"] = -1.0
    third = client.push(changed, "me/prices", time_column="date", partition="year")
    assert (third.shards_written, third.shards_reused) == (1, 5)


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        ("2024-01-01", "2024-12-31", dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
        (dt.date(2023, 3, 5), dt.date(2023, 3, 5), dt.date(2023, 3, 5), dt.date(2023, 3, 5)),
        ("2023-12-31", "2024-01-01", dt.date(2023, 12, 31), dt.date(2024, 1, 1)),
        (dt.datetime(2024, 2, 1, 12, 0), None, dt.date(2024, 2, 2), dt.date(2024, 12, 31)),
        (None, "2019-01-02", dt.date(2019, 1, 1), dt.date(2019, 1, 2)),
        (
            "2024-02-01T00:00:00",
            "2024-02-03T23:00:00+00:00",
            dt.date(2024, 2, 1),
            dt.date(2024, 2, 3),
        ),
    ],
)
def test_start_end_are_inclusive_days(
    client: od.Client, start: object, end: object, first: dt.date, last: dt.date
) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    out = client.load("me/prices", start=start, end=end)
    assert out["date"].min() == pd.Timestamp(first)
    assert out["date"].max() == pd.Timestamp(last)
    assert len(out) == ((last - first).days + 1) * 2


def test_only_overlapping_shards_are_fetched(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    fetched = record_gets(client)
    client.load("me/prices", start="2022-01-01", end="2022-12-31")
    parts = [k for k in fetched if "/parts/" in k]
    assert len(parts) == 1
    assert sum(k.endswith("manifest.json") for k in fetched) == 1
    urls = client.urls("me/prices", start="2022-01-01", end="2022-12-31")
    assert [u.partition for u in urls] == ["2022"]
    assert parts[0].endswith(urls[0].sha256 + ".parquet")


def test_columns_and_filters(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    out = client.load(
        "me/prices",
        columns=["symbol", "close"],
        start="2024-12-31",
        filters=[("symbol", "=", "BBB")],
    )
    assert list(out.columns) == ["symbol", "close"]
    assert out["symbol"].tolist() == ["BBB"]
    with pytest.raises(od.ColumnNotFound) as info:
        client.load("me/prices", columns=["clsoe"])
    assert (
        str(info.value) == "me/prices: no column 'clsoe'; columns are: date, symbol, close, volume"
    )


def test_formats(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    assert isinstance(client.load("me/prices", format="polars"), pl.DataFrame)
    table = client.load("me/prices", format="arrow", start="2024-01-01")
    assert isinstance(table, pa.Table)
    assert table.num_rows == 366 * 2
    with pytest.raises(ValueError, match="format='excel': use 'pandas', 'polars' or 'arrow'"):
        client.load("me/prices", format="excel")  # type: ignore[arg-type]


def test_errors_name_the_fix(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    with pytest.raises(
        od.DatasetNotFound, match=r"dataset 'me/price' not found; did you mean 'me/prices'\?"
    ):
        client.load("me/price")
    with pytest.raises(od.RangeOutsideCoverage) as info:
        client.load("me/prices", start="2030-01-01")
    assert "outside the data's coverage (2019-01-01 .. 2024-12-31)" in str(info.value)
    assert info.value.coverage == ("2019-01-01", "2024-12-31")
    with pytest.raises(ValueError, match="start 2024-02-01 is after end 2024-01-01"):
        client.load("me/prices", start="2024-02-01", end="2024-01-01")
    with pytest.raises(ValueError, match="start='last week' is not a date or time"):
        client.load("me/prices", start="last week")


def test_bad_pushes_change_nothing(client: od.Client) -> None:
    df = daily()
    with pytest.raises(od.ColumnNotFound, match="no column 'day'; columns are: date, symbol"):
        client.push(df, "me/prices", time_column="day")
    with pytest.raises(
        od.OpenDataError,
        match="time column 'symbol' has type (large_)?string, not a date or timestamp",
    ):
        client.push(df, "me/prices", time_column="symbol")
    with pytest.raises(ValueError, match="refusing to publish an empty table"):
        client.push(df.iloc[0:0], "me/prices", time_column="date")
    with pytest.raises(TypeError, match="cannot push a list whose item 1 is a int"):
        client.push([1, 2], "me/prices")
    with pytest.raises(od.OpenDataError, match="invalid dataset id"):
        client.push(df, "no-slash")
    with pytest.raises(od.DatasetNotFound):
        client.load("me/prices")
    assert list(client.store.list(client.layout.datasets_root())) == []


def test_all_dtypes_round_trip(client: od.Client) -> None:
    n = 6
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2023-12-30", periods=n, freq="12h", tz="Europe/Berlin"),
            "naive": pd.date_range("2020-01-01", periods=n, freq="D"),
            "day": pd.date_range("2020-01-01", periods=n, freq="D").date,
            "i": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "f": [1.5, float("nan"), 2.5, None, 3.0, 4.0],
            "s": ["a", None, "ü", "", "x", "y"],
            "b": [True, False, None, True, False, True],
            "cat": pd.Categorical(["x", "y", "x", None, "y", "x"]),
            "dec": [
                Decimal("1.10"),
                Decimal("2.25"),
                None,
                Decimal("-3.00"),
                Decimal("0.01"),
                Decimal("9.99"),
            ],
        }
    )
    client.push(df, "me/types", time_column="ts")
    out = client.load("me/types")
    pd.testing.assert_frame_equal(out, df.assign(day=df["day"].astype("datetime64[ms]")))
    part = client.load(
        "me/types", start="2024-01-01T00:00:00+01:00", end="2024-01-01T12:00:00+01:00"
    )
    assert part["ts"].tolist() == df["ts"].iloc[4:6].tolist()
    # A naive datetime compared with a tz-aware column is taken as UTC.
    utc = client.load("me/types", start=dt.datetime(2023, 12, 31, 23, 0))
    assert utc["ts"].min() == pd.Timestamp("2024-01-01 00:00", tz="Europe/Berlin")


def test_polars_and_arrow_inputs(client: od.Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pdf = daily(("A",))
    client.push(pl.from_pandas(pdf), "me/pl", time_column="date")
    client.push(pa.Table.from_pandas(pdf, preserve_index=False), "me/pa", time_column="date")
    csv = tmp_path / "x.csv"
    pdf.head(10).to_csv(csv, index=False)
    result = client.push(csv, "me/csv")
    assert result.rows == 10
    assert client.load("me/pl").equals(client.load("me/pa"))


def test_no_time_column_is_one_shard(client: od.Client) -> None:
    df = pd.DataFrame({"code": ["DE", "FR", "US"], "name": ["Germany", "France", "United States"]})
    result = client.push(df, "me/countries")
    assert result.shards_written == 1
    assert client.load("me/countries").equals(df)
    with pytest.raises(
        od.OpenDataError, match="has no time column, so start/end cannot select rows"
    ):
        client.load("me/countries", start="2024-01-01")


def test_append_touches_only_its_partition_and_dedupes(client: od.Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    yaml = tmp_path / "opendata.yaml"
    yaml.write_text(
        "id: me/prices\ntitle: Prices\ndescription: d\nlicense: MIT\nrepo: https://github.com/me/prices\n"
        "source: {provider: Me}\ntime_column: date\nprimary_key: [date, symbol]\npartition: year\n"
    )
    df = daily()
    client.push(df, "me/prices", metadata=yaml)
    day = pd.DataFrame(
        {
            "date": [dt.date(2025, 1, 1), dt.date(2024, 12, 31)],
            "symbol": ["AAA", "AAA"],
            "close": [9.0, 8.0],
            "volume": [1, 2],
        }
    )
    result = client.push(day, "me/prices", metadata=yaml, mode="append")
    assert (result.shards_written, result.shards_reused) == (2, 5)  # 2024 rewritten, 2025 new
    assert result.rows == len(df) + 1  # 2024-12-31 AAA replaced, 2025-01-01 added
    out = client.load("me/prices", start="2024-12-31")
    assert out[out["symbol"] == "AAA"]["close"].tolist() == [8.0, 9.0]
    with pytest.raises(od.SchemaMismatch, match="missing column\\(s\\) volume"):
        client.push(day.drop(columns=["volume"]), "me/prices", mode="append")


def test_info_search_list_and_index(client: od.Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    yaml = tmp_path / "opendata.yaml"
    yaml.write_text(
        "id: ecb/fx\ntitle: Euro FX rates\ndescription: Reference rates of the euro.\nlicense: CC-BY-4.0\n"
        "repo: https://github.com/ecb/fx\nsource: {provider: ECB}\ntopics: [finance, currencies]\n"
        "frequency: daily\ntime_column: date\ngeo: {scope: region, countries: [DE, FR]}\n"
    )
    client.push(daily(("USD",)), "ecb/fx", metadata=yaml)
    client.push(daily(("X",)), "me/prices", time_column="date")
    info = client.info("ecb/fx")
    assert info.dataset.title == "Euro FX rates"
    assert info.stats.row_count == len(DAYS)
    assert len(info.preview) == 100
    assert info.preview[-1]["date"] == "2024-12-31"
    assert [e.id for e in client.search("euro")] == ["ecb/fx"]
    assert [e.id for e in client.search("rates euro", topic="finance", geo="de")] == ["ecb/fx"]
    with pytest.warns(DeprecationWarning, match=r"use search\(geo=\)") as caught:
        assert [e.id for e in client.search("euro", country="de")] == ["ecb/fx"]
    assert caught[0].filename == __file__  # the user's line, so Python's filters show it
    assert client.search("euro", namespace="me") == []
    assert [e.id for e in client.list()] == ["ecb/fx", "me/prices"]
    # Rebuild from every metadata.json gives the same entries.
    client.store.delete(client.layout.index())
    assert client.list() == []
    rebuilt = client.index.rebuild()
    assert [e.id for e in rebuilt.datasets] == ["ecb/fx", "me/prices"]
    with pytest.raises(od.DatasetNotFound, match="did you mean 'ecb/fx'"):
        client.info("ecb/fxx")


def test_module_functions_use_the_default_store(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "s"))
    od.push(daily(("A",)), "me/x", time_column="date", partition="year")
    assert len(od.load("me/x", start="2024-12-01")) == 31
    assert (tmp_path / "s" / "datasets" / "me" / "x" / "manifest.json").is_file()
    assert [e.id for e in od.search("x")] == ["me/x"]
    with pytest.warns(DeprecationWarning, match=r"use search\(geo=\)") as caught:
        assert od.search("x", country="de") == []
    assert caught[0].filename == __file__
    assert od.info("me/x").stats.row_count == len(DAYS)
    assert od.scan("me/x", start="2024-12-31").collect().height == 1
    assert [u.partition for u in od.urls("me/x", start="2024-01-01")] == ["2024"]
    assert od.gc("me/x").deleted == []
    assert DatasetId.parse("me/x") in {DatasetId.parse(e.id) for e in od.list()}


def test_default_store_is_under_opendata_home(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "home"))
    assert od.Client().store.url == str((tmp_path / "home" / "store").resolve())
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.toml").write_text(f'store = "{tmp_path / "cfg"}"\n')
    assert od.Client().store.url == str((tmp_path / "cfg").resolve())
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "env"))
    assert od.Client().store.url == str((tmp_path / "env").resolve())
    assert od.Client(store=tmp_path / "arg").store.url == str((tmp_path / "arg").resolve())


def test_auto_partitioning_keeps_small_data_in_one_shard(client: od.Client) -> None:
    result = client.push(daily(), "me/small", time_column="date")
    assert (result.shards_written, result.shards_reused) == (1, 0)
    assert [u.partition for u in client.urls("me/small")] == ["all"]
    assert len(client.load("me/small", start="2024-01-01", end="2024-01-31")) == 62


def test_one_client_serves_concurrent_loads(client: od.Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client.push(daily(), "me/prices", time_column="date", partition="year")
    years = list(range(2019, 2025))
    with ThreadPoolExecutor(max_workers=6) as pool:
        frames = list(
            pool.map(
                lambda y: client.load("me/prices", start=f"{y}-01-01", end=f"{y}-12-31"), years
            )
        )
    for year, frame in zip(years, frames, strict=True):
        assert {d.year for d in frame["date"]} == {year}
        assert len(frame) == (366 if year in (2020, 2024) else 365) * 2


def test_a_named_pandas_index_is_kept_as_columns(client: od.Client) -> None:
    df = daily(("A",)).set_index("date")
    client.push(df, "me/indexed", time_column="date")
    out = client.load("me/indexed", start="2024-12-31")
    assert list(out.columns) == ["date", "symbol", "close", "volume"]
    assert out["date"].tolist() == [pd.Timestamp(2024, 12, 31)]
    unnamed = daily(("A",))
    unnamed.index = unnamed.index + 1000  # row numbering, not data
    client.push(unnamed, "me/unnamed", time_column="date")
    assert list(client.load("me/unnamed").columns) == ["date", "symbol", "close", "volume"]


def test_identical_data_commits_nothing_new(client: od.Client) -> None:
    df = daily()
    first = client.push(df, "me/prices", time_column="date", partition="year")
    updated = client.info("me/prices").updated_at
    again = client.push(df.copy(), "me/prices", time_column="date", partition="year")
    assert again.unchanged and not first.unchanged
    assert again.publish_id == first.publish_id == client.manifest("me/prices").publish_id
    assert client.info("me/prices").updated_at == updated
    assert {e.id: e.updated_at for e in client.list()}["me/prices"] == updated
    assert "unchanged" in str(again) and "nothing was committed" in str(again)
    assert (again.rows, again.shards_written) == (len(df), 0)
    changed = df.copy()
    changed.loc[0, "close"] = -1.0
    third = client.push(changed, "me/prices", time_column="date", partition="year")
    assert not third.unchanged
    assert client.manifest("me/prices").parent_publish_id == first.publish_id
