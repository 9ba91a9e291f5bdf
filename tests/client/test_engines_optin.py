"""Spark on verified local paths (opt-in: ``uv run --with pyspark pytest -m engines``; pyspark
needs a Java runtime, OpenJDK 17 here).

Spark reads the files ``od.urls(local=True)`` verified, and returns what ``od.load`` returns.
Ray has no test here: its node binds the machine's network address (not only loopback) and did
not start within 10 minutes on this 2-core machine under load.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

import opendata as od

from .engines import DATASET, publish
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
