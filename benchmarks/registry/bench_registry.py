"""Registry benchmarks: ``download`` throughput and latency, and search over 100,000 datasets.

    uv run python benchmarks/registry/bench_registry.py [--duration 10] [--skip-search]

1. ``download``: the registry (granian, 2 workers, embedded SQLite and local store, an enterprise
   key whose limits are raised so every request passes the key check, the rate-limit check and
   signing) and a bare Litestar endpoint that only HMAC-signs a string (bare_app.py, granian,
   2 workers) are loaded in the same run by ``wrk`` (Debian package; installed with apt-get when
   missing and running as root) with 50 connections on 127.0.0.1, in alternating rounds as fast
   as each answers (throughput), then both under a bounded load: 50 connections, each pausing
   PACE_MS after every answer (latency). Targets: registry ≥ 50 % of the bare endpoint's
   requests/s; registry p99 ≤ 20 ms under the bounded load.
2. search: 100,000 generated datasets inserted into the registry's tables (SQLite file, then a
   throw-away schema on the PostgreSQL server at 127.0.0.1:5432), then ``CatalogueService.search``
   is timed in-process (the service layer: the SQL, the facets, the page; no HTTP). Target:
   p95 ≤ 50 ms on each backend.

Everything runs on 127.0.0.1; servers are stopped by PID at the end. Each result carries the
share of CPU time the hypervisor gave other guests during its phase (``steal``, from
``/proc/stat``), so that a run slowed by its neighbours can be told from a slow registry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository root: the tests' process helpers

from tests._processes import listening_port  # noqa: E402

CONNECTIONS = 50
ROUNDS = 3
PACE_MS = 50
"""Bounded load: each connection waits this long after a response (≤ 1,000 req/s offered by
50 connections), about half the registry's saturated throughput on the reference machine."""
QUERIES = 300
WORDS = [
    "exchange",
    "rates",
    "prices",
    "inflation",
    "unemployment",
    "weather",
    "rainfall",
    "temperature",
    "energy",
    "power",
    "electricity",
    "gas",
    "oil",
    "trade",
    "exports",
    "imports",
    "population",
    "census",
    "health",
    "hospital",
    "covid",
    "transport",
    "traffic",
    "rail",
    "air",
    "quality",
    "pollution",
    "emissions",
    "carbon",
    "housing",
    "rent",
    "wages",
    "income",
    "tax",
    "budget",
    "debt",
    "bonds",
    "yields",
    "stocks",
    "crypto",
    "bitcoin",
    "futures",
    "agriculture",
    "wheat",
    "corn",
    "water",
    "river",
    "flood",
    "earthquake",
    "ocean",
    "fisheries",
    "forest",
    "land",
    "satellite",
    "elections",
    "votes",
    "crime",
    "police",
]
TOPICS = ["finance", "economy", "climate", "health", "energy", "transport", "society", "science"]
LICENSES = ["CC-BY-4.0", "CC0-1.0", "MIT", "ODbL-1.0", "Public Domain"]
FREQUENCIES = ["daily", "weekly", "monthly", "hourly", "adhoc"]


