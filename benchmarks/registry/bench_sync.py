"""Full catalogue sync of N generated datasets: local store and moto behind the shaped link.

    uv run python benchmarks/registry/bench_sync.py [--datasets 100000] [--stores local,moto]
        [--databases sqlite,postgres] [--moto-datasets N]

Generates N datasets once (the portal benchmark's synthetic catalogue: metadata.json,
manifest.json and README.md each, ~23 KB a dataset) into ``--data`` (default
``/tmp/opendata-bench-sync``, reused by later runs; delete it afterwards), then times
``opendata-registry sync --json`` (a subprocess, a fresh database each time) from:

* ``local``: the folder itself;
* ``moto``: the same documents uploaded to moto's S3 server, read through the shaped-link proxy
  of ``benchmarks/bench_load.py`` (40 ms round trip, 100 Mbit/s shared by every connection).

on SQLite (a file) and PostgreSQL (a fresh schema in 127.0.0.1:5432/test). Then a second full
sync of the unchanged bucket (the listing: what a restart costs) and a ``--changed`` one (one HEAD
of index.json: what the periodic sync costs). Prints one row per case and PASS/FAIL against the
targets: 100,000 datasets in <= 60 s from the local store and <= 300 s from moto (issue 28).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "portal"))

import bench_load  # noqa: E402 (the moto + shaped-link proxy servers)
from bench_portal import write_catalogue  # noqa: E402 (the synthetic catalogue)

TARGET_LOCAL_S = 60.0
TARGET_MOTO_S = 300.0
TARGET_DATASETS = 100_000
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BIN = Path(sys.executable).parent / "opendata-registry"


def store_for(data: Path, n: int) -> Path:
    """The generated folder store of ``n`` datasets (written once, then reused)."""
    store = data / f"store-{n}"
    done = data / f"store-{n}.done"
    if not done.exists():
        t = time.perf_counter()
        write_catalogue(store, n)
        done.write_text("ok")
        print(f"wrote {n:,} datasets in {time.perf_counter() - t:.0f} s", flush=True)
    return store


def upload(store: Path, servers: bench_load.Servers, n: int) -> None:
    """Copy the first ``n`` datasets' documents into the moto bucket (unshaped, concurrent)."""
    import obstore
    from obstore.store import S3Store

    s3 = S3Store(
        bench_load.BUCKET,
        endpoint=servers.moto_url,
        access_key_id=bench_load.ACCESS_KEY,
        secret_access_key=bench_load.SECRET_KEY,
        region=bench_load.REGION,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    files = sorted((store / "datasets").glob("*/*/*"))
    files = [f for f in files if int(f.parent.name.rsplit("-", 1)[1]) < n]

    async def go() -> None:
        limit = asyncio.Semaphore(32)

        async def one(path: Path) -> None:
            async with limit:
                await obstore.put_async(s3, str(path.relative_to(store)), path.read_bytes())

        await asyncio.gather(*(one(f) for f in files))

    t = time.perf_counter()
    asyncio.run(go())
    print(f"uploaded {len(files):,} objects to moto in {time.perf_counter() - t:.0f} s", flush=True)


def run_sync(env: dict[str, str], *options: str) -> tuple[float, float, dict[str, Any]]:
    """Wall seconds, CPU seconds (the sync process alone: user + system) and its report."""
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(
        [str(BIN), "sync", "--json", "--no-progress", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    took = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"sync failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return took, used, json.loads(done.stdout)


def database(kind: str, home: Path) -> tuple[dict[str, str], str | None]:
    if kind == "sqlite":
        return {"OPENDATA_REGISTRY_DATABASE_URL": f"sqlite+aiosqlite:///{home}/registry.db"}, None
    schema = f"bench_sync_{secrets.token_hex(4)}"
    return {
        "OPENDATA_REGISTRY_DATABASE_URL": PG,
        "OPENDATA_REGISTRY_DATABASE_SCHEMA": schema,
    }, schema


def drop_schema(schema: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(go())


def case(
    name: str, n: int, store_env: dict[str, str], db: str, target: float
) -> list[tuple[str, int, float, float, bool]]:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        home = Path(tmp)
        db_env, schema = database(db, home)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "AWS_", "R2_"))
        }
        env.update(OPENDATA_HOME=str(home / "home"), **store_env, **db_env)
        try:
            took, cpu, report = run_sync(env)
            assert report["datasets"] == n, report
            assert len(report["updated"]) == n, report
            again, _, second = run_sync(env)
            assert not second["updated"], second
            quiet, _, third = run_sync(env, "--changed")
            assert not third["listed"], third
        finally:
            if schema:
                drop_schema(schema)
    # The target is for 100,000 datasets: a smaller run is scaled per dataset.
    scaled = took * TARGET_DATASETS / n
    ok = scaled <= target
    verdict = "PASS" if ok else "FAIL"
    print(
        f"{name:<6} {db:<9} {n:>7,} datasets: full {took:6.1f} s ({took / n * 1e3:.2f} ms each; "
        f"sync process CPU {cpu:.1f} s; load {os.getloadavg()[0]:.1f}), unchanged {again:5.1f} s, "
        f"--changed {quiet:4.1f} s"
        f"  {verdict} (target {target:.0f} s per {TARGET_DATASETS:,})",
        flush=True,
    )
    return [(f"{name}/{db}", n, took, again, ok)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=TARGET_DATASETS)
    ap.add_argument("--moto-datasets", type=int, default=None, help="(default: --datasets)")
    ap.add_argument("--stores", default="local,moto")
    ap.add_argument("--databases", default="sqlite,postgres")
    ap.add_argument("--data", type=Path, default=Path("/tmp/opendata-bench-sync"))
    args = ap.parse_args()
    stores, dbs = args.stores.split(","), args.databases.split(",")
    print(
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, python "
        f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    args.data.mkdir(parents=True, exist_ok=True)
    store = store_for(args.data, args.datasets)
    rows = []
    if "local" in stores:
        for db in dbs:
            rows += case("local", args.datasets, {"OPENDATA_STORE": str(store)}, db, TARGET_LOCAL_S)
    if "moto" in stores:
        n = args.moto_datasets or args.datasets
        servers = bench_load.Servers()
        try:
            servers.create_bucket(bench_load.BUCKET)
            upload(store, servers, n)
            store_env = {
                "OPENDATA_STORE": f"s3://{bench_load.BUCKET}",
                "AWS_ENDPOINT_URL": servers.link_url,
                "AWS_ACCESS_KEY_ID": bench_load.ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": bench_load.SECRET_KEY,
                "AWS_REGION": bench_load.REGION,
                "AWS_ALLOW_HTTP": "true",
            }
            for db in dbs:
                before = servers.traffic(link=True)
                rows += case("moto", n, store_env, db, TARGET_MOTO_S)
                used = servers.traffic(link=True) - before
                print(
                    f"         link: {used.requests:,} requests, "
                    f"{used.bytes_down / 1e6:,.0f} MB down",
                    flush=True,
                )
        finally:
            servers.stop()
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
