"""Measure format-1.1 verification schemes (decision 0004): hashing cost, manifest growth, bytes.

Writes the benchmark's ten-year panel as the client writes shards (one per year, and one per day
for the worst case of manifest size) and compares, for chunk-aligned blocks and for fixed
256 KiB / 64 KiB blocks: the bytes a two-column load and a one-month load must fetch to verify
what they decode, the time to hash, and the manifest's size.

    uv run python benchmarks/measure_blocks.py [--rows 2001844]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import TWO_COLUMNS, generate

from opendata import _arrow
from opendata._parquet_layout import chunks, footer_start, shard_blocks
from opendata_core.blocks import block_starts, coalesce, covering, hash_blocks
from opendata_core.documents import Block, Field, Manifest, Shard, encode_document


def fixed_blocks(data: memoryview, size: int, footer: int) -> list[Block]:
    """The issue's first scheme: the footer as one block, the rest cut every ``size`` bytes."""
    return hash_blocks(data, [*range(size, footer, size), footer])


def moved(blocks: list[Block], ranges: list[tuple[int, int]]) -> int:
    starts = block_starts(blocks)
    widened = [covering(blocks, a, b, starts)[2:] for a, b in ranges]
    return sum(b - a for a, b in coalesce(widened, 0))


def timed(fn, repeats: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def manifest_bytes(shards: list[Shard]) -> int:
    m = Manifest(
        dataset_id="bench/ohlcv",
        publish_id="x",
        published_at="2026-11-25T00:00:00Z",  # type: ignore[arg-type]
        time_column="date",
        schema=[Field(name="date", type="date32[day]")],
        schema_hash="0" * 64,
        row_count=0,
        bytes=0,
        shards=shards,
    )
    return len(encode_document(m))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_001_844)
    args = ap.parse_args()
    table, _ = generate(args.rows)
    years = pc.year(table.column("date"))
    month = (date(2023, 3, 1), date(2023, 3, 31))
    schemes = {"chunk-aligned": None, "fixed 256 KiB": 256 << 10, "fixed 64 KiB": 64 << 10}
    need = {"two columns": 0, "one month": 0}
    got = {(s, q): 0 for s in schemes for q in need}
    t_whole = t_blocks = 0.0
    shards: dict[str, list[Shard]] = {s: [] for s in ["none", *schemes]}
    total = 0
    for y in sorted(set(years.to_pylist())):
        part = table.filter(pc.equal(years, y))
        buf = _arrow.write_parquet(part)
        data = memoryview(buf)
        total += len(data)
        meta = pq.ParquetFile(pa.BufferReader(buf)).metadata
        footer = footer_start(data[-8:], len(data))
        cs = chunks(meta)
        two = [(c.start, c.end) for c in cs if c.column in TWO_COLUMNS] + [(footer, len(data))]
        rgs = set()
        for rg in range(meta.num_row_groups):
            st = meta.row_group(rg).column(0).statistics
            if st.min <= month[1] and st.max >= month[0]:
                rgs.add(rg)
        mon = [(c.start, c.end) for c in cs if c.row_group in rgs] + (
            [(footer, len(data))] if rgs else []
        )
        need["two columns"] += sum(b - a for a, b in coalesce(two, 0))
        need["one month"] += sum(b - a for a, b in coalesce(mon, 0))
        t_whole += timed(lambda data=data: hashlib.sha256(data).hexdigest())
        t_blocks += timed(lambda buf=buf: shard_blocks(buf))
        for name, size in schemes.items():
            blocks = shard_blocks(buf) if size is None else fixed_blocks(data, size, footer)
            got[(name, "two columns")] += moved(blocks, two)
            if mon:
                got[(name, "one month")] += moved(blocks, mon)
            base = Shard(
                path="parts/" + "0" * 64 + ".parquet",
                sha256="0" * 64,
                rows=part.num_rows,
                bytes=len(data),
                partition=str(y),
                min="2023-01-01",
                max="2023-12-31",
            )
            shards[name].append(msgspec_replace(base, blocks))
        shards["none"].append(base)
    print(f"{table.num_rows:,} rows, {len(shards['none'])} year shards, {total / 1e6:.1f} MB")
    print(
        f"hash: sha256 of whole shards {t_whole * 1e3:.1f} ms; chunk-aligned blocks (footer parse"
        f" + sha256 of every block) {t_blocks * 1e3:.1f} ms"
    )
    for q, n in need.items():
        print(f"{q}: needed (chunks + footer) {n / 1e6:.2f} MB")
        for s in schemes:
            print(f"  {s:14s} moves {got[(s, q)] / 1e6:.2f} MB = {got[(s, q)] / n:.3f}x")
    for s in ["none", *schemes]:
        n_blocks = sum(len(x.blocks) for x in shards[s])
        print(f"manifest ({s}): {manifest_bytes(shards[s]):,} bytes, {n_blocks} blocks")
    # Worst case: a daily-partitioned ten-year dataset, one shard per day.
    day = table.filter(pc.equal(table.column("date"), pa.scalar(date(2023, 3, 1))))
    dbuf = _arrow.write_parquet(day)
    dblocks = shard_blocks(dbuf, min_bytes=0)
    dshard = Shard(
        path="parts/" + "0" * 64 + ".parquet",
        sha256="0" * 64,
        rows=day.num_rows,
        bytes=dbuf.size,
        partition="2023-03-01",
        min="2023-03-01",
        max="2023-03-01",
    )
    n = 3653
    plain = manifest_bytes([dshard] * n)
    with_blocks = manifest_bytes([msgspec_replace(dshard, dblocks)] * n)
    print(
        f"daily shards ({n}, {len(dblocks)} blocks each, {dbuf.size:,} B each): manifest "
        f"{plain:,} -> {with_blocks:,} bytes (+{(with_blocks - plain) / plain:.0%})"
    )


def msgspec_replace(shard: Shard, blocks: list[Block]) -> Shard:
    import msgspec

    return msgspec.structs.replace(shard, blocks=blocks)


if __name__ == "__main__":
    main()
