"""Streaming push benchmark: publish more data than the memory the push may use.

One command, no network::

    uv run python benchmarks/bench_push_stream.py --gb 5               # the target run
    uv run python benchmarks/bench_push_stream.py --gb 0.2 --baseline  # also the in-memory push

The data is generated lazily: a generator of Arrow record batches of 500,000 rows (``ts``
timestamp[us], ``symbol`` one of 50 strings, ``price``, ``bid``, ``ask`` float64, ``volume``
int64: 48 bytes a row in memory) whose times are spread at random over 25 years, so every batch
touches every partition (the input is not sorted by time). ``--gb`` is the size of the rows in
memory (Arrow ``nbytes``); the push shards them by year (auto granularity: about ``gb/25`` per
shard).

Each push runs in its own Python process on a fresh local store under ``--dir`` (default: a
temporary folder, removed afterwards, as is the store); the child reports its peak RSS
(Linux's ``VmHWM``) and its RSS after the imports. ``--baseline`` also runs
``od.push`` of the same rows as one in-memory table (only for small ``--gb``: it needs several
times the data in memory).

Target (issue 26): a 5 GB push with peak RSS at most 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROWS_PER_BATCH = 500_000
ROW_BYTES = 48
YEARS = 25
TARGET_RSS = 1 << 30


def batches(gb: float) -> Iterator[Any]:
    """The generated rows, one record batch at a time (deterministic)."""
    import numpy as np
    import pyarrow as pa

    symbols = pa.array([f"S{i:03d}" for i in range(50)])
    start = np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64)
    span = YEARS * 365 * 86_400 * 1_000_000
    total = int(gb * 1e9 / ROW_BYTES)
    done = 0
    for i in range((total + ROWS_PER_BATCH - 1) // ROWS_PER_BATCH):
        n = min(ROWS_PER_BATCH, total - done)
        rng = np.random.default_rng(i)
        price = rng.lognormal(3, 0.5, n)
        yield pa.record_batch(
            {
                "ts": pa.array(start + rng.integers(0, span, n), pa.timestamp("us")),
                "symbol": symbols.take(pa.array(rng.integers(0, 50, n))),
                "price": price,
                "bid": price - rng.random(n) / 10,
                "ask": price + rng.random(n) / 10,
                "volume": rng.integers(0, 1_000_000, n),
            }
        )
        done += n


def _rss() -> int:
    """Peak RSS of this process in bytes.

    Linux's ``VmHWM`` (the high-water mark of this program's memory), not ``getrusage``'s
    ``ru_maxrss``: that one survives ``exec`` and starts at the parent's size when it forked, so
    a child of a big process (pytest after many tests) reports the parent's peak, not its own.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(mode: str, gb: float, store: Path) -> dict[str, Any]:
    """One push in this process: ``stream`` (the generator) or ``memory`` (one table)."""
    import pyarrow as pa

    import opendata as od

    idle = _rss()
    started = time.perf_counter()
    if mode == "stream":
        data: Any = batches(gb)
    else:
        data = pa.Table.from_batches(list(batches(gb)))
    result = od.Client(store).push(data, "bench/stream", time_column="ts")
    return {
        "mode": mode,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": result.rows,
        "shards": result.stats.shard_count,
        "stored_bytes": result.bytes,
        "idle_rss": idle,
        "peak_rss": _rss(),
    }


def run(mode: str, gb: float, folder: Path) -> dict[str, Any]:
    """``child`` in a fresh Python process; its report."""
    store = folder / f"store-{mode}"
    env = {**os.environ, "TMPDIR": str(folder)}  # the spill files go here too
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--gb", str(gb), "--store", str(store)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"the {mode} push failed:\n{out.stderr[-4000:]}")
    shutil.rmtree(store, ignore_errors=True)
    report: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=5.0, help="GB of rows in memory (nbytes)")
    parser.add_argument("--baseline", action="store_true", help="also the in-memory push")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--child", choices=["stream", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.gb, args.store)))
        return
    args.dir and args.dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-push-stream-", dir=args.dir))
    try:
        reports = [run("stream", args.gb, folder)]
        if args.baseline:
            reports.append(run("memory", args.gb, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mib = 1 << 20
    print(
        f"{datetime.now(UTC):%Y-%m-%d} {platform.node()} {os.cpu_count()} cores, "
        f"{args.gb:g} GB of rows in memory ({reports[0]['rows']:,} rows)"
    )
    for r in reports:
        print(
            f"  {r['mode']:>6}: {r['seconds']:8.1f} s  peak RSS {r['peak_rss'] / mib:7.0f} MiB "
            f"(after imports {r['idle_rss'] / mib:.0f} MiB)  {r['shards']} shards, "
            f"{r['stored_bytes'] / mib:,.0f} MiB stored"
        )
    if args.baseline:
        ratio = reports[0]["peak_rss"] / reports[1]["peak_rss"]
        print(f"  stream/memory peak RSS: {ratio:.2f}")
    verdict = "met" if reports[0]["peak_rss"] <= TARGET_RSS else "MISSED"
    print(f"  target peak RSS <= 1 GiB: {verdict}")


if __name__ == "__main__":
    main()
