"""What request ids and the access log cost on the download path, in process (no HTTP server).

    uv run python benchmarks/registry/bench_request_log.py [--rounds 12] [--requests 1000]

The registry's app (embedded SQLite, local store, one dataset of 25 yearly shards, the anonymous
tier's limits raised so that every request is a 200) answers ``POST …/download`` for one year,
called straight through its ASGI interface, in three variants interleaved round by round:

- ``bare``: the app without :class:`~opendata_registry.infra.requestlog.RequestLog` (before);
- ``ids``: with it, the access log switched off (``OPENDATA_REGISTRY_ACCESS_LOG=0``);
- ``ids+log``: with it and the access log on (the default), lines written to ``/dev/null``.

Each variant's CPU time per request (``time.process_time``, which a busy neighbour inflates less
than wall time) is printed as the median over the rounds, with the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from litestar.testing import AsyncTestClient
from obstore.store import LocalStore
from tests.registry.conftest import Dataset, publish, with_tier

from opendata_registry.app import create_app
from opendata_registry.infra.requestlog import ACCESS_LOGGER
from opendata_registry.infra.settings import Settings

BODY = b'{"start": "2024-01-01"}'
PATH = "/v1/datasets/bench/prices/download"


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"registry"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def _one(app: Any) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(), receive, send)
    return status


async def main(rounds: int, requests: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-reqlog-"))
    (folder / "store").mkdir()
    publish(LocalStore(folder / "store"), Dataset("bench/prices", years=list(range(2000, 2025))))
    settings = Settings(
        home=folder / "home",
        store=str(folder / "store"),
        database_url=f"sqlite+aiosqlite:///{folder / 'registry.db'}",
        secret=b"b" * 40,
        sync_interval=0,
    )
    settings = with_tier(settings, "anonymous", requests_per_minute=10**9)
    app = create_app(settings)
    async with AsyncTestClient(app):
        access = logging.getLogger(ACCESS_LOGGER)
        for handler in access.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - open for the whole run
        wrapped = app.asgi_handler
        variants = {
            "bare": (wrapped.app, logging.INFO),  # type: ignore[attr-defined]
            "ids": (wrapped, logging.WARNING),
            "ids+log": (wrapped, logging.INFO),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        print(f"load average before: {os.getloadavg()}")
        for n in range(rounds):
            order = list(variants)[n % 3 :] + list(variants)[: n % 3]
            for name in order:
                handler, level = variants[name]
                app.asgi_handler = handler
                access.setLevel(level)
                assert await _one(app) == 200
                started = time.process_time()
                for _ in range(requests):
                    await _one(app)
                times[name].append((time.process_time() - started) / requests * 1e6)
        app.asgi_handler = wrapped
        print(f"load average after: {os.getloadavg()}")
        bare = statistics.median(times["bare"])
        for name, values in times.items():
            median = statistics.median(values)
            print(
                f"{name:8s} {median:7.1f} µs CPU/request (median of {rounds} rounds of "
                f"{requests}; min {min(values):.1f}), {median / bare - 1:+.1%} against bare"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests))
