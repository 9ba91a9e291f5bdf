"""One set of data checks for ``od.push`` and ``od run`` (issue 8: the rules had drifted apart)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import opendata as od
from opendata_core.documents import Provenance, RunRecord, decode_document
from opendata_core.metadata import DatasetMetadata, Source

DS = "me/shops"


def _meta(primary_key: list[str]) -> DatasetMetadata:
    return DatasetMetadata(
        id=DS,
        title="Shops",
        description="Sales per shop and day.",
        license="CC-BY-4.0",
        repo="https://github.com/me/shops",
        source=Source(provider="Me"),
        time_column="date",
        primary_key=primary_key,
    )


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"]),
            "shop": ["a", "a", "b"],
            "sold": [1, 2, 3],
        }
    )


def test_push_with_a_primary_key_refuses_duplicate_keys(client: od.Client) -> None:
    # Regression: od.push published duplicate keys that od run refused.
    with pytest.raises(od.InvalidData) as info:
        client.push(_frame(), DS, metadata=_meta(["date", "shop"]))
    assert str(info.value) == (
        "me/shops: primary key (date, shop) is not unique: 1 duplicate row(s) over 1 key(s), "
        "e.g. date=2024-01-01T00:00:00, shop='a' appears 2 times"
    )
    assert info.value.column == "date"
    assert info.value.hint is not None and "drop_duplicates" in info.value.hint
    assert client.list() == []  # nothing was published


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "shop": [None], "sold": [1]}),
            "me/shops: primary key column 'shop' has 1 empty value(s)",
        ),
        (
            pd.DataFrame({"date": pd.to_datetime(["2024-01-01", None]), "shop": ["a", "b"]}),
            "me/shops: the time column 'date' has 1 empty value(s)",
        ),
        (
            pd.DataFrame([[dt.date(2024, 1, 1), "a", 1]], columns=["date", "shop", "shop"]),
            "me/shops: duplicate column name(s): shop",
        ),
        (
            pa.Table.from_arrays(
                [pa.array([dt.date(2024, 1, 1)]), pa.array(["a"]), pa.array([1])],
                names=["date", "shop", "shop"],
            ),
            "me/shops: duplicate column name(s): shop",
        ),
    ],
    ids=["null-key", "null-time", "duplicate-column", "duplicate-column-arrow"],
)
def test_push_runs_every_check(client: od.Client, frame: object, message: str) -> None:
    with pytest.raises(od.InvalidData, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        client.push(frame, DS, metadata=_meta(["date", "shop"]))


def test_push_accepts_a_polars_lazyframe(client: od.Client) -> None:
    # Regression: od.push(LazyFrame) failed with a raw AttributeError; od run accepted one.
    lazy = pl.from_pandas(_frame().iloc[1:]).lazy()
    result = client.push(lazy, DS, time_column="date")
    assert result.rows == 2
    assert client.load(DS, format="polars").equals(lazy.collect())


def test_push_accepts_a_list_of_frames(client: od.Client) -> None:
    frame = _frame()
    result = client.push([frame.iloc[:1], frame.iloc[2:]], DS, time_column="date")
    assert result.rows == 2


def test_dry_run_returns_the_would_be_result_and_writes_nothing(
    client: od.Client, tmp_path: Path
) -> None:
    frame = _frame().iloc[1:]
    preview = client.push(frame, DS, time_column="date", dry_run=True)
    assert preview.dry_run and preview.publish_id == ""
    assert (preview.rows, preview.shards_written, preview.shards_reused) == (2, 1, 0)
    assert [f.name for f in preview.schema] == ["date", "shop", "sold"]
    assert str(preview).startswith("me/shops: dry run, nothing was written (2 rows")
    assert list(client.store.list(client.layout.datasets_root())) == []
    real = client.push(frame, DS, time_column="date")
    assert (real.schema_hash, real.bytes) == (preview.schema_hash, preview.bytes)
    again = client.push(frame, DS, time_column="date", dry_run=True)
    assert again.unchanged and again.publish_id == real.publish_id


def test_dry_run_still_checks(client: od.Client) -> None:
    with pytest.raises(od.InvalidData, match="refusing to publish an empty table"):
        client.push(_frame().iloc[:0], DS, time_column="date", dry_run=True)


def test_record_run_writes_a_run_record(client: od.Client) -> None:
    now = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    record = RunRecord(
        dataset_id=DS,
        run_id="abc123",
        status="success",
        started_at=now,
        finished_at=now,
        provenance=Provenance(),
    )
    key = client.record_run(record)
    assert key.endswith("datasets/me/shops/runs/20240501T120000Z-abc123.json")
    data, _ = client.store.get(key)
    assert decode_document(bytes(data), RunRecord) == record