def cpu_times() -> list[int]:
    """The machine's CPU time counters (``/proc/stat``; empty where there is none)."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return []


def steal_share(before: list[int]) -> float | None:
    """The share of CPU time the hypervisor gave other guests since ``before`` (``cpu_times``).

    On a shared virtual machine a phase can lose a tenth of its CPU to other tenants; reported
    with each result so that a slow run can be told from a slow registry.
    """
    after = cpu_times()
    if len(before) < 8 or len(after) < 8:
        return None
    delta = [b - a for a, b in zip(before, after, strict=True)]
    return delta[7] / max(sum(delta), 1)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return found


def run_wrk(
    wrk: str, url: str, body: str, key: str, duration: int, delay_ms: int | None = None
) -> dict[str, float]:
    """One wrk run after a 3 s warm-up: as fast as the server answers, or paced by delay_ms."""
    env = {**os.environ, "BENCH_BODY": body, "BENCH_KEY": key}
    if delay_ms is not None:
        env["BENCH_DELAY_MS"] = str(delay_ms)
    base = [wrk, "-t2", f"-c{CONNECTIONS}", "--latency", "-s", str(HERE / "post.lua")]
    subprocess.run([*base, "-d3s", url], env=env, check=True, capture_output=True)  # warm-up
    out = subprocess.run(
        [*base, f"-d{duration}s", url], env=env, check=True, capture_output=True, text=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    lat = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    return {
        "rps": rps,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "non_2xx": float(non2xx[1]) if non2xx else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as fh:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# 1. download vs the bare endpoint


def bench_download(tmp: Path, duration: int) -> dict[str, Any]:
    import pandas as pd

    import opendata as od

    wrk = ensure_wrk()
    home = tmp / "home"
    days = pd.date_range("2022-01-01", "2024-12-31", freq="D")
    frame = pd.DataFrame({"date": days.date, "x": range(len(days))})
    od.Client(store=home / "store").push(
        frame, "bench/prices", time_column="date", partition="year"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDATA_")}
    env.update(
        OPENDATA_HOME=str(home),
        OPENDATA_REGISTRY_SYNC_INTERVAL="0",
        OPENDATA_REGISTRY_TIERS=json.dumps({"enterprise": {"requests_per_minute": 10**9}}),
    )
    created = subprocess.run(
        [str(BIN / "opendata-registry"), "keys", "create", "--tier", "enterprise", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = json.loads(created.stdout)["key"]
    # Both bind port 0 and the kernel's answer is read back (no free port picked and hoped free).
    granian = [str(BIN / "granian"), "--interface", "asgi", "--workers", "2", "--host", "127.0.0.1"]
    registry = start(
        [*granian, "--port", "0", "--factory", "opendata_registry.app:create_app"],
        env,
        tmp,
        tmp / "registry.log",
    )
    bare = start(
        [*granian, "--port", "0", "bare_app:app"],
        {**env, "PYTHONPATH": str(HERE)},
        HERE,
        tmp / "bare.log",
    )
    try:
        reg_port = listening_port(registry, "the registry", log=tmp / "registry.log")
        bare_port = listening_port(bare, "the bare endpoint", log=tmp / "bare.log")
        wait_ready(f"http://127.0.0.1:{reg_port}/readyz", registry)
        wait_ready(f"http://127.0.0.1:{bare_port}/schema", bare)
        body = json.dumps({"start": "2024-01-01", "end": "2024-12-31"})
        url = f"http://127.0.0.1:{reg_port}/v1/datasets/bench/prices/download"
        check = httpx.post(url, content=body, headers={"Authorization": f"Bearer {key}"})
        check.raise_for_status()
        assert len(check.json()["shards"]) == 1
        # Alternating rounds (bare, registry, bare, …): a load spike from other work on this
        # shared machine then hits both sides alike; the medians are reported.
        rounds: dict[str, list[dict[str, float]]] = {"bare": [], "download": []}
        counters = cpu_times()
        for _ in range(ROUNDS):
            rounds["bare"].append(
                run_wrk(wrk, f"http://127.0.0.1:{bare_port}/v1/sign", body, "", duration)
            )
            rounds["download"].append(run_wrk(wrk, url, body, key, duration))
        # Latency under a bounded load: at saturation a closed loop's p99 is its queue (50
        # connections / throughput), the machine's before it is the handler's.
        paced = {
            "bare": run_wrk(
                wrk, f"http://127.0.0.1:{bare_port}/v1/sign", body, "", duration, PACE_MS
            ),
            "download": run_wrk(wrk, url, body, key, duration, PACE_MS),
        }
    finally:
        stop(registry)
        stop(bare)
    results: dict[str, Any] = {
        side: {m: statistics.median(r[m] for r in runs) for m in runs[0]}
        for side, runs in rounds.items()
    }
    results["ratio"] = results["download"]["rps"] / results["bare"]["rps"]
    results["round_ratios"] = [
        d["rps"] / b["rps"] for b, d in zip(rounds["bare"], rounds["download"], strict=True)
    ]
    results["rounds"] = rounds
    results["paced"] = {"delay_ms": PACE_MS, **paced}
    results["steal"] = steal_share(counters)
    return results


# ---------------------------------------------------------------------------------------------
# 2. search over 100,000 datasets


VOCABULARY = 4000
"""Distinct words of the generated catalogue: WORDS first (the most common), then pseudo-words."""
_SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
COUNTRIES = [f"c{i:02d}" for i in range(60)]
SCOPES = ["global", "region", "country", "city"]


def _zipf(k: int, offset: float = 2.7) -> list[float]:
    """Cumulative Zipf-Mandelbrot weights ``1 / (rank + offset)`` over ``k`` ranks."""
    total, out = 0.0, []
    for rank in range(1, k + 1):
        total += 1.0 / (rank + offset)
        out.append(total)
    return out


def vocabulary(rng: random.Random) -> list[str]:
    """WORDS, then pronounceable pseudo-words (3 syllables: no word is a prefix of another)."""
    words = list(WORDS)
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(3))
        if word not in seen and not any(word.startswith(w) for w in WORDS):
            seen.add(word)
            words.append(word)
    return words


def _rows(
    n: int, rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """``n`` datasets whose text follows a Zipf law (a few words are common, most are rare).

    Namespaces, topics, licences, frequencies and countries are Zipf-weighted too, so facet
    counts look like a real catalogue's (a few big publishers, a long tail).
    """
    from opendata_core.documents import IndexEntry
    from opendata_registry.db.models import search_stems, search_words

    words = vocabulary(rng)
    cum_words = _zipf(len(words))
    namespaces = [f"org{i}" for i in range(2000)]
    cum_ns, cum_topics = _zipf(len(namespaces), 10.0), _zipf(len(TOPICS), 1.0)
    cum_lic, cum_freq = _zipf(len(LICENSES), 0.5), _zipf(len(FREQUENCIES), 1.0)
    cum_geo = _zipf(len(COUNTRIES), 2.0)

    def pick(items: list[str], cum: list[float], k: int) -> list[str]:
        return rng.choices(items, cum_weights=cum, k=k)

    now = datetime.now(UTC)
    datasets, tags = [], []
    for i in range(n):
        ns = pick(namespaces, cum_ns, 1)[0]
        name = "-".join(pick(words, cum_words, 2)) + f"-{i}"
        title = " ".join(pick(words, cum_words, rng.randint(3, 5))).capitalize()
        description = " ".join(pick(words, cum_words, rng.randint(12, 25)))
        topics = sorted(set(pick(TOPICS, cum_topics, rng.randint(1, 3))))
        countries = sorted(set(pick(COUNTRIES, cum_geo, rng.randint(0, 2))))
        scope = rng.choice(SCOPES)
        updated = now - timedelta(days=rng.randrange(3000), seconds=rng.randrange(86400))
        first = 2000 + rng.randrange(24)
        entry = IndexEntry(
            id=f"{ns}/{name}",
            title=title,
            description=description,
            license=pick(LICENSES, cum_lic, 1)[0],
            repo=f"https://github.com/{ns}/{name}",
            provider="Generated",
            topics=topics,
            frequency=pick(FREQUENCIES, cum_freq, 1)[0],
            row_count=rng.randrange(10**6),
            updated_at=updated,
        )
        datasets.append(
            {
                "pk": i + 1,
                "id": entry.id,
                "namespace": ns,
                "title": title,
                "description": description,
                "topics_text": " ".join(topics),
                # The index texts the registry computes when it writes a dataset (given here:
                # a multi-row insert computes no column default).
                "search_stems": search_stems(entry.id, title, description, " ".join(topics)),
                "search_words": search_words(entry.id, title, description, " ".join(topics)),
                "license": entry.license,
                "frequency": entry.frequency,
                "updated_at": updated,
                "min_time": f"{first}-01-01",
                "max_time": f"{rng.randrange(first, 2026)}-12-31",
                "publish_id": secrets.token_hex(8),
                "published_at": updated,
                "entry_json": json.dumps(__import__("msgspec").to_builtins(entry)),
                "metadata_json": "{}",
                "manifest_json": "{}",
                "readme": "",
                "manifest_etag": "",
                "metadata_etag": "",
                "readme_etag": "",
                "synced_at": now,
            }
        )
        values = [("topic", t) for t in topics] + [("geo", scope)]
        values += [("geo", c) for c in countries]
        tags += [{"dataset_pk": i + 1, "facet": f, "value": v} for f, v in values]
    return datasets, tags, words


def _queries(rng: random.Random, n: int, words: list[str]) -> list[dict[str, Any]]:
    """A query mix: common words (matching many datasets), mid and rare words, filters, pages.

    Query words follow the same Zipf law as the text, over the 2,000 most common words, so the
    head (WORDS) is asked for often, as in a real search log.
    """
    cum = _zipf(2000)

    def word() -> str:
        return rng.choices(words[:2000], cum_weights=cum)[0]

    def typo() -> str:
        w = rng.choice([w for w in WORDS if len(w) >= 5])
        j = rng.randrange(1, len(w) - 2)
        return w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # two letters swapped

    out: list[dict[str, Any]] = []
    for i in range(n):
        kind = i % 9
        if kind == 0:
            out.append({"q": word()})
        elif kind == 1:
            out.append({"q": rng.choice(WORDS[:10])})  # always a very common word
        elif kind == 2:
            out.append({"q": f"{word()} {word()}"})
        elif kind == 3:
            out.append({"q": word(), "topic": rng.choice(TOPICS)})
        elif kind == 4:
            out.append({"namespace": f"org{rng.randrange(50)}", "sort": "name"})
        elif kind == 5:
            out.append({"q": "", "sort": "updated", "page": rng.randrange(1, 20)})
        elif kind == 6:
            out.append({"license": rng.choice(LICENSES), "frequency": rng.choice(FREQUENCIES)})
        elif kind == 7:
            out.append({"q": word(), "geo": rng.choice(COUNTRIES[:10]), "sort": "updated"})
        else:
            out.append({"q": typo()})
    return out


def _kind(params: dict[str, Any], total: int) -> str:
    """A query's class for the report: text or not, filtered or not, and how many hits."""
    if params.get("q") and total == 0:
        return "q no hits (typos: suggested)"
    text = "q" if params.get("q") else "no-q"
    filtered = any(k in params for k in ("topic", "namespace", "license", "frequency", "geo"))
    size = "<1k" if total < 1000 else "1k-10k" if total <= 10_000 else ">10k"
    return f"{text}{'+filter' if filtered else ''} {size} hits"


