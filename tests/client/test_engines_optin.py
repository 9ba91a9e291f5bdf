"""Spark and Ray on verified local paths (opt-in: ``uv run --with pyspark --with 'ray[data]'
pytest -m engines``; pyspark needs a Java runtime, OpenJDK 17 here).

Both read the files ``od.urls(local=True)`` verified, and return what ``od.load`` returns; Ray
also reads through ``opendata://`` and meets damage there as ``CorruptDataError``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

import opendata as od

from .engines import DATASET, double_x, publish
from .test_engines_guide import RATES, blocks, publish_rates

pytestmark = pytest.mark.engines


@pytest.fixture
def spark(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    pytest.importorskip("pyspark", reason="pyspark is not installed (uv run --with pyspark ...)")
    from pyspark.sql import SparkSession

    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_reads_verified_local_paths(spark: object, tmp_path: Path) -> None:
    client = od.Client(store=tmp_path / "store")
    publish(client)
    files = [u.url for u in client.urls(DATASET, local=True)]
    rows = spark.read.parquet(*files).groupBy("symbol").sum("x").collect()  # type: ignore[attr-defined]
    expected = client.load(DATASET).groupby("symbol").x.sum()
    assert {r["symbol"]: r["sum(x)"] for r in rows} == pytest.approx(expected.to_dict(), rel=1e-12)


def test_the_guides_spark_example_runs(
    spark: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "store"))
    publish_rates(tmp_path / "store")
    (code,) = blocks(tested=False)
    namespace: dict[str, object] = {"od": od}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "consumer-guide.md", "exec"), namespace)
    assert len(namespace["files"]) == len(od.urls(RATES))  # type: ignore[arg-type]


@pytest.fixture
def ray() -> Iterator[object]:
    ray = pytest.importorskip("ray", reason="ray is not installed (uv run --with 'ray[data]' ...)")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_reads_local_paths_and_the_filesystem(ray: object, tmp_path: Path) -> None:
    import fsspec
    import pyarrow.fs

    store = tmp_path / "store"
    client = od.Client(store=store)
    manifest = publish(client)
    expected = client.load(DATASET)["x"].sum()
    files = [u.url.removeprefix("file://") for u in client.urls(DATASET, local=True)]
    local = ray.data.read_parquet(files).to_pandas()  # type: ignore[attr-defined]
    assert local["x"].sum() == pytest.approx(expected, rel=1e-12)
    fs = pyarrow.fs.PyFileSystem(
        pyarrow.fs.FSSpecHandler(fsspec.filesystem("opendata", store=str(store)))
    )
    paths = fsspec.filesystem("opendata", store=str(store)).ls(DATASET, detail=False)
    through = ray.data.read_parquet(paths, filesystem=fs).to_pandas()  # type: ignore[attr-defined]
    assert through["x"].sum() == pytest.approx(expected, rel=1e-12)
    for shard in manifest.shards:
        double_x(client, shard)
    with pytest.raises(Exception, match=r"CorruptDataError|is corrupt"):
        ray.data.read_parquet(paths, filesystem=fs).to_pandas()  # type: ignore[attr-defined]
