"""DuckDB, offline: over the opendata:// filesystem, and over verified local paths (od.urls)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import fsspec
import pandas as pd
import pytest

import opendata as od
from opendata_core.documents import Manifest

from .engines import DATASET, double_x, publish

QUERY = "SELECT symbol, sum(x) AS x, count(*) AS n FROM read_parquet({}) GROUP BY symbol ORDER BY symbol"


@pytest.fixture
def local(tmp_path: Path) -> tuple[od.Client, Manifest]:
    client = od.Client(store=tmp_path / "store")
    return client, publish(client)


def _expected(frame: pd.DataFrame) -> list[tuple[str, float, int]]:
    grouped = frame.groupby("symbol").agg(x=("x", "sum"), n=("x", "size"))
    return [(str(s), float(r.x), int(r.n)) for s, r in grouped.iterrows()]


def _approx(rows: list[tuple[str, float, int]]) -> list[tuple[str, object, int]]:
    return [(s, pytest.approx(x, rel=1e-12), n) for s, x, n in rows]


def test_duckdb_over_the_filesystem_groups_what_load_returns(
    local: tuple[od.Client, Manifest],
) -> None:
    client, _ = local
    con = duckdb.connect()
    con.register_filesystem(fsspec.filesystem("opendata", store=client.store.url))
    rows = con.sql(QUERY.format(f"'opendata://{DATASET}/*.parquet'")).fetchall()
    assert rows == _approx(_expected(client.load(DATASET)))
    in_range = con.sql(QUERY.format(f"'opendata://{DATASET}?start=2022-06/*.parquet'")).fetchall()
    assert in_range == _approx(_expected(client.load(DATASET, start="2022")))


def test_duckdb_over_verified_local_paths(local: tuple[od.Client, Manifest]) -> None:
    client, _ = local
    paths = [u.url.removeprefix("file://") for u in client.urls(DATASET, local=True)]
    rows = duckdb.sql(QUERY.format(paths)).fetchall()
    assert rows == _approx(_expected(client.load(DATASET)))


def test_duckdb_reports_damage_instead_of_a_wrong_sum(local: tuple[od.Client, Manifest]) -> None:
    client, manifest = local
    for shard in manifest.shards:
        double_x(client, shard)
    con = duckdb.connect()
    con.register_filesystem(fsspec.filesystem("opendata", store=client.store.url))
    # DuckDB wraps the filesystem's exception in its own error, keeping its name and message.
    with pytest.raises(duckdb.Error, match=r"CorruptDataError: me/prices: .* is corrupt"):
        con.sql(QUERY.format(f"'opendata://{DATASET}/*.parquet'")).fetchall()
    with pytest.raises(od.CorruptDataError):  # and od.urls(local=True) verifies before it hands out
        client.urls(DATASET, local=True)
