"""The edge gateway end to end: registry → Worker (``wrangler dev --local``) → local R2.

* The client publishes to the embedded local store; the shards are copied into the Worker's local
  R2 with ``wrangler r2 object put --local`` (what a publish to R2 leaves there).
* The registry (granian, the image's command) runs with ``OPENDATA_REGISTRY_GATEWAY_*`` set; the
  Worker runs in ``wrangler dev --local --ip 127.0.0.1`` (workerd) with the same secret, its queue
  consumer posting usage batches to the registry's ``/gateway/usage``.
* ``od.load`` in registry mode (with the client's own cache off) returns the same frame as the
  direct load; the second load is served by the edge cache (the R2 objects are deleted between
  the two loads); expired and tampered links are refused at the edge; bursts answer 429 with
  ``Retry-After``; a revoked key is denied after ``opendata-registry gateway sync --local``; the
  edge's usage reaches ``GET /v1/usage``.

Needs ``npm ci`` in packages/opendata-worker (``bash .ci/run`` does it before running this file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pandas as pd
import pytest

import opendata as od
from opendata._registry import RegistryTransport
from opendata_core.gateway import GatewayLink
from tests._processes import TcpRelay, logged_url, stop, wait_until_ready
from tests.client.test_push_load import daily
from tests.e2e.test_registry_e2e import (  # noqa: F401 (through: a fixture)
    DATASET,
    _metadata,
    _registry_env,
    running_registry,
    through,
)

REPO = Path(__file__).resolve().parents[2]
WORKER = REPO / "packages" / "opendata-worker"
BIN = Path(sys.executable).parent
SECRET = "e2e-shared-secret-" + "z" * 20
KID = "e2e"

pytestmark = pytest.mark.skipif(
    not (WORKER / "node_modules" / ".bin" / "wrangler").exists(),
    reason="the Worker's dependencies are not installed (npm ci in packages/opendata-worker)",
)


def _wrangler(*args: str, cwd: Path = WORKER, timeout: float = 120) -> str:
    done = subprocess.run(
        ["sh", "scripts/node22.sh", "wrangler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextmanager
def wrangler_dev(state: Path, registry_url: str) -> Iterator[str]:
    """``wrangler dev --local`` on a loopback port it picks, with the e2e secret; yields its URL.

    ``--port 0`` and ``--inspector-port 0`` reach Miniflare as given (wrangler picks a port with
    get-port, a bind-then-close, only when none is given), which binds them itself; the port
    is read back from wrangler's ``Ready on`` line (:func:`logged_url`).
    """
    variables = {
        f"SIGNING_KEY_{KID}": SECRET,
        "USAGE_KEY_ID": KID,
        "USAGE_INGEST_URL": f"{registry_url}/gateway/usage",
        "DENY_CACHE_SECONDS": "0",
    }
    command = ["sh", "scripts/node22.sh", "wrangler", "dev", "--local", "--ip", "127.0.0.1"]
    command += ["--port", "0", "--inspector-port", "0"]
    command += ["--show-interactive-dev-session=false", "--persist-to", str(state)]
    for name, value in variables.items():
        command += ["--var", f"{name}:{value}"]
    log_path = state.parent / "wrangler-dev.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=WORKER, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = logged_url(proc, log_path, "wrangler dev")
            wait_until_ready(
                proc,  # type: ignore[arg-type]
                lambda: httpx.get(f"{url}/datasets/a/b/c", timeout=2).status_code == 403,
                "wrangler dev",
                log=log_path,
                interval=0.3,
                errors=(httpx.TransportError,),
            )
            yield url
        finally:
            stop(proc)  # type: ignore[arg-type]


def _fill_r2(shards: list[Path], root: Path, state: Path) -> None:
    """Put the shards into the Worker's local R2 in one wrangler run (``r2 bulk put --local``)."""
    pairs = [{"key": s.relative_to(root).as_posix(), "file": str(s)} for s in shards]
    listing = state.parent / "r2-objects.json"
    listing.write_text(json.dumps(pairs))
    _wrangler(
        "r2", "bulk", "put", "opendata", "--filename", str(listing), "--local",
        "--persist-to", str(state),
    )  # fmt: skip


class _Recorder(httpx.HTTPTransport):
    """Records the edge's cache header of each shard answer; can expire the first link sent."""

    def __init__(self, *, expire_first: bool = False) -> None:
        super().__init__()
        self.cache: list[str] = []
        self.statuses: list[int] = []
        self.downloads = 0
        self.expire_first = expire_first
        self._lock = threading.Lock()  # the client sends shard GETs from several threads

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/download"):
            self.downloads += 1
        elif request.url.path.startswith("/datasets/"):
            with self._lock:
                expire, self.expire_first = self.expire_first, False
            if expire:
                past = str(int(time.time()) - 3600)
                request.url = request.url.copy_set_param("expires", past)
        response = super().handle_request(request)
        if request.url.path.startswith("/datasets/"):
            self.cache.append(response.headers.get("X-OpenData-Cache", ""))
            self.statuses.append(response.status_code)
        return response


def _load(registry: str, key: str, transport: _Recorder) -> pd.DataFrame:
    store = RegistryTransport(registry, api_key=key, transport=transport)
    try:
        return od.Client(store).load(DATASET)
    finally:
        store.close()


