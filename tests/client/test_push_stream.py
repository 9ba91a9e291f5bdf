"""Streamed publishes (issue 26): ``od.push`` of a LazyFrame, a RecordBatchReader, a dataset or an
iterator of frames writes the same shards as the in-memory push of the same rows, and bad input
leaves nothing in the store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pds
import pytest

import opendata as od
from opendata import ColumnNotFound, InvalidData
from opendata_core.metadata import Source


def _table(rows: int = 240_000, seed: int = 1) -> pa.Table:
    """Rows over 12 years in random time order (10 MB: big enough to shard by year)."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 365 * 12, rows).astype("timedelta64[D]")
    return pa.table(
        {
            "date": pa.array(np.datetime64("2001-01-01") + days),
            "x": rng.normal(size=rows),
            "currency": pa.array(rng.choice(["USD", "EUR", "GBP", "JPY"], rows)),
            "n": rng.integers(0, 1000, rows),
            "seq": np.arange(rows),
        }
    )


def _files(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())


def _doc(store: Path, name: str) -> dict[str, Any]:
    return json.loads((store / "datasets/x/y" / name).read_text())  # type: ignore[no-any-return]


STREAMS: dict[str, Callable[[pa.Table], Any]] = {
    "arrow-batches": lambda t: iter(t.to_batches(max_chunksize=25_000)),
    "arrow-tables": lambda t: (t.slice(i, 30_000) for i in range(0, t.num_rows, 30_000)),
    "pandas-frames": lambda t: (
        t.slice(i, 50_000).to_pandas() for i in range(0, t.num_rows, 50_000)
    ),
    "polars-frames": lambda t: iter(_polars(t).iter_slices(40_000)),
    "polars-lazy": lambda t: _polars(t).lazy(),
    "record-batch-reader": lambda t: pa.RecordBatchReader.from_batches(
        t.schema, t.to_batches(max_chunksize=20_000)
    ),
    "arrow-dataset": lambda t: pds.dataset(t),
}


WHOLE: dict[str, Callable[[pa.Table], Any]] = {
    "pandas-frames": lambda t: t.to_pandas(),
    "polars-frames": lambda t: _polars(t),
    "polars-lazy": lambda t: _polars(t),
}
"""What the in-memory push is given, when not the table itself: the same library's frame."""


def _polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.mark.parametrize("kind", list(STREAMS))
def test_a_stream_publishes_the_shards_of_the_same_table(tmp_path: Path, kind: str) -> None:
    table = _table()
    whole, streamed = tmp_path / "whole", tmp_path / "streamed"
    od.Client(whole).push(WHOLE.get(kind, lambda t: t)(table), "x/y", time_column="date")
    result = od.Client(streamed).push(STREAMS[kind](table), "x/y", time_column="date")

    assert result.rows == table.num_rows
    a, b = _doc(whole, "manifest.json"), _doc(streamed, "manifest.json")
    assert b["partition"] == a["partition"] == "year" and len(b["shards"]) == 12
    # Byte for byte: the same shards, with the same hashes, blocks and statistics.
    assert b["shards"] == a["shards"] and b["schema"] == a["schema"]
    ma, mb = _doc(whole, "metadata.json"), _doc(streamed, "metadata.json")
    assert mb["preview"] == ma["preview"] and mb["preview_head"] == ma["preview_head"]
    pa_, pb = ma["profile"], mb["profile"]
    assert pb["row_count"] == pa_["row_count"] and pb["time"] == pa_["time"]
    for ca, cb in zip(pa_["columns"], pb["columns"], strict=True):
        for key in ("mean", "std"):  # summed in pieces: equal but for the last digits
            if key in ca:
                assert cb.pop(key) == pytest.approx(ca.pop(key), rel=1e-12)
        assert cb == ca
    loaded = od.Client(streamed).load("x/y", format="arrow")
    assert loaded.num_rows == table.num_rows
    assert sorted(loaded.column("seq").to_pylist()) == list(range(table.num_rows))


def test_a_stream_with_an_explicit_partition_and_a_primary_key(tmp_path: Path) -> None:
    table = _table(60_000)
    meta_free = od.Client(tmp_path / "a").push(table, "x/y", time_column="date", partition="month")
    streamed = od.Client(tmp_path / "b").push(
        iter(table.to_batches(max_chunksize=7_000)), "x/y", time_column="date", partition="month"
    )
    assert streamed.stats.shard_count == meta_free.stats.shard_count == 144
    assert (
        _doc(tmp_path / "b", "manifest.json")["shards"]
        == _doc(tmp_path / "a", "manifest.json")["shards"]
    )


def test_a_stream_without_a_time_column_is_one_shard(tmp_path: Path) -> None:
    table = _table(50_000).drop_columns(["date"])
    result = od.Client(tmp_path).push(iter(table.to_batches(max_chunksize=9_000)), "x/y")
    assert result.stats.shard_count == 1 and result.rows == 50_000
    assert od.Client(tmp_path).load("x/y", format="arrow").equals(table)


def test_a_stream_dry_run_writes_nothing(tmp_path: Path) -> None:
    result = od.Client(tmp_path).push(
        iter(_table(30_000).to_batches(max_chunksize=5_000)), "x/y", dry_run=True
    )
    assert result.dry_run and result.rows == 30_000 and _files(tmp_path) == []


def test_the_same_stream_again_is_unchanged(tmp_path: Path) -> None:
    table = _table(30_000)
    client = od.Client(tmp_path)
    first = client.push(iter(table.to_batches(max_chunksize=4_000)), "x/y", time_column="date")
    again = client.push(iter(table.to_batches(max_chunksize=9_000)), "x/y", time_column="date")
    assert again.unchanged and again.publish_id == first.publish_id


