"""The decode path of ``od.load`` on honest shards, local store (issue 21 §1, decision 0014).

One command, no network::

    uv run python benchmarks/bench_decode.py               # 2M rows, 7 runs per case
    uv run python benchmarks/bench_decode.py --rows 300000 --repeats 3

Publishes a deterministic daily panel (ten years, ~550 symbols, 7 columns, partitioned by year:
ten shards of ~200k rows) into a temporary local folder store once, then times, round-robin,
``od.load`` of everything, of one year, of two columns and of a filtered read, all with the cache
off (so every run fetches, verifies and decodes), and the in-memory floor: ``pq.read_table`` of
the same shards' bytes. Prints the median and the spread of each case; docs/benchmarks.md keeps
the results.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

SEED = 20261207


def panel(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    days = 3653
    symbols = max(1, rows // days)
    dates = pd.date_range(date(2015, 7, 1), periods=days, freq="D")
    n = days * symbols
    close = rng.lognormal(4, 0.5, n)
    return pd.DataFrame(
        {
            "date": np.repeat(dates.values, symbols),
            "symbol": np.tile([f"S{i:04d}" for i in range(symbols)], days),
            "open": close * rng.uniform(0.98, 1.02, n),
            "high": close * 1.03,
            "low": close * 0.97,
            "close": close,
            "volume": rng.integers(0, 10_000_000, n),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq

    import opendata as od

    with tempfile.TemporaryDirectory(prefix="od-bench-decode-") as tmp:
        store = Path(tmp) / "store"
        writer = od.Client(store=store, cache=False)
        df = panel(args.rows)
        writer.push(df, "bench/panel", time_column="date", partition="year")
        client = od.Client(store=store, cache=False)
        manifest = client.manifest("bench/panel")
        blobs = [(store / "datasets/bench/panel" / s.path).read_bytes() for s in manifest.shards]
        cases: dict[str, Callable[[], Any]] = {
            "floor: pq.read_table of the shards' bytes": lambda: pa.concat_tables(
                [pq.read_table(pa.BufferReader(b)) for b in blobs]
            ),
            "od.load(format='arrow'), everything": lambda: client.load(
                "bench/panel", format="arrow"
            ),
            "od.load(format='arrow'), one year": lambda: client.load(
                "bench/panel", start="2023-01-01", end="2023-12-31", format="arrow"
            ),
            "od.load(format='arrow'), two columns": lambda: client.load(
                "bench/panel", columns=["date", "close"], format="arrow"
            ),
            "od.load(format='arrow'), filter volume < 1e6": lambda: client.load(
                "bench/panel", filters=[("volume", "<", 1_000_000)], format="arrow"
            ),
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        for fn in cases.values():  # warm-up
            fn()
        for _ in range(args.repeats):
            for name, fn in cases.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        print(
            f"{args.rows:,} rows requested, {manifest.row_count:,} published in "
            f"{len(manifest.shards)} shards ({manifest.bytes:,} bytes); {args.repeats} runs"
        )
        for name, ts in times.items():
            print(f"{name:<50} median {statistics.median(ts):.3f} s  ({min(ts):.3f}-{max(ts):.3f})")


if __name__ == "__main__":
    main()
