"""Dask: ``od.to_dask`` and ``dd.read_parquet("opendata://…")`` on threads, on the local store.

A cluster reading through a registry whose links expire is tests/e2e/test_dask_cluster.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.dataframe as dd
import pandas as pd
import pytest

import opendata as od
from opendata._stores import LocalStore
from opendata_core.documents import Manifest

from .engines import DATASET, double_x, publish

pytestmark = pytest.mark.filterwarnings(
    # Dask 2026.8's own read_parquet calls reset_index(inplace=True), which pandas 3.1 deprecates.
    "ignore:The inplace keyword in DataFrame.reset_index"
)


@pytest.fixture
def local(tmp_path: Path) -> tuple[od.Client, Manifest]:
    client = od.Client(store=tmp_path / "store")
    return client, publish(client)


def _load_indexed(client: od.Client, **kwargs: Any) -> pd.DataFrame:
    return client.load(DATASET, **kwargs).set_index("date")


def test_to_dask_has_loads_values_and_dtypes_one_partition_per_shard(
    local: tuple[od.Client, Manifest],
) -> None:
    client, manifest = local
    ddf = client.to_dask(DATASET)
    assert ddf.npartitions == len(manifest.shards)
    assert ddf.known_divisions
    assert ddf.divisions[0] == pd.Timestamp(manifest.min_time)
    assert ddf.divisions[-1] == pd.Timestamp(manifest.max_time)
    got = ddf.compute(scheduler="threads")
    pd.testing.assert_frame_equal(got, _load_indexed(client))
    assert ddf.dtypes.to_dict() == got.dtypes.to_dict()  # the meta tells the truth
    pd.testing.assert_frame_equal(got.reset_index(), client.load(DATASET))

    kwargs: dict[str, Any] = {
        "start": "2021-11-15",
        "end": "2022-02",
        "columns": ["x", "symbol"],
        "filters": [("symbol", "in", ["AAA", "CCC"])],
    }
    part = client.to_dask(DATASET, **kwargs)
    assert part.npartitions == 2
    expected = client.load(DATASET, **{**kwargs, "columns": ["date", "x", "symbol"]})
    pd.testing.assert_frame_equal(part.compute(scheduler="threads"), expected.set_index("date"))


def test_a_time_selection_reads_only_the_overlapping_shards(
    local: tuple[od.Client, Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, manifest = local
    ddf = client.to_dask(DATASET)  # the whole dataset: every shard a partition
    expected = _load_indexed(client, start="2022-03-01", end="2022-05-31")
    read: list[str] = []
    get, get_ranges = LocalStore.get, LocalStore.get_ranges

    def recording_get(self: LocalStore, key: str, **kw: Any) -> Any:
        read.append(key)
        return get(self, key, **kw)

    def recording_ranges(self: LocalStore, key: str, spans: Any) -> Any:
        read.append(key)
        return get_ranges(self, key, spans)

    monkeypatch.setattr(LocalStore, "get", recording_get)
    monkeypatch.setattr(LocalStore, "get_ranges", recording_ranges)
    got = ddf.loc["2022-03-01":"2022-05-31"].compute(scheduler="threads")
    pd.testing.assert_frame_equal(got, expected)
    layout, ds = client.layout, od.DatasetId.parse(DATASET)
    year_2022 = layout.resolve(ds, manifest.shards[1].path)
    assert set(read) == {year_2022}  # 2021 and 2023 were never opened


def test_read_parquet_over_opendata_sums_what_load_sums(
    local: tuple[od.Client, Manifest],
) -> None:
    client, _ = local
    options = {"store": str(client.store.url)}
    ddf = dd.read_parquet(f"opendata://{DATASET}", storage_options=options)
    assert ddf.npartitions == 3
    assert len(ddf) == len(client.load(DATASET))  # len() over fsspec http failed (default_cache)
    total = ddf.x.sum().compute(scheduler="threads")
    assert total == pytest.approx(client.load(DATASET).x.sum(), rel=1e-12)
    in_range = dd.read_parquet(f"opendata://{DATASET}?start=2022-06", storage_options=options)
    assert in_range.npartitions == 2


def test_a_damaged_shard_raises_corrupt_data_instead_of_a_wrong_sum(
    local: tuple[od.Client, Manifest],
) -> None:
    client, manifest = local
    options = {"store": str(client.store.url)}
    lazy = client.to_dask(DATASET).x.sum()
    over_fs = dd.read_parquet(f"opendata://{DATASET}", storage_options=options).x.sum()
    for shard in manifest.shards:
        double_x(client, shard)
    with pytest.raises(od.CorruptDataError, match=r"me/prices: .* is corrupt"):
        lazy.compute(scheduler="threads")
    with pytest.raises(od.CorruptDataError, match=r"me/prices: .* is corrupt"):
        over_fs.compute(scheduler="threads")


def test_without_dask_the_error_names_the_extra(
    local: tuple[od.Client, Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(ImportError, match=r"pip install 'opendata-client\[dask\]'"):
        local[0].to_dask(DATASET)