def _batches(*tables: pa.Table) -> Iterator[pa.Table]:
    yield from tables


GOOD = _table(12_000, seed=3)


@pytest.mark.parametrize(
    ("stream", "error", "column", "words"),
    [
        pytest.param(
            lambda: _batches(
                GOOD.slice(0, 5000), GOOD.slice(5000).set_column(1, "x", pa.array(["a"] * 7000))
            ),
            InvalidData,
            "x",
            ["column 'x' of batch 2 is string", "the first batch's is double"],
            id="mixed-types",
        ),
        pytest.param(
            lambda: _batches(GOOD.slice(0, 5000), GOOD.slice(5000).drop_columns(["n"])),
            InvalidData,
            "n",
            ["batch 2 lacks column(s) n", "same columns"],
            id="missing-column",
        ),
        pytest.param(
            lambda: _batches(GOOD.slice(0, 5000), GOOD.slice(5000).drop_columns(["date"])),
            InvalidData,
            "date",
            ["batch 2 lacks column(s) date"],
            id="missing-time-column",
        ),
        pytest.param(
            lambda: _batches(
                GOOD.slice(0, 5000),
                GOOD.slice(5000).set_column(0, "date", pa.array([None] * 7000, pa.date32())),
            ),
            InvalidData,
            "date",
            ["the time column 'date' has 7,000 empty value(s)"],
            id="time-nulls",
        ),
        pytest.param(
            lambda: _batches(GOOD.drop_columns(["date"])),
            ColumnNotFound,
            "date",
            ["date", "name the column as time_column says"],
            id="no-time-column",
        ),
        pytest.param(lambda: iter([]), InvalidData, None, ["empty table (0 rows)"], id="empty"),
    ],
)
def test_bad_streams_are_refused_and_leave_nothing(
    tmp_path: Path,
    stream: Callable[[], Any],
    error: type[Exception],
    column: str | None,
    words: list[str],
) -> None:
    client = od.Client(tmp_path)
    client.push(GOOD, "x/y", time_column="date")
    before = _files(tmp_path)
    with pytest.raises(error) as info:
        client.push(stream(), "x/y", time_column="date")
    said = f"{info.value} {getattr(info.value, 'hint', '')}"
    for w in words:
        assert w in said
    if column is not None:
        assert getattr(info.value, "column", None) == column
        assert info.value.hint  # type: ignore[attr-defined]
    assert _files(tmp_path) == before  # the live version is untouched, no shard was uploaded
    assert client.load("x/y", format="arrow").num_rows == GOOD.num_rows


def test_a_repeated_key_found_late_leaves_nothing(tmp_path: Path) -> None:
    table = GOOD.slice(0, 6000)
    repeated = pa.concat_tables([table, table.slice(5990)])  # the last year's rows repeat
    meta = od.DatasetMetadata(
        id="x/y",
        title="t",
        description="d",
        license="CC-BY-4.0",
        repo="https://github.com/x/y",
        source=Source(provider="p"),
        time_column="date",
        primary_key=["seq"],
    )
    with pytest.raises(InvalidData, match="primary key seq is not unique"):
        od.Client(tmp_path).push(
            iter(repeated.to_batches(max_chunksize=1000)), "x/y", metadata=meta
        )
    assert _files(tmp_path) == []


def test_an_item_that_is_not_a_frame_is_named(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="item 2 is a dict: yield pandas or polars DataFrames"):
        od.Client(tmp_path).push(_items(GOOD, {"a": 1}), "x/y")
    assert _files(tmp_path) == []


def _items(*items: Any) -> Iterator[Any]:
    yield from items


def test_append_takes_a_table_not_a_stream(tmp_path: Path) -> None:
    client = od.Client(tmp_path)
    client.push(GOOD, "x/y", time_column="date")
    with pytest.raises(ValueError, match=r"mode='append' takes the new rows as a table.*collect"):
        client.push(_polars(GOOD).lazy(), "x/y", mode="append")


def test_a_pandas_stream_keeps_what_a_frame_push_keeps(tmp_path: Path) -> None:
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=100), "v": range(100)})
    od.Client(tmp_path / "a").push(df, "x/y", time_column="date")
    od.Client(tmp_path / "b").push(iter([df.iloc[:40], df.iloc[40:]]), "x/y", time_column="date")
    assert (
        _doc(tmp_path / "b", "manifest.json")["shards"]
        == _doc(tmp_path / "a", "manifest.json")["shards"]
    )


def test_every_batch_gets_the_types_the_first_is_published_in(tmp_path: Path) -> None:
    """timestamp[s] is published as timestamp[ms] (what Parquet gives back): batch 2 as well."""
    seconds = np.arange("2020-01-01", "2020-03-01", dtype="datetime64[h]").astype("datetime64[s]")
    table = pa.table({"time": seconds, "v": np.arange(len(seconds))})
    od.Client(tmp_path / "a").push(table, "x/y", time_column="time")
    od.Client(tmp_path / "b").push(
        iter(table.to_batches(max_chunksize=500)), "x/y", time_column="time"
    )
    b = _doc(tmp_path / "b", "manifest.json")
    assert b["shards"] == _doc(tmp_path / "a", "manifest.json")["shards"]
    assert [f["type"] for f in b["schema"]] == ["timestamp[ms]", "int64"]


def test_an_all_null_column_in_a_later_batch_takes_the_first_ones_type(tmp_path: Path) -> None:
    first = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "note": ["a"]})
    later = pd.DataFrame({"date": pd.to_datetime(["2024-01-02"]), "note": [None]})
    od.Client(tmp_path).push(iter([first, later]), "x/y", time_column="date")
    note = od.Client(tmp_path).load("x/y")["note"]
    assert note[0] == "a" and note.isna().tolist() == [False, True]