def _registry_cli(home: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "opendata-registry"), *args],
        env=_registry_env(home, **env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _usage(registry: str, key: str) -> dict[str, int]:
    days = httpx.get(f"{registry}/v1/usage", headers={"Authorization": f"Bearer {key}"}).json()
    return days["days"][0] if days["days"] else {"bytes": 0, "requests": 0, "failures": 0}


def test_load_through_the_gateway(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    through: Callable[[str], None],  # noqa: F811 (the fixture)
) -> None:
    started = time.monotonic()
    home = Path(os.environ["OPENDATA_HOME"])
    od.push(daily(), DATASET, metadata=_metadata(), partition="year")
    expected = od.load(DATASET)
    state = tmp_path / "wrangler-state"
    shards = sorted((home / "store" / "datasets" / "me" / "prices" / "parts").glob("*.parquet"))
    assert shards
    _fill_r2(shards, home / "store", state)  # the bucket the Worker serves: its local R2

    # The registry signs links to the Worker and the Worker posts usage to the registry: each
    # needs the other's address at start. The Worker starts first, posting to a relay whose
    # port this test holds; the relay forwards to the registry once it listens.
    with ExitStack() as stack:
        to_registry = stack.enter_context(TcpRelay())
        gateway_url = stack.enter_context(
            wrangler_dev(state, f"http://127.0.0.1:{to_registry.port}")
        )
        env = {
            "OPENDATA_REGISTRY_GATEWAY_URL": gateway_url,
            "OPENDATA_REGISTRY_GATEWAY_KEY_ID": KID,
            "OPENDATA_REGISTRY_GATEWAY_SECRET": SECRET,
        }
        key = json.loads(_registry_cli(home, env, "keys", "create", "--tier", "free", "--json"))
        revoked = json.loads(_registry_cli(home, env, "keys", "create", "--tier", "free", "--json"))
        registry = stack.enter_context(running_registry(home, **env))
        to_registry.upstream = urlsplit(registry).port
        through(registry)
        monkeypatch.setenv("OPENDATA_CACHE", "0")  # every load goes to the edge
        monkeypatch.setenv("OPENDATA_API_KEY", key["key"])
        before = _usage(registry, key["key"])

        # 1. the same frame as the direct load, every byte verified by the client
        pd.testing.assert_frame_equal(od.load(DATASET), expected)
        urls = od.urls(DATASET)
        assert all(u.url.startswith(f"{gateway_url}/datasets/me/prices/parts/") for u in urls)

        # 2. the second load is served by the edge cache, shard by shard
        second = _Recorder()
        pd.testing.assert_frame_equal(_load(registry, key["key"], second), expected)
        assert second.cache == ["HIT"] * len(shards), second.cache

        # renewal through the gateway: the edge refuses an expired link, the client renews it
        renewing = _Recorder(expire_first=True)
        pd.testing.assert_frame_equal(_load(registry, key["key"], renewing), expected)
        assert renewing.statuses.count(403) == 1, renewing.statuses  # shards load in parallel
        assert renewing.downloads == 2  # the load's own call and exactly one renewal

        # 3. expired and tampered links are refused at the edge
        query = {k: v[0] for k, v in parse_qs(urlsplit(urls[0].url).query).items()}
        path = urlsplit(urls[0].url).path.lstrip("/")
        expired = GatewayLink(path, int(time.time()) - 1, KID, query["sub"], query["tier"], "me")
        refused = httpx.get(expired.url(gateway_url, SECRET.encode()))
        assert refused.status_code == 403 and refused.json()["code"] == "link_expired"
        tampered = urls[0].url.replace("tier=free", "tier=enterprise")
        assert httpx.get(tampered).status_code == 403

        # 4. a burst on one anonymous IP is answered 429 + Retry-After (20 per 10 s in the
        # committed wrangler.toml; per key and per namespace: the workerd tests, whose lower limits
        # a loaded machine reaches within one window)
        link = GatewayLink(path, int(time.time()) + 600, KID, "ip:127.0.0.1", "anonymous", "me")
        url = link.url(gateway_url, SECRET.encode())
        # windows are fixed (wall clock): 150 > 2 * 20 trips even a burst split by a rollover
        with ThreadPoolExecutor(12) as pool:
            statuses = list(
                pool.map(lambda u: httpx.get(u, headers={"Range": "bytes=0-3"}), [url] * 150)
            )
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, [r.status_code for r in statuses]
        assert limited[0].headers["Retry-After"] == "10"
        assert {r.status_code for r in statuses} <= {206, 429}

        # 5. a revoked key's links stop at the edge once the deny-list is synced
        revoked_url = GatewayLink(
            path, int(time.time()) + 600, KID, f"key:{revoked['id']}", "free", "me"
        )
        assert httpx.get(revoked_url.url(gateway_url, SECRET.encode())).status_code == 200
        _registry_cli(home, env, "keys", "revoke", str(revoked["id"]))
        _registry_cli(home, env, "gateway", "sync", "--wrangler", str(WORKER), "--local",
                      "--persist-to", str(state))  # fmt: skip
        denied = httpx.get(revoked_url.url(gateway_url, SECRET.encode()))
        assert denied.status_code == 403 and "revoked" in denied.json()["message"]

        # 6. the edge's usage reaches the registry (queue consumer → POST /gateway/usage)
        shard_bytes = sum(s.stat().st_size for s in shards)
        deadline = time.monotonic() + 60
        while True:
            now = _usage(registry, key["key"])
            if now["bytes"] - before["bytes"] >= 3 * shard_bytes:
                break
            assert time.monotonic() < deadline, (before, now, shard_bytes)
            time.sleep(1)
        assert now["requests"] - before["requests"] >= 3 * len(shards)
    print(f"gateway e2e took {time.monotonic() - started:.1f} s")
