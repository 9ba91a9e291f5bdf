"""Data and damage for the engine tests (opendata://, Dask, DuckDB)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

import opendata as od
from opendata_core.documents import Shard

DATASET = "me/prices"


def prices() -> pd.DataFrame:
    """Three years of prices: 2021 every 5 minutes (a shard of ~2 MB, cut into verified blocks:
    read by ranges), 2022 and 2023 hourly (small shards without blocks: read whole)."""
    rng = np.random.default_rng(7)
    times = pd.DatetimeIndex(
        [
            *pd.date_range("2021-01-01", "2021-12-31 23:55", freq="5min"),
            *pd.date_range("2022-01-01", "2023-12-31 23:00", freq="h"),
        ]
    )
    n = len(times)
    return pd.DataFrame(
        {
            "date": times.date,
            "symbol": np.array(["AAA", "BBB", "CCC", "DDD"])[np.arange(n) % 4],
            "x": rng.random(n),
            "y": rng.random(n),
            "volume": np.arange(n, dtype="int64"),
        }
    )


def publish(client: od.Client) -> od.Manifest:
    client.push(prices(), DATASET, time_column="date", partition="year")
    manifest = client.manifest(DATASET)
    assert [bool(s.blocks) for s in manifest.shards] == [True, False, False]
    return manifest


def double_x(client: od.Client, shard: Shard, dataset: str = DATASET) -> None:
    """Replace the shard's object with a valid Parquet file whose ``x`` is doubled (the issue's
    damage: an engine that does not verify computes twice the sum without a word)."""
    key = client.layout.resolve(od.DatasetId.parse(dataset), shard.path)
    data, _ = client.store.get(key)
    table = pq.read_table(io.BytesIO(bytes(data)))
    table = table.set_column(table.schema.get_field_index("x"), "x", pc.multiply(table["x"], 2))
    out = io.BytesIO()
    pq.write_table(table, out)
    client.store.put(key, out.getvalue())
