"""Dask on a cluster reading through a registry whose links expire.

A real registry process (its own HMAC-signed links, which it refuses once expired; the anonymous
tier's expiry set to one minute) and a ``distributed.LocalCluster`` of two worker processes on
127.0.0.1. The graph is built first and computed only after every link the building process was
given has expired; damage found in a worker reaches the caller as ``CorruptDataError``.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dask.dataframe as dd
import httpx
import pytest

import opendata as od
from opendata._registry import RegistryTransport
from opendata._verified_file import _RECENT
from tests.client.engines import DATASET, double_x, publish
from tests.e2e.test_registry_e2e import running_registry

DAMAGED = "me/damaged"

pytestmark = pytest.mark.filterwarnings(
    # Dask 2026.8's own read_parquet calls reset_index(inplace=True), which pandas 3.1 deprecates.
    "ignore:The inplace keyword in DataFrame.reset_index"
)


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
    _RECENT.clear()  # as a process that has not read these shards before
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
