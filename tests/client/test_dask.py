"""Dask: ``od.to_dask`` and ``dd.read_parquet("opendata://…")``, on threads and on a cluster.

The threaded tests use the local folder store. The cluster tests run a real registry process (its
own HMAC-signed links, which it refuses once expired, with the anonymous tier's expiry set to one
minute) and a ``distributed.LocalCluster`` of two worker processes on 127.0.0.1; the graph is
built first, and computed only after every link the building process was given has expired.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import httpx
import pandas as pd
import pytest

import opendata as od
from opendata._registry import RegistryTransport
from opendata._stores import LocalStore
from opendata_core.documents import Manifest
from tests.e2e.test_registry_e2e import running_registry

from .engines import DATASET, double_x, publish

DAMAGED = "me/damaged"

pytestmark = pytest.mark.filterwarnings(
    # Dask 2026.8's own read_parquet calls reset_index(inplace=True), which pandas 3.1 deprecates.
    "ignore:The inplace keyword in DataFrame.reset_index:pandas.errors.Pandas4Warning"
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


# ---------------------------------------------------------------------------------------------
# A cluster reading through a registry whose links expire after one minute


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A registry (anonymous links expire after 1 minute) serving two datasets, a graph over
    one of them built at once, and a LocalCluster of two worker processes on 127.0.0.1."""
    from distributed import Client, LocalCluster

    home = tmp_path_factory.mktemp("registry-home")
    direct = od.Client(store=home / "store")
    publish(direct)
    direct.push(direct.load(DATASET), DAMAGED, time_column="date", partition="year")
    tiers = '{"anonymous": {"url_expiry_minutes": 1}}'
    with running_registry(home, OPENDATA_REGISTRY_TIERS=tiers) as url:
        reader = od.Client(RegistryTransport(url), cache=False)
        expected = reader.load(DATASET)
        signed = reader.store.download(DATASET)  # what the building process was handed
        graph = reader.to_dask(DATASET).x.sum()
        # Dask reads the footers while it builds this graph: damage the shards after that.
        options = {"registry": url}
        damaged_over_fs = dd.read_parquet(f"opendata://{DAMAGED}", storage_options=options)
        for shard in direct.manifest(DAMAGED).shards:
            double_x(direct, shard, DAMAGED)
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                scheduler_port=0,
                dashboard_address=None,
            ) as local_cluster,
            Client(local_cluster) as dask_client,
        ):
            yield {
                "url": url,
                "reader": reader,
                "expected": expected,
                "signed": signed,
                "graph": graph,
                "damaged_over_fs": damaged_over_fs.x.sum(),
                "dask": dask_client,
            }


def test_damage_reaches_the_caller_from_a_worker_process(cluster: dict[str, Any]) -> None:
    dask_client = cluster["dask"]
    with pytest.raises(od.CorruptDataError, match=r"me/damaged: .* is corrupt"):
        dask_client.compute(cluster["reader"].to_dask(DAMAGED).x.sum()).result()
    with pytest.raises(od.CorruptDataError, match=r"me/damaged: .* is corrupt"):
        dask_client.compute(cluster["damaged_over_fs"]).result()
    with pytest.raises(od.CorruptDataError, match=r"me/damaged: .* is corrupt"):  # its footers
        dd.read_parquet(f"opendata://{DAMAGED}", storage_options={"registry": cluster["url"]})


def test_a_graph_computed_after_its_links_expired_succeeds(cluster: dict[str, Any]) -> None:
    signed, graph = cluster["signed"], cluster["graph"]
    shipped = pickle.dumps(dict(graph.__dask_graph__()))
    for shard in signed.shards:  # no signed link (nor its signature) travels in the graph
        assert shard.url.encode() not in shipped
        assert shard.url.split("signature=")[1].encode() not in shipped
    while datetime.now(UTC) <= signed.expires_at:  # the links' own expiry, not a guess
        time.sleep(0.5)
    assert httpx.get(signed.shards[0].url).status_code == 403  # the registry refuses them now
    total = cluster["dask"].compute(graph).result()
    assert total == pytest.approx(cluster["expected"].x.sum(), rel=1e-12)
    over_fs = dd.read_parquet(f"opendata://{DATASET}", storage_options={"registry": cluster["url"]})
    assert cluster["dask"].compute(over_fs.x.sum()).result() == pytest.approx(total, rel=1e-12)
