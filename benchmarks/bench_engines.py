"""Engines benchmark: one group-by through od.load, od.scan, DuckDB and Dask, verified or not.

One command, no network beyond 127.0.0.1::

    uv run python benchmarks/bench_engines.py             # 6M rows, 24 monthly shards
    uv run python benchmarks/bench_engines.py --quick     # 600k rows, a smoke run

The dataset (generated once, deterministic, kept under ``benchmarks/.data/``) is 24 months of
250,000 rows: ``date``, ``symbol`` (50), ``price``, ``volume``. The query is
``sum(volume), avg(price) GROUP BY symbol``. Every case runs it end to end (listing, reading,
verifying, decoding, aggregating), best of ``--repeats`` after one warm-up run:

* local store: ``od.load`` + pandas, ``od.scan`` + polars, DuckDB and Dask (threads, and a
  ``LocalCluster`` of two workers) through ``opendata://`` / ``od.to_dask`` (every byte
  verified), against the same engines on the raw shard paths (nothing verified; DuckDB both
  natively and through fsspec's local filesystem, the same Python bridge ``opendata://`` uses);
* registry (a real ``opendata-registry`` process serving the same store with its own signed
  links; the client's cache off, so every byte crosses HTTP): the same verified cases, against
  Dask on the raw signed URLs (fsspec's http filesystem).

Target: verification costs at most 1.3x the unverified path of the same engine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # tests/_processes and the registry helper
DATA = HERE / ".data"
DATASET = "bench/ticks"
GENERATOR = 1
TARGET_VERIFY = 1.3
MONTHS = 24


def generate(store: Path, rows_per_month: int) -> None:
    import numpy as np
    import pandas as pd

    import opendata as od

    rng = np.random.default_rng(20261207)
    frames = []
    for m in range(MONTHS):
        first = pd.Timestamp("2024-01-01") + pd.DateOffset(months=m)
        days = pd.date_range(first, first + pd.offsets.MonthEnd(0), freq="D")
        n = rows_per_month
        frames.append(
            pd.DataFrame(
                {
                    "date": days[np.sort(rng.integers(0, len(days), n))].date,
                    "symbol": np.array([f"S{i:02d}" for i in range(50)])[rng.integers(0, 50, n)],
                    "price": rng.random(n) * 100,
                    "volume": rng.integers(0, 10_000, n),
                }
            )
        )
    od.Client(store=store, cache=False).push(
        pd.concat(frames, ignore_index=True), DATASET, time_column="date", partition="month"
    )


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    result = fn()  # warm-up: imports, page cache, the workers' first resolution
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def cases(store: Path, registry: str | None, cluster: Any) -> dict[str, Callable[[], Any]]:
    """The group-by through each engine; ``registry`` set: read through that registry."""
    import dask.dataframe as dd
    import duckdb
    import fsspec
    import polars as pl

    import opendata as od
    from opendata._registry import RegistryTransport

    if registry is None:
        client = od.Client(store=store, cache=False)
        options: dict[str, Any] = {"store": str(store), "cache": False}
        raw = [u.url.removeprefix("file://") for u in client.urls(DATASET)]
    else:
        client = od.Client(RegistryTransport(registry), cache=False)
        options = {"registry": registry, "cache": False}
        raw = [u.url for u in client.urls(DATASET, signed=True)]
    sql = "SELECT symbol, sum(volume), avg(price) FROM read_parquet({}) GROUP BY symbol"

    def pandas_load() -> Any:
        return client.load(DATASET).groupby("symbol").agg({"volume": "sum", "price": "mean"})

    def polars_scan() -> Any:
        lf = client.scan(DATASET).group_by("symbol")
        return lf.agg(pl.col("volume").sum(), pl.col("price").mean()).collect()

    def duckdb_fs() -> Any:
        con = duckdb.connect()
        con.register_filesystem(fsspec.filesystem("opendata", **options))
        return con.sql(sql.format(f"'opendata://{DATASET}/*.parquet'")).fetchall()

    def duckdb_raw() -> Any:
        return duckdb.sql(sql.format(raw)).fetchall()

    plain = _PlainLocal()

    def duckdb_plain() -> Any:
        # The same files through a Python fsspec filesystem that verifies nothing: what DuckDB's
        # filesystem bridge costs by itself, so the pair below isolates verification.
        con = duckdb.connect()
        con.register_filesystem(plain)
        return con.sql(sql.format([f"plainlocal://{p}" for p in raw])).fetchall()

    def group(ddf: Any) -> Any:
        return ddf.groupby("symbol").agg({"volume": "sum", "price": "mean"}, split_out=1)

    def dask_to_dask(scheduler: Any) -> Callable[[], Any]:
        return lambda: group(client.to_dask(DATASET)).compute(scheduler=scheduler)

    def dask_fs(scheduler: Any) -> Callable[[], Any]:
        url = f"opendata://{DATASET}"
        return lambda: group(dd.read_parquet(url, storage_options=options)).compute(
            scheduler=scheduler
        )

    def dask_raw(scheduler: Any) -> Callable[[], Any]:
        return lambda: group(dd.read_parquet(raw)).compute(scheduler=scheduler)

    out: dict[str, Callable[[], Any]] = {
        "od.load + pandas": pandas_load,
        "od.scan + polars": polars_scan,
        "duckdb opendata://": duckdb_fs,
    }
    if registry is None:
        out["duckdb fsspec local (unverified)"] = duckdb_plain
        out["duckdb native paths (unverified)"] = duckdb_raw
    out |= {
        "dask threads od.to_dask": dask_to_dask("threads"),
        "dask threads opendata://": dask_fs("threads"),
        "dask threads raw (unverified)": dask_raw("threads"),
        "dask cluster od.to_dask": dask_to_dask(cluster),
        "dask cluster opendata://": dask_fs(cluster),
        "dask cluster raw (unverified)": dask_raw(cluster),
    }
    return out


def _PlainLocal() -> Any:  # noqa: N802 - a class built on first use (fsspec is imported late)
    from fsspec.implementations.local import LocalFileSystem

    class PlainLocal(LocalFileSystem):  # type: ignore[misc]
        protocol = ("plainlocal",)

        @classmethod
        def _strip_protocol(cls, path: Any) -> Any:
            return super()._strip_protocol(str(path).removeprefix("plainlocal://"))

    return PlainLocal()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="600k rows instead of 6M")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = 25_000 if args.quick else 250_000
    warnings_off()

    home = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    os.environ["OPENDATA_HOME"] = str(home)
    for key in [k for k in os.environ if k.startswith(("OPENDATA_", "AWS_"))]:
        if key != "OPENDATA_HOME":
            del os.environ[key]
    cached = DATA / f"engines-{GENERATOR}-{rows}"
    if not (cached / "datasets" / DATASET / "manifest.json").is_file():
        shutil.rmtree(cached, ignore_errors=True)
        t0 = time.perf_counter()
        generate(cached, rows)
        print(f"generated {rows * MONTHS:,} rows in {time.perf_counter() - t0:.1f} s")
    store = home / "store"
    shutil.copytree(cached, store)

    from distributed import Client, LocalCluster
    from tests.e2e.test_registry_e2e import running_registry

    results: list[tuple[str, str, float]] = []
    answers: dict[str, Any] = {}
    with ExitStack() as stack:
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                host="127.0.0.1",
                scheduler_port=0,
                dashboard_address=None,
            )
        )
        dask_client = stack.enter_context(Client(cluster))
        url = stack.enter_context(running_registry(home))
        for where, registry in (("local", None), ("registry", url)):
            for name, fn in cases(store, registry, dask_client).items():
                seconds, answer = best(fn, args.repeats)
                results.append((where, name, seconds))
                answers[f"{where} {name}"] = answer
                print(f"{where:9} {name:32} {seconds:7.3f} s", flush=True)
    shutil.rmtree(home, ignore_errors=True)

    cpu = platform.processor() or platform.machine()
    print(f"\n{rows * MONTHS:,} rows, {MONTHS} shards; {cpu}, {os.cpu_count()} cores")
    print(f"load {os.getloadavg()[0]:.1f}")
    timing = {(w, n): s for w, n, s in results}
    ok = True
    pairs = [
        ("local", "duckdb opendata://", "duckdb fsspec local (unverified)"),
        ("local", "dask threads opendata://", "dask threads raw (unverified)"),
        ("local", "dask threads od.to_dask", "dask threads raw (unverified)"),
        ("local", "dask cluster opendata://", "dask cluster raw (unverified)"),
        ("local", "dask cluster od.to_dask", "dask cluster raw (unverified)"),
        ("registry", "dask threads opendata://", "dask threads raw (unverified)"),
        ("registry", "dask threads od.to_dask", "dask threads raw (unverified)"),
        ("registry", "dask cluster opendata://", "dask cluster raw (unverified)"),
        ("registry", "dask cluster od.to_dask", "dask cluster raw (unverified)"),
    ]
    for where, verified, unverified in pairs:
        ratio = timing[(where, verified)] / timing[(where, unverified)]
        passed = ratio <= TARGET_VERIFY
        ok &= passed
        print(
            f"{where:9} {verified} / {unverified}: {ratio:.2f}x "
            f"({'PASS' if passed else 'FAIL'} <= {TARGET_VERIFY}x)"
        )
    return 0 if ok else 1


def warnings_off() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message="The inplace keyword")


if __name__ == "__main__":
    sys.exit(main())
