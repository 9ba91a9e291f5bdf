"""Benchmark: a signed shard GET through the edge gateway (``wrangler dev --local``) against the
registry's own ``/files`` route, and a cached against an uncached read at the edge.

One command (after ``npm ci`` in packages/opendata-worker):
``uv run python benchmarks/gateway/bench_gateway.py [--duration 10] [--size 262144]``.

* The same bytes (``--size``, random) are published as a content-addressed shard
  (``parts/<sha256>.parquet``: the Worker caches it with the Cache API after the first full read)
  and under a name that is not content-addressed (``parts/uncached-copy.parquet``: every read goes
  to the local R2 binding), both put into the Worker's local R2 with ``wrangler r2 object put
  --local``; the registry serves the same shard from its embedded local store.
* Links are signed with the real signers (core's ``GatewayLink``, the registry's ``UrlSigner``),
  valid for an hour, a ``pro`` key whose edge limit is raised so no request is refused (the
  Worker's limits are per-binding configuration: the run passes a wrangler config copy).
* ``wrk -t2 -c50 --latency`` (``--connections``), 3 s warm-up then ``--duration`` seconds per
  target, all on 127.0.0.1.
  ``wrangler dev`` is a development server (workerd behind wrangler's local proxy), not
  Cloudflare's edge: these numbers compare paths on one machine, they do not predict production.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKER = REPO / "packages" / "opendata-worker"
sys.path.insert(0, str(HERE.parent / "registry"))
sys.path.insert(0, str(REPO))  # the tests' process helpers

from bench_registry import (  # type: ignore[import-not-found]  # noqa: E402
    _ms,
    ensure_wrk,
    start,
    stop,
    wait_ready,
)
from tests._processes import listening_port, logged_url  # noqa: E402

from opendata_core.gateway import GatewayLink  # noqa: E402
from opendata_registry.infra.signing import UrlSigner  # noqa: E402

SECRET = secrets.token_hex(32)
KID = "bench"


def wrk_get(wrk: str, url: str, duration: int, connections: int) -> dict[str, Any]:
    """One GET run after a 3 s warm-up."""
    base = [wrk, "-t2", f"-c{connections}", "--latency"]
    subprocess.run([*base, "-d3s", url], check=True, capture_output=True)
    out = subprocess.run(
        [*base, f"-d{duration}s", url], check=True, capture_output=True, text=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    lat = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    mbps = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    return {
        "rps": rps,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "non_2xx": float(non2xx[1]) if non2xx else 0.0,
        "transfer": f"{mbps[1]} {mbps[2]}/s" if mbps else "?",
    }


def node22(*args: str) -> list[str]:
    return ["sh", str(WORKER / "scripts" / "node22.sh"), *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--size", type=int, default=256 * 1024, help="shard bytes")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--no-queue",
        action="store_true",
        help="drop the usage queue binding and wrangler's per-request log (their local cost)",
    )
    args = parser.parse_args()
    if not (WORKER / "node_modules" / ".bin" / "wrangler").exists():
        raise SystemExit("run `npm ci` in packages/opendata-worker first")
    wrk = ensure_wrk()
    data = secrets.token_bytes(args.size)
    sha = hashlib.sha256(data).hexdigest()
    cached_key = f"datasets/bench/prices/parts/{sha}.parquet"
    uncached_key = "datasets/bench/prices/parts/uncached-copy.parquet"
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-gw-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        (home / "store" / "datasets" / "bench" / "prices" / "parts").mkdir(parents=True)
        (home / "store" / cached_key).write_bytes(data)
        state = tmp / "wrangler-state"
        listing = tmp / "r2-objects.json"
        shard_file = str(home / "store" / cached_key)
        listing.write_text(
            json.dumps([{"key": k, "file": shard_file} for k in (cached_key, uncached_key)])
        )
        subprocess.run(
            node22("wrangler", "r2", "bulk", "put", "opendata", "--filename", str(listing),
                   "--local", "--persist-to", str(state)),
            cwd=WORKER, check=True, capture_output=True,
        )  # fmt: skip
        # The committed config with the pro key limit raised: no request is refused.
        config = (WORKER / "wrangler.toml").read_text()
        config = re.sub(
            r'(name = "RL_KEY_PRO"\nnamespace_id = "\d+"\nsimple = \{ limit = )\d+',
            r"\g<1>100000000",
            config,
        )
        config = re.sub(
            r'(name = "RL_NAMESPACE"\nnamespace_id = "\d+"\nsimple = \{ limit = )\d+',
            r"\g<1>100000000",
            config,
        )
        config = config.replace('main = "worker/index.ts"', f'main = "{WORKER}/worker/index.ts"')
        if args.no_queue:
            config = config[: config.index("[[queues.producers]]")]
        (tmp / "wrangler.toml").write_text(config)
        # Every server binds port 0 and the port it got is read back (wrangler prints it).
        command = node22("wrangler", "dev", "--config", str(tmp / "wrangler.toml"), "--local")
        command += ["--ip", "127.0.0.1", "--port", "0", "--inspector-port", "0"]
        command += ["--show-interactive-dev-session=false"]
        command += ["--persist-to", str(state), "--var", f"SIGNING_KEY_{KID}:{SECRET}"]
        if args.no_queue:
            command += ["--log-level", "error"]
        procs.append(start(command, dict(os.environ), WORKER, tmp / "wrangler.log"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDATA_")}
        env |= {
            "OPENDATA_HOME": str(home),
            "OPENDATA_REGISTRY_SECRET": SECRET,
            "OPENDATA_REGISTRY_SYNC_INTERVAL": "0",
        }
        granian = str(Path(sys.executable).parent / "granian")
        reg_cmd = [granian, "--interface", "asgi", "--factory", "--workers", "2"]
        reg_cmd += ["--host", "127.0.0.1", "--port", "0"]
        reg_cmd += ["opendata_registry.app:create_app"]
        procs.append(start(reg_cmd, env, REPO, tmp / "registry.log"))
        try:
            gw_url = logged_url(procs[0], tmp / "wrangler.log", "wrangler dev")
            reg_port = listening_port(procs[1], "the registry", log=tmp / "registry.log")
            reg_url = f"http://127.0.0.1:{reg_port}"
            wait_ready(f"{gw_url}/", procs[0], timeout=180)
            wait_ready(f"{reg_url}/readyz", procs[1], timeout=180)
            expires = int(time.time()) + 3600

            def link(key: str) -> str:
                return GatewayLink(key, expires, KID, "key:1", "pro", "bench").url(
                    gw_url, SECRET.encode()
                )

            files = UrlSigner(SECRET.encode()).sign(reg_url, cached_key, expires=expires)
            import httpx

            for url in (link(cached_key), link(uncached_key), files):
                answer = httpx.get(url)
                if answer.status_code != 200 or answer.content != data:
                    raise SystemExit(f"{url} answered {answer.status_code}: {answer.text[:300]}")
            targets = {
                "registry /files (local store, granian, 2 workers)": files,
                "gateway, shard cached at the edge (Cache API)": link(cached_key),
                "gateway, uncached (R2 binding every time)": link(uncached_key),
            }
            for url, expected in ((link(cached_key), "HIT"), (link(uncached_key), "BYPASS")):
                seen = httpx.get(url).headers.get("X-OpenData-Cache")
                if seen != expected:
                    raise SystemExit(f"X-OpenData-Cache {seen!r}, expected {expected}")
            results = {
                name: wrk_get(wrk, url, args.duration, args.connections)
                for name, url in targets.items()
            }
        finally:
            for proc in procs:
                stop(proc)
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    print(f"Machine: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc {os.cpu_count()}, "
          f"{cpu}, load average {os.getloadavg()[0]:.1f}, shard {args.size} bytes, "
          f"wrk -t2 -c{args.connections} -d{args.duration}s"
          f"{', no queue, no request log' if args.no_queue else ''}")  # fmt: skip
    print("| path | req/s | p50 | p99 | transfer | non-2xx |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
              f"{r['transfer']} | {r['non_2xx']:.0f} |")  # fmt: skip
    if shutil.which("git"):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        print(f"commit {head.stdout.strip()}")


if __name__ == "__main__":
    main()
