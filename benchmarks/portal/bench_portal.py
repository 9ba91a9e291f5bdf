"""Portal render time with 10,000 datasets in the catalogue (one command, nothing to start).

    uv run python benchmarks/portal/bench_portal.py [--datasets 10000] [--requests 300]

Writes a synthetic catalogue (metadata.json + manifest.json + README.md per dataset, written with
core's document types; no shards: the portal and the registry's catalogue never read them) into a
temporary OPENDATA_HOME, runs `opendata-registry sync`, starts the registry (granian, 1 worker)
and the portal (`opendata-portal serve`, 1 worker) as subprocesses on 127.0.0.1, then requests
search pages (varied keywords, filters, sorts, pages) and dataset pages one at a time.

Server-side times come from the portal's `Server-Timing` header (`app`: the whole request in the
portal, `registry`: the longest registry call it waited for); the registry's own API latency is
measured directly for the same calls. Prints p50/p95/p99 and PASS/FAIL against p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.portal import live  # noqa: E402

from opendata_core.documents import (  # noqa: E402
    Field,
    Manifest,
    MetadataDocument,
    Provenance,
    Shard,
    encode_document,
    schema_hash,
)
from opendata_core.ids import DatasetId  # noqa: E402
from opendata_core.layout import Layout  # noqa: E402
from opendata_core.metadata import DatasetMetadata, Geo, Source  # noqa: E402
from opendata_core.profile import Profile  # noqa: E402

TOPICS = ["finance", "climate", "energy", "health", "transport", "demographics", "trade", "housing"]
WORDS = ["rates", "prices", "emissions", "population", "traffic", "exports", "yields", "index"]
LICENSES = ["CC-BY-4.0", "CC0-1.0", "MIT", "ODbL-1.0", "OGL-UK-3.0"]
FREQS = ["daily", "weekly", "monthly", "yearly"]


def _profile_template(schema: list[Field]) -> Profile:
    """Column statistics of a real 1,000-row table (the client's code), shared by every dataset."""
    import datetime as dt

    import pyarrow as pa

    from opendata._profile import profile_table

    days = [dt.date(2022, 1, 1) + dt.timedelta(days=d) for d in range(1000)]
    table = pa.table(
        {
            "date": days,
            "value": [d * 1.5 for d in range(1000)],
            "count": pa.array([d % 97 for d in range(1000)], pa.int64()),
            "region": [f"region-{d % 12}" for d in range(1000)],
            "note": [None if d % 5 else f"revised {d}" for d in range(1000)],
        }
    )
    return profile_table(
        table, publish_id="x", time_column="date", types={f.name: f.type for f in schema}
    )


def write_catalogue(store: Path, n: int) -> list[str]:
    rng = random.Random(7)
    layout = Layout()
    schema = [
        Field(name="date", type="date32[day]", nullable=False),
        Field(name="value", type="double"),
        Field(name="count", type="int64"),
        Field(name="region", type="string"),
        Field(name="note", type="string"),
    ]
    profile = _profile_template(schema)
    ids = []
    now = datetime.now(UTC)
    for i in range(n):
        ds = DatasetId.parse(f"ns{i % 400}/dataset-{i}")
        ids.append(str(ds))
        topic, word = rng.choice(TOPICS), rng.choice(WORDS)
        meta = DatasetMetadata(
            id=str(ds),
            title=f"{topic.title()} {word} series {i}",
            description=f"Synthetic {word} for {topic}, number {i}, for the portal benchmark.",
            license=rng.choice(LICENSES),
            repo=f"https://github.com/{ds.namespace}/{ds.name}",
            source=Source(provider=f"Provider {i % 50}"),
            topics=[topic, rng.choice(TOPICS)],
            geo=Geo(scope=rng.choice(["global", "country", "region"])),
            frequency=rng.choice(FREQS),
            time_column="date",
        )
        start = 1990 + rng.randrange(30)
        published = now - timedelta(hours=rng.randrange(24 * 400))
        shard = Shard(
            path="parts/" + "0" * 64 + ".parquet",
            sha256="0" * 64,
            rows=1000,
            bytes=50_000,
            partition="all",
            min=f"{start}-01-01",
            max="2025-06-30",
        )
        manifest = Manifest(
            dataset_id=str(ds),
            publish_id=f"{i:032x}",
            published_at=published,
            time_column="date",
            schema=schema,
            schema_hash=schema_hash(schema),
            row_count=1000,
            bytes=50_000,
            min_time=f"{start}-01-01",
            max_time="2025-06-30",
            shards=[shard],
        )
        # The new blocks of the dataset page: first and last rows, column statistics.
        rows = [
            {
                "date": f"2025-06-{d % 30 + 1:02d}",
                "value": d * 1.5,
                "count": d % 97,
                "region": f"region-{d % 12}",
                "note": None if d % 5 else "a long note " * 5,
            }
            for d in range(100)
        ]
        doc = MetadataDocument(
            dataset=meta,
            stats=manifest.stats(),
            schema=schema,
            preview=rows,
            preview_head=rows,
            profile=msgspec.structs.replace(profile, publish_id=manifest.publish_id),
            updated_at=published,
            provenance=Provenance(repo=meta.repo),
        )
        folder = store / layout.dataset_prefix(ds)
        folder.mkdir(parents=True, exist_ok=True)
        (store / layout.manifest(ds)).write_bytes(encode_document(manifest))
        (store / layout.metadata(ds)).write_bytes(encode_document(doc))
        (store / layout.readme(ds)).write_text(
            f"# {meta.title}\n\n{meta.description}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
        )
    return ids


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timing(header: str) -> tuple[float, float]:
    m = re.match(r"app;dur=([\d.]+), registry;dur=([\d.]+)", header)
    assert m, header
    return float(m[1]), float(m[2])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(11)
    # The synced catalogue is kept (benchmarks/.data is git-ignored): the first sync of 10,000
    # datasets takes minutes.
    # v2: metadata.json with preview_head and profile (issue 25).
    home = ROOT / "benchmarks" / ".data" / f"portal-v2-{args.datasets}"
    env = live.clean_env(home)
    ready = home / "synced"
    if ready.exists():
        ids = json.loads(ready.read_text())
    else:
        t = time.perf_counter()
        ids = write_catalogue(home / "opendata" / "store", args.datasets)
        print(f"wrote {len(ids):,} datasets in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        live.run([str(live.BIN / "opendata-registry"), "sync"], env)
        print(f"registry sync in {time.perf_counter() - t:.1f} s", flush=True)
        ready.write_text(json.dumps(ids))
    if True:
        key = json.loads(
            live.run(
                [
                    str(live.BIN / "opendata-registry"),
                    "keys",
                    "create",
                    "--tier",
                    "enterprise",
                    "--json",
                ],
                env,
            ).stdout
        )["key"]
        with (
            live.server(
                live.registry_command(0),
                dict(env, OPENDATA_REGISTRY_SYNC_INTERVAL="0"),
                "/healthz",
                home / "registry.log",
            ) as registry,
            live.server(
                [str(live.BIN / "opendata-portal"), "serve", "--port", "0"],
                dict(
                    env,
                    OPENDATA_PORTAL_REGISTRY_URL=registry,
                    OPENDATA_PORTAL_API_KEY=key,
                    OPENDATA_PORTAL_TIMEOUT="60",
                ),
                "/-/healthz",
                home / "portal.log",
            ) as portal,
        ):
            searches = []
            for _ in range(args.requests):
                params = {}
                if rng.random() < 0.7:
                    params["q"] = rng.choice(WORDS + TOPICS)
                if rng.random() < 0.4:
                    params["topic"] = rng.choice(TOPICS)
                if rng.random() < 0.3:
                    params["license"] = rng.choice(LICENSES)
                if rng.random() < 0.2:
                    params["covers_from"] = "2000"
                params["sort"] = rng.choice(["", "updated", "name"])
                if rng.random() < 0.3:
                    params["page"] = str(rng.randrange(1, 5))
                searches.append({k: v for k, v in params.items() if v})
            pages = [rng.choice(ids) for _ in range(args.requests)]
            results: dict[str, dict[str, list[float]]] = {
                "search": {"app": [], "registry": [], "client": [], "api": []},
                "dataset": {"app": [], "registry": [], "client": [], "api": []},
            }
            h = {"Authorization": f"Bearer {key}"}
            with httpx.Client(timeout=120) as client:
                for warm in range(20):  # templates compiled, pools open
                    client.get(portal + "/", params={"q": "rates"})
                    client.get(portal + "/" + ids[warm])
                for params in searches:
                    t = time.perf_counter()
                    r = client.get(portal + "/", params=params)
                    results["search"]["client"].append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (params, r.status_code, r.text[-600:])
                    app, reg = timing(r.headers["server-timing"])
                    results["search"]["app"].append(app)
                    results["search"]["registry"].append(reg)
                    t = time.perf_counter()
                    client.get(
                        registry + "/v1/datasets", params=dict(params, per_page="20"), headers=h
                    )
                    results["search"]["api"].append((time.perf_counter() - t) * 1000)
                for ds in pages:
                    t = time.perf_counter()
                    r = client.get(portal + "/" + ds)
                    results["dataset"]["client"].append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (ds, r.status_code)
                    app, reg = timing(r.headers["server-timing"])
                    results["dataset"]["app"].append(app)
                    results["dataset"]["registry"].append(reg)
                    t = time.perf_counter()
                    client.get(registry + "/v1/datasets/" + ds, headers=h)
                    results["dataset"]["api"].append((time.perf_counter() - t) * 1000)
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}"
    )
    print(
        f"{args.datasets:,} datasets, {args.requests} requests per page type, "
        "sequential, loopback\n"
    )
    print(f"{'page':8} {'measure':36} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    labels = {
        "app": "portal server-side (Server-Timing app)",
        "registry": "  of which waiting on the registry",
        "api": "registry API alone (GET from client)",
        "client": "portal as seen by the client",
        "own": "portal's own time (app - registry)",
    }
    ok = True
    for page, measures in results.items():
        measures["own"] = [
            a - r for a, r in zip(measures["app"], measures["registry"], strict=True)
        ]
        for name in ("app", "registry", "own", "api", "client"):
            v = measures[name]
            print(
                f"{page:8} {labels[name]:36} {statistics.median(v):8.1f} "
                f"{pct(v, 95):8.1f} {pct(v, 99):8.1f}"
            )
        p95 = pct(measures["app"], 95)
        ok &= p95 <= 50
        print(f"{page:8} portal's own p95: {pct(measures['own'], 95):.1f} ms")
        print(
            f"{page:8} target p95 <= 50 ms server-side: "
            f"{'PASS' if p95 <= 50 else 'FAIL'} ({p95:.1f} ms)\n"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