async def _search_backend(
    database_url: str, schema: str | None, tmp: Path, n: int, n_queries: int
) -> dict[str, Any]:
    from sqlalchemy import insert, text

    from opendata_registry.db.models import Dataset, DatasetTag
    from opendata_registry.domain.catalogue.services import CatalogueService, SearchQuery
    from opendata_registry.infra.settings import Settings

    settings = Settings.from_env(
        {
            "OPENDATA_HOME": str(tmp / "search-home"),
            "OPENDATA_REGISTRY_DATABASE_URL": database_url,
            **({"OPENDATA_REGISTRY_DATABASE_SCHEMA": schema} if schema else {}),
        },
        persist_secret=False,
    )
    from opendata_registry.db.engine import create_engine, migrate, session_factory

    engine = create_engine(settings.database_url, schema=schema)
    try:
        await migrate(engine, schema=schema)
        sessions = session_factory(engine)
        rng = random.Random(42)
        datasets, tags, words = _rows(n, rng)
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            # Multi-row statements (one per 1,000 datasets), as a bulk load would write: the
            # PostgreSQL triggers that count the catalogue's words run once per statement.
            for i in range(0, n, 1000):
                await session.execute(insert(Dataset).values(datasets[i : i + 1000]))
            for i in range(0, len(tags), 10000):
                await session.execute(insert(DatasetTag), tags[i : i + 10000])
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        load_s = time.perf_counter() - started
        print(f"{engine.dialect.name}: {n:,} rows in {load_s:.1f} s", file=sys.stderr, flush=True)
        timings = []
        queries = _queries(random.Random(7), n_queries, words)
        hits: list[int] = []
        suggested = 0
        by_kind: dict[str, list[float]] = {}
        counters = cpu_times()
        async with sessions() as session:
            service = CatalogueService(session, settings)
            for params in queries[:5]:  # warm the caches
                await service.search(SearchQuery(**params))
            for done, params in enumerate(queries, 1):
                if done % 50 == 0:
                    print(f"  {done} queries", file=sys.stderr, flush=True)
                t0 = time.perf_counter()
                result = await service.search(SearchQuery(**params))
                timings.append((time.perf_counter() - t0) * 1000)
                hits.append(result.total)
                suggestion = getattr(result, "suggestion", None)  # None before issue 25
                suggested += suggestion is not None
                kind = _kind(params, result.total)
                by_kind.setdefault(kind, []).append(timings[-1])
        timings.sort()
        hits.sort()
        return {
            "datasets": n,
            "queries": len(timings),
            "load_s": round(load_s, 1),
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
            "max_ms": round(timings[-1], 2),
            "steal": steal_share(counters),
            "suggested": suggested,
            "hits": {
                "min": hits[0],
                "p50": hits[len(hits) // 2],
                "p90": hits[int(len(hits) * 0.9)],
                "max": hits[-1],
                "over_10000": sum(h > 10_000 for h in hits),
            },
            "by_kind": {
                k: {
                    "n": len(v),
                    "p50_ms": round(statistics.median(v), 1),
                    "max_ms": round(max(v), 1),
                }
                for k, v in sorted(by_kind.items())
            },
        }
    finally:
        if schema and engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


def bench_search(
    tmp: Path, n: int, pg_url: str | None, n_queries: int, backends: list[str]
) -> dict[str, Any]:
    out = {}
    if "sqlite" in backends:
        out["sqlite"] = asyncio.run(
            _search_backend(f"sqlite+aiosqlite:///{tmp / 'search.db'}", None, tmp, n, n_queries)
        )
        print(json.dumps({"sqlite": out["sqlite"]}), file=sys.stderr, flush=True)
    if pg_url and "postgresql" in backends:
        schema = f"bench_{secrets.token_hex(4)}"
        out["postgresql"] = asyncio.run(_search_backend(pg_url, schema, tmp, n, n_queries))
    return out


def machine() -> dict[str, str]:
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in lscpu.splitlines()
                if ln.startswith("Model name")
            ),
            "",
        )
    except OSError:
        pass
    return {
        "date": subprocess.run(
            ["date", "-u"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
    }


def _stolen(share: float | None) -> str:
    return "" if share is None else f"; hypervisor steal {share:.0%} of CPU time"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--queries", type=int, default=QUERIES, help="timed search queries")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="search backends, comma-separated"
    )
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-download", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="od-bench-registry-") as tmp:
        if not args.skip_download:
            results["download"] = bench_download(Path(tmp), args.duration)
            print(json.dumps({"download": results["download"]}), file=sys.stderr, flush=True)
        if not args.skip_search:
            results["search"] = bench_search(
                Path(tmp),
                args.datasets,
                args.pg_url or None,
                args.queries,
                args.backends.split(","),
            )
    print(json.dumps(results, indent=2))
    ok = True
    if "download" in results:
        d = results["download"]
        paced = d["paced"]["download"]
        ok &= d["ratio"] >= 0.5 and paced["p99_ms"] <= 20
        ok &= not d["download"]["non_2xx"] and not paced["non_2xx"]
        print(
            f"download: {d['download']['rps']:.0f} req/s = {d['ratio']:.0%} of bare "
            f"({d['bare']['rps']:.0f}), p99 {d['download']['p99_ms']:.1f} ms at saturation; "
            f"bounded load ({paced['rps']:.0f} req/s over {CONNECTIONS} connections): "
            f"p99 {paced['p99_ms']:.1f} ms, bare {d['paced']['bare']['p99_ms']:.1f} ms"
            f" (targets ≥ 50 %, p99 ≤ 20 ms){_stolen(d['steal'])}"
        )
    for backend, s in results.get("search", {}).items():
        ok &= s["p95_ms"] <= 50 and s["max_ms"] <= 150
        print(
            f"search {backend}: p95 {s['p95_ms']} ms, max {s['max_ms']} ms over"
            f" {s['datasets']:,} datasets, {s['suggested']} suggestions"
            f" (targets p95 ≤ 50 ms, max ≤ 150 ms){_stolen(s['steal'])}"
        )
    print("PASS" if ok else "FAIL: a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
