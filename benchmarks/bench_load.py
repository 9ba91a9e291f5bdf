"""Load and push benchmark: ``od.load`` / ``od.push`` against plain Parquet readers.

One command, no network beyond 127.0.0.1::

    uv run python benchmarks/bench_load.py            # >= 2M rows, ~550 symbols x 10 years
    uv run python benchmarks/bench_load.py --quick    # ~300k rows, a smoke run
    uv run python benchmarks/bench_load.py --rows 5000000 --repeats 5
    uv run python benchmarks/bench_load.py --cases full,one-year   # only these cases
    uv run python benchmarks/bench_load.py --quick --cases registry-one-year,registry-two-columns

What it does (docs/benchmarks.md has the results and the caveats):

1. Generates a deterministic daily OHLCV panel (numpy seed) over ten years and caches it as one
   zstd Parquet file under ``benchmarks/.data/`` (that file is also the "one big file" baseline).
2. Starts moto's S3 server and a counting reverse proxy in two child processes (so neither shares
   the benchmark's GIL). Every S3 client talks to the proxy, which counts requests and body bytes
   in both directions: bytes transferred are measured, not estimated.
3. Times ``od.load`` (full, one year, two columns, one year x two columns) against (a) obstore GET
   of the single file + pyarrow + to_pandas, (b) pandas.read_parquet via s3fs, (c) polars
   scan_parquet, (d) pyarrow's S3FileSystem + pq.read_table -- on moto and on a local folder.
4. Registry mode: a registry process in front of the same bucket, behind the same shaped link,
   against direct S3 loads (one year, two columns) and a cached re-load (requests counted).
5. Times ``od.push`` of the whole table against pq.write_table (zstd) + one put, and a one-day
   ``mode="append"``.
6. Prints one table and the targets with PASS/FAIL; writes the numbers as JSON to
   ``benchmarks/.data/last-results.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / ".data"
GENERATOR_VERSION = 1
SEED = 20261125
FIRST_DAY = date(2015, 7, 1)
N_DAYS = 3653  # 2015-07-01 .. 2025-06-30: ten years, so the last year partition is a half year
YEAR_START, YEAR_END = date(2023, 1, 1), date(2023, 12, 31)
TWO_COLUMNS = ["date", "close"]
ROW_GROUP_ROWS = 128 * 1024  # same row-group size as the client's shards (fair pruning)
BUCKET = "bench"
ACCESS_KEY, SECRET_KEY, REGION = "benchkey", "benchsecret", "us-east-1"
STATS_PATH = "/__proxy__/stats"
CHILD_START_TIMEOUT = 60.0
CASE_BUDGET_S = 45.0  # per measured case: stop repeating (after >= 1 timed run) beyond this

# Targets (docs/benchmarks.md): measured on moto through the proxy.
TARGET_YEAR_SPEEDUP = 4.0
TARGET_YEAR_BYTES = 1.1
TARGET_COLS_SPEEDUP = 5.0
TARGET_FULL_VS_RAW = 0.8  # issue 12 (was 1.1)
TARGET_PUSH_VS_RAW = 1.25


# ---------------------------------------------------------------------------------------------
# Child processes: moto and the counting proxy (top-level functions, started with "spawn")

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "expect",
}


def _moto_child(conn: Any) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log on the console
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    conn.send(port)
    with contextlib.suppress(EOFError, OSError):
        conn.recv()  # "stop", or EOF when the parent is gone
    server.stop()


LINK_RTT_S = 0.040
LINK_RATE = 100e6 / 8  # 100 Mbit/s in bytes per second
LINK_BURST = 64 << 10
LINK_PIECE = 16 << 10


class _TokenBucket:
    """One shared link: every byte in either direction waits for its share of ``rate``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, n: int) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= n  # reserve now, wait outside the lock: senders queue fairly
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


def _proxy_child(upstream_port: int, rtt: float, rate: float, conn: Any) -> None:
    """The counting proxy; with ``rtt``/``rate`` also a shaped link (a consumer's internet):
    every request waits one round trip, and all bytes share one ``rate`` token bucket.

    Requests go to ``upstream_port`` (moto), except paths under a prefix the parent routes
    elsewhere (``("route", "/v1/", port)`` on ``conn``: the registry behind the same link);
    ``routed`` counts the requests of each route."""
    bucket = _TokenBucket(rate, LINK_BURST) if rate else None
    lock = threading.Lock()
    counts: dict[str, Any] = {
        "requests": 0,
        "bytes_down": 0,
        "bytes_up": 0,
        "methods": {},
        "routed": {},
    }
    routes: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        timeout = 300

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._proxy()

        do_HEAD = do_PUT = do_POST = do_DELETE = do_GET  # noqa: N815

        def _port(self) -> tuple[str, int]:
            for prefix, port in routes.items():
                if self.path.startswith(prefix):
                    return prefix, port
            return "", upstream_port

        def _upstream(self, port: int) -> http.client.HTTPConnection:
            conns: dict[int, http.client.HTTPConnection] = self.__dict__.setdefault("_conns", {})
            c = conns.get(port)
            if c is None:
                c = conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            return c

        def _drop(self, port: int) -> None:
            c = self.__dict__.get("_conns", {}).pop(port, None)
            if c is not None:
                c.close()

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                parts = []
                for _ in range(10_000_000):  # bounded: one iteration per chunk
                    size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        for _ in range(1000):  # trailers, up to the blank line
                            if self.rfile.readline(65537) in (b"\r\n", b"\n", b""):
                                break
                        break
                    parts.append(self.rfile.read(size))
                    self.rfile.readline(65537)
                return b"".join(parts)
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _stats(self) -> None:
            with lock:
                body = json.dumps(counts).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _proxy(self) -> None:
            if self.path == STATS_PATH:
                self._stats()
                return
            body = self._read_body()
            if rtt:
                time.sleep(rtt)  # request out, first response byte back
            if bucket is not None and body:
                bucket.take(len(body))
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(body))))
            resp = None
            route, port = self._port()
            for attempt in range(2):  # a stale keep-alive connection gets one retry
                c = self._upstream(port)
                try:
                    c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in headers:
                        c.putheader(k, v)
                    c.endheaders(body or None)
                    resp = c.getresponse()
                    break
                except (OSError, http.client.HTTPException):
                    self._drop(port)
                    if attempt:
                        self.send_error(502)
                        return
            assert resp is not None
            self.send_response_only(resp.status, resp.reason)
            length = resp.getheader("Content-Length")
            for k, v in resp.getheaders():
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            sent = 0
            if self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200:
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                resp.read()
            elif length is not None:
                self.send_header("Content-Length", length)
                self.end_headers()
                piece = LINK_PIECE if bucket is not None else 1 << 20
                for _ in range(1 << 26):  # bounded: up to 1 TiB
                    chunk = resp.read(piece)
                    if not chunk:
                        break
                    if bucket is not None:
                        bucket.take(len(chunk))
                    self.wfile.write(chunk)
                    sent += len(chunk)
            else:
                data = resp.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if bucket is not None:
                    bucket.take(len(data))
                self.wfile.write(data)
                sent = len(data)
            if resp.will_close:
                self._drop(port)
            with lock:
                counts["requests"] += 1
                counts["bytes_up"] += len(body)
                counts["bytes_down"] += sent
                m = counts["methods"]
                m[self.command] = m.get(self.command, 0) + 1
                counts["routed"][route] = counts["routed"].get(route, 0) + 1

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn.send(server.server_address[1])
    with contextlib.suppress(EOFError, OSError):
        for _ in range(1000):  # bounded: a few routes, then "stop" (or EOF)
            message = conn.recv()
            if message == "stop":
                break
            _, prefix, port = message
            routes[prefix] = port
    server.shutdown()


@dataclass(frozen=True)
class Traffic:
    """What went through the proxy."""

    requests: int = 0
    bytes_down: int = 0
    bytes_up: int = 0
    methods: dict[str, int] = field(default_factory=dict)
    routed: dict[str, int] = field(default_factory=dict)
    """Requests by route: ``""`` the bucket, ``"/v1/"`` the registry."""

    def __sub__(self, other: Traffic) -> Traffic:
        def minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) - b.get(k, 0) for k in sorted(set(a) | set(b))}

        return Traffic(
            self.requests - other.requests,
            self.bytes_down - other.bytes_down,
            self.bytes_up - other.bytes_up,
            minus(self.methods, other.methods),
            minus(self.routed, other.routed),
        )


class Servers:
    """moto + the counting proxy + the shaped-link proxy, each in a child process."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._procs: list[tuple[Any, Any]] = []
        moto_port = self._start(ctx, _moto_child, ())
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        proxy_port = self._start(ctx, _proxy_child, (moto_port, 0.0, 0.0))
        self.port = proxy_port
        self.url = f"http://127.0.0.1:{proxy_port}"
        self.link_port = self._start(ctx, _proxy_child, (moto_port, LINK_RTT_S, LINK_RATE))
        self._link_index = len(self._procs) - 1
        self.link_url = f"http://127.0.0.1:{self.link_port}"

    def _start(self, ctx: Any, target: Callable[..., None], args: tuple[Any, ...]) -> int:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=target, args=(*args, child), daemon=True)
        proc.start()
        self._procs.append((proc, parent))
        if not parent.poll(CHILD_START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"{target.__name__} did not start in {CHILD_START_TIMEOUT:.0f}s")
        return int(parent.recv())

    def traffic(self, link: bool = False) -> Traffic:
        port = self.link_port if link else self.port
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            c.request("GET", STATS_PATH)
            data = json.loads(c.getresponse().read())
        finally:
            c.close()
        return Traffic(
            data["requests"], data["bytes_down"], data["bytes_up"], data["methods"], data["routed"]
        )

    def route(self, prefix: str, port: int) -> None:
        """Send the shaped link's requests under ``prefix`` to ``port`` (the registry)."""
        _proc, parent = self._procs[self._link_index]
        parent.send(("route", prefix, port))

    def create_bucket(self, name: str) -> None:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("PUT", f"/{name}", body=b"")
            resp = c.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"creating bucket {name}: HTTP {resp.status}")
        finally:
            c.close()

    def stop(self) -> None:
        for proc, parent in reversed(self._procs):
            with contextlib.suppress(OSError, BrokenPipeError):
                parent.send("stop")
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        self._procs.clear()


# ---------------------------------------------------------------------------------------------
# Data


def generate(rows: int) -> tuple[Any, Path]:
    """The OHLCV panel (cached): ten years of days x ceil(rows / days) symbols."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_sym = max(1, math.ceil(rows / N_DAYS))
    path = DATA_DIR / f"ohlcv-v{GENERATOR_VERSION}-{N_DAYS}d-{n_sym}s-seed{SEED}.parquet"
    if path.is_file():
        return pq.read_table(path), path
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    symbols = _symbols(rng, n_sym)
    p0 = np.exp(rng.normal(3.5, 1.0, n_sym))
    returns = rng.normal(0.0003, 0.02, (N_DAYS, n_sym))
    close = p0 * np.exp(np.cumsum(returns, axis=0))
    prev = np.vstack([p0[None, :], close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.005, (N_DAYS, n_sym)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, 0.01, (N_DAYS, n_sym))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, 0.01, (N_DAYS, n_sym))))
    volume = rng.lognormal(12.0, 1.0, (N_DAYS, n_sym)).astype(np.int64)
    first = (FIRST_DAY - date(1970, 1, 1)).days
    days = np.arange(first, first + N_DAYS, dtype=np.int32)
    table = pa.table(
        {
            "date": pa.array(np.repeat(days, n_sym), pa.int32()).cast(pa.date32()),
            "symbol": pa.array(symbols).take(pa.array(np.tile(np.arange(n_sym), N_DAYS))),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
        }
    )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    os.replace(tmp, path)
    print(f"generated {table.num_rows:,} rows in {time.perf_counter() - t0:.1f}s -> {path}")
    return table, path


def _symbols(rng: Any, n: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out: set[str] = set()
    for _ in range(n * 100):  # bounded
        if len(out) == n:
            break
        k = int(rng.integers(3, 6))
        out.add("".join(letters[int(i)] for i in rng.integers(0, 26, k)))
    return sorted(out)


def one_day(table: Any, day: date, seed: int) -> Any:
    """One new day of rows, same symbols, prices near the last close."""
    import numpy as np
    import pyarrow as pa

    symbols = table.column("symbol").slice(table.num_rows - _n_symbols(table)).combine_chunks()
    n = len(symbols)
    rng = np.random.default_rng(seed)
    close = np.exp(rng.normal(3.5, 1.0, n))
    open_ = close * np.exp(rng.normal(0.0, 0.005, n))
    return pa.table(
        {
            "date": pa.array([day] * n, pa.date32()),
            "symbol": symbols,
            "open": open_,
            "high": np.maximum(open_, close) * 1.01,
            "low": np.minimum(open_, close) * 0.99,
            "close": close,
            "volume": rng.lognormal(12.0, 1.0, n).astype(np.int64),
        }
    ).cast(table.schema)


def _n_symbols(table: Any) -> int:
    return table.num_rows // N_DAYS


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Row:
    """One measured case."""

    store: str
    case: str
    method: str
    times: list[float]
    traffic: Traffic | None = None
    rows: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


class Bench:
    """Runs cases: one warm-up (not counted), then up to ``repeats`` timed runs (median)."""

    def __init__(
        self,
        servers: Servers | None,
        repeats: int,
        budget: float,
        cases: set[str] | None = None,
    ) -> None:
        self.servers = servers
        self.repeats = repeats
        self.budget = budget
        self.cases = cases
        """Case names to run (spaces as hyphens, ``one-year``); None runs every case."""
        self.rows: list[Row] = []
        self.needed: dict[str, int] = {}
        """Bytes of the column chunks each shaped-link case needs (issue 12 targets)."""

    def wants(self, *cases: str) -> bool:
        """Whether ``--cases`` selects any of these cases."""
        return self.cases is None or any(_slug(c) in self.cases for c in cases)

    def run(
        self,
        store: str,
        case: str,
        method: str,
        fn: Callable[[int], Any],
        *,
        expect_rows: int | None = None,
        expect_cols: list[str] | None = None,
    ) -> Row | None:
        """One method alone (see :meth:`run_group`); None when ``--cases`` leaves it out."""
        rows = self.run_group(
            store, case, [(method, fn)], expect_rows=expect_rows, expect_cols=expect_cols
        )
        return rows[0] if rows else None

    def run_group(
        self,
        store: str,
        case: str,
        methods: list[tuple[str, Callable[[int], Any]]],
        *,
        expect_rows: int | None = None,
        expect_cols: list[str] | None = None,
    ) -> list[Row]:
        """Time several methods of one case round-robin, so a load spike hits them alike.

        Each ``fn(i)`` gets its run number (0 is the warm-up, not counted): pushes use it for a
        fresh dataset id. Stops repeating after ``budget`` seconds (at least one timed run).
        Nothing runs (``[]``) for a case that ``--cases`` leaves out.
        """
        if not self.wants(case):
            return []
        counted = store in ("s3", "link", "registry") and self.servers is not None
        link = store in ("link", "registry")
        times: dict[str, list[float]] = {m: [] for m, _ in methods}
        traffic: dict[str, Traffic | None] = {m: None for m, _ in methods}
        results: dict[str, Any] = {}
        started = time.perf_counter()
        for i in range(self.repeats + 1):
            for method, fn in methods:
                before = self.servers.traffic(link) if counted and self.servers else None
                t0 = time.perf_counter()
                results[method] = fn(i)
                dt = time.perf_counter() - t0
                if before is not None and self.servers is not None:
                    traffic[method] = self.servers.traffic(link) - before
                if i > 0:
                    times[method].append(dt)
            if i > 0 and time.perf_counter() - started > self.budget:
                break
        rows = []
        for method, _ in methods:
            result = results[method]
            n_rows = None
            if hasattr(result, "shape") and hasattr(result, "columns"):
                n_rows = int(result.shape[0])
                where = f"{store}/{case}/{method}"
                if expect_rows is not None and n_rows != expect_rows:
                    raise AssertionError(f"{where}: {n_rows} rows, want {expect_rows}")
                if expect_cols is not None and sorted(result.columns) != sorted(expect_cols):
                    raise AssertionError(f"{where}: columns {list(result.columns)}")
            row = Row(store, case, method, times[method], traffic[method], n_rows)
            if isinstance(result, dict):
                row.extra = dict(result)
            self.rows.append(row)
            rows.append(row)
            t = traffic[method]
            mb = f"{t.bytes_down / 1e6:8.1f} MB down" if t else ""
            up = f"{t.bytes_up / 1e6:7.1f} MB up" if t and t.bytes_up else ""
            print(
                f"  {store:5} {case:19} {method:31} {row.median:8.3f}s (n={len(row.times)})"
                f" {mb} {up}",
                flush=True,
            )
        return rows

    def get(self, store: str, case: str, method: str) -> Row | None:
        for r in self.rows:
            if (r.store, r.case, r.method) == (store, case, method):
                return r
        return None


def _slug(case: str) -> str:
    return case.replace(" ", "-")


# ---------------------------------------------------------------------------------------------
# The cases


CASES: list[tuple[str, tuple[date, date] | None, list[str] | None]] = [
    ("full", None, None),
    ("one year", (YEAR_START, YEAR_END), None),
    ("two columns", None, TWO_COLUMNS),
    ("one year x two cols", (YEAR_START, YEAR_END), TWO_COLUMNS),
]

M_OD = "od.load"
M_A = "(a) obstore GET + pyarrow"
M_B = "(b) pandas.read_parquet+s3fs"
M_C = "(c) polars scan_parquet"
M_D = "(d) pyarrow S3FileSystem"
M_B_LOCAL = "(b) pandas.read_parquet"
M_D_LOCAL = "(d) pyarrow pq.read_table"


def _pa_filters(rng: tuple[date, date] | None) -> list[tuple[str, str, date]] | None:
    if rng is None:
        return None
    return [("date", ">=", rng[0]), ("date", "<=", rng[1])]


def bench_loads(
    bench: Bench,
    store: str,
    client: Any,
    dataset: str,
    raw_get: Callable[[], Any],
    pandas_source: str,
    pandas_options: dict[str, Any] | None,
    polars_source: str,
    polars_options: dict[str, Any] | None,
    pyarrow_path: str,
    pyarrow_fs: Any,
    n_rows: int,
    year_rows: int,
    all_cols: list[str],
) -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    for case, rng, cols in CASES:
        want_rows = year_rows if rng else n_rows
        want_cols = cols or all_cols
        filters = _pa_filters(rng)
        start, end = (rng[0].isoformat(), rng[1].isoformat()) if rng else (None, None)

        def od_load(
            _i: int, start: str | None = start, end: str | None = end, cols: Any = cols
        ) -> Any:
            return client.load(dataset, start=start, end=end, columns=cols)

        def raw(_i: int, cols: Any = cols, filters: Any = filters) -> Any:
            data = raw_get()
            return pq.read_table(pa.BufferReader(data), columns=cols, filters=filters).to_pandas()

        def pandas_read(_i: int, cols: Any = cols, filters: Any = filters) -> Any:
            kw: dict[str, Any] = {"columns": cols, "filters": filters}
            if pandas_options is not None:
                kw["storage_options"] = pandas_options
            return pd.read_parquet(pandas_source, **kw)

        def polars_read(_i: int, cols: Any = cols, rng: Any = rng) -> Any:
            lf = pl.scan_parquet(polars_source, storage_options=polars_options)
            if rng is not None:
                lf = lf.filter(pl.col("date").is_between(rng[0], rng[1]))
            if cols is not None:
                lf = lf.select(cols)
            return lf.collect().to_pandas()

        def pyarrow_read(_i: int, cols: Any = cols, filters: Any = filters) -> Any:
            return pq.read_table(
                pyarrow_path, filesystem=pyarrow_fs, columns=cols, filters=filters
            ).to_pandas()

        local = store == "local"
        methods = [
            (M_OD, od_load),
            (M_A, raw),
            (M_B_LOCAL if local else M_B, pandas_read),
            (M_C, polars_read),
            (M_D_LOCAL if local else M_D, pyarrow_read),
        ]
        bench.run_group(store, case, methods, expect_rows=want_rows, expect_cols=want_cols)


MONTH = (date(2023, 3, 1), date(2023, 3, 31))
LINK_CASES = ("two columns", "one month", "one year x two cols", "reload after append")
REGISTRY_CASES = ("registry one year", "registry two columns", "registry cached reload")
PUSH_CASES = ("push whole table", "append one day")
ALL_CASES = (*(c for c, _, _ in CASES), *LINK_CASES, *REGISTRY_CASES, *PUSH_CASES)
M_OD_WHOLE = "od.load, whole shards (format 1.0)"
M_OD_COLD = "od.load after append, cold cache"
M_OD_CACHED = "od.load after append, cached"


def polars_options(endpoint: str) -> dict[str, str]:
    """polars/object_store options for the moto bucket behind ``endpoint``."""
    return {
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "aws_region": REGION,
        "aws_endpoint_url": endpoint,
        "aws_allow_http": "true",
        "aws_virtual_hosted_style_request": "false",
    }


def arrow_s3(endpoint: str) -> Any:
    """pyarrow's S3 filesystem on the moto bucket behind ``endpoint``."""
    import pyarrow.fs as pafs

    return pafs.S3FileSystem(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        force_virtual_addressing=False,
    )


def needed_bytes(client: Any, dataset: str, cols: list[str] | None, rng: Any) -> int:
    """Bytes of the column chunks (of the row groups) a query needs, from the shards' footers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from opendata._parquet_layout import chunks

    total = 0
    for url in client.urls(dataset):
        key = url.url.split("/", 3)[3]
        data, _ = client.store.get(key)
        meta = pq.ParquetFile(pa.BufferReader(data)).metadata
        groups = set()
        for rg in range(meta.num_row_groups):
            st = meta.row_group(rg).column(0).statistics  # the date column
            if rng is None or (st.min <= rng[1] and st.max >= rng[0]):
                groups.add(rg)
        total += sum(
            c.end - c.start
            for c in chunks(meta)
            if c.row_group in groups and (cols is None or c.column in cols)
        )
    return total


def bench_link(
    bench: Bench,
    servers: Servers,
    tmp: Path,
    table: Any,
    dataset: str,
    single_key: str,
    year_rows: int,
    all_cols: list[str],
) -> dict[str, int]:
    """The shaped link: od ranged vs today's whole-shard path vs polars and pyarrow (cold)."""
    import polars as pl
    import pyarrow.parquet as pq

    from opendata import Cache, Client, S3CompatibleStore, _parquet_layout

    link = S3CompatibleStore(BUCKET, endpoint=servers.link_url)
    loop = Client(store=S3CompatibleStore(BUCKET, endpoint=servers.url), prefix="od", cache=False)
    whole = "bench/ohlcv-whole"
    saved = _parquet_layout.RANGED_MIN_BYTES
    _parquet_layout.RANGED_MIN_BYTES = 1 << 62  # the same data as format 1.0 wrote it: no blocks
    try:
        loop.push(table, whole, time_column="date")
    finally:
        _parquet_layout.RANGED_MIN_BYTES = saved
    od_link = Client(store=link, prefix="od", cache=False)
    link_options = polars_options(servers.link_url)
    fs = arrow_s3(servers.link_url)
    month_rows = int(
        (table.column("date").to_numpy() >= MONTH[0]).sum()
        - (table.column("date").to_numpy() > MONTH[1]).sum()
    )
    needed = {}
    for case, rng, cols, rows in [
        ("two columns", None, TWO_COLUMNS, table.num_rows),
        ("one month", MONTH, None, month_rows),
        ("one year x two cols", (YEAR_START, YEAR_END), TWO_COLUMNS, year_rows),
    ]:
        needed[case] = needed_bytes(loop, dataset, cols, rng)
        start, end = (rng[0].isoformat(), rng[1].isoformat()) if rng else (None, None)

        def od(_i: int, ds: str, start: Any = start, end: Any = end, cols: Any = cols) -> Any:
            return od_link.load(ds, start=start, end=end, columns=cols)

        def polars_read(_i: int, cols: Any = cols, rng: Any = rng) -> Any:
            lf = pl.scan_parquet(f"s3://{BUCKET}/{single_key}", storage_options=link_options)
            if rng is not None:
                lf = lf.filter(pl.col("date").is_between(rng[0], rng[1]))
            if cols is not None:
                lf = lf.select(cols)
            return lf.collect().to_pandas()

        def pyarrow_read(_i: int, cols: Any = cols, rng: Any = rng) -> Any:
            return pq.read_table(
                f"{BUCKET}/{single_key}", filesystem=fs, columns=cols, filters=_pa_filters(rng)
            ).to_pandas()

        bench.run_group(
            "link",
            case,
            [
                (M_OD, lambda i: od(i, dataset)),
                (M_OD_WHOLE, lambda i: od(i, whole)),
                (M_C, polars_read),
                (M_D, pyarrow_read),
            ],
            expect_rows=rows,
            expect_cols=cols or all_cols,
        )

    # Re-load after a one-day append: a client whose cache holds the previous version against
    # one with an empty cache, both on the version with the new day.
    if not bench.wants("reload after append"):
        return needed
    appended = "bench/ohlcv-append"
    loop.push(table, appended, time_column="date")
    last_day = max(table.column("date").to_pylist())
    times: dict[str, list[float]] = {M_OD_COLD: [], M_OD_CACHED: []}
    traffic: dict[str, Traffic] = {}
    for i in range(bench.repeats + 1):
        cached = Client(store=link, prefix="od")
        cached.cache = cached._reader.cache = Cache(tmp / f"cache-warm-{i}", max_bytes=1 << 40)
        cached.load(appended)  # the version before the append, cached (not timed)
        day = one_day(table, last_day + timedelta(days=i + 1), seed=i + 1)
        loop.push(day, appended, mode="append")
        cold = Client(store=link, prefix="od")
        cold.cache = cold._reader.cache = Cache(tmp / f"cache-cold-{i}", max_bytes=1 << 40)
        for method, client in ((M_OD_COLD, cold), (M_OD_CACHED, cached)):
            before = servers.traffic(link=True)
            t0 = time.perf_counter()
            client.load(appended)
            dt = time.perf_counter() - t0
            traffic[method] = servers.traffic(link=True) - before
            if i:
                times[method].append(dt)
    for method in (M_OD_COLD, M_OD_CACHED):
        row = Row("link", "reload after append", method, times[method], traffic[method])
        bench.rows.append(row)
        t = traffic[method]
        print(
            f"  link  reload after append {method:31} {row.median:8.3f}s (n={len(row.times)})"
            f" {t.bytes_down / 1e6:8.1f} MB down, {t.requests} req",
            flush=True,
        )
    return needed


M_OD_DIRECT = "od.load, S3 direct"
M_OD_REGISTRY = "od.load through the registry"
REGISTRY_TIERS = json.dumps(
    {"anonymous": {"requests_per_minute": 100_000, "download_bytes_per_day": 1 << 50}}
)


def bench_registry(
    bench: Bench, servers: Servers, tmp: Path, dataset: str, n_rows: int, year_rows: int
) -> None:
    """The registry in front of the same bucket, behind the same shaped link (issue 23).

    A registry process (granian + create_app) serves the bucket; the shaped-link proxy sends
    ``/v1/`` to it and everything else (its signed shard URLs) to moto, so a registry load pays
    the link for its one ``download`` call and then for the same bytes as a direct one.
    """
    sys.path.insert(0, str(HERE.parent))
    from tests._processes import running_registry

    from opendata import Cache, Client, S3CompatibleStore
    from opendata._registry import RegistryTransport

    env = {
        "OPENDATA_STORE": f"s3://{BUCKET}/od",
        "AWS_ENDPOINT_URL": servers.link_url,  # what it signs is what the consumer reaches
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "OPENDATA_REGISTRY_TIERS": REGISTRY_TIERS,
        "OPENDATA_REGISTRY_ACCESS_LOG": "0",
    }
    with running_registry(tmp / "registry" / "home", **env) as url:
        servers.route("/v1/", int(url.rsplit(":", 1)[1]))
        direct = Client(
            store=S3CompatibleStore(BUCKET, endpoint=servers.link_url), prefix="od", cache=False
        )
        registry = Client(RegistryTransport(servers.link_url), cache=False)
        for case, start, end, cols, rows in (
            ("registry one year", YEAR_START.isoformat(), YEAR_END.isoformat(), None, year_rows),
            ("registry two columns", None, None, TWO_COLUMNS, n_rows),
        ):

            def load(
                _i: int, client: Any, start: Any = start, end: Any = end, c: Any = cols
            ) -> Any:
                return client.load(dataset, start=start, end=end, columns=c)

            bench.run_group(
                "registry",
                case,
                [
                    (M_OD_DIRECT, lambda i: load(i, direct)),
                    (M_OD_REGISTRY, lambda i: load(i, registry)),
                ],
                expect_rows=rows,
            )

        # A cached re-load of an unchanged dataset: the registry's one download call only.
        def cached(_i: int, client: Any) -> Any:
            return client.load(dataset, start=YEAR_START.isoformat(), end=YEAR_END.isoformat())

        warm = Client(RegistryTransport(servers.link_url))
        warm.cache = warm._reader.cache = Cache(tmp / "registry-cache", max_bytes=1 << 40)
        warm.load(dataset, start=YEAR_START.isoformat(), end=YEAR_END.isoformat())
        bench.run_group(
            "registry",
            "registry cached reload",
            [(M_OD_REGISTRY + ", cached", lambda i: cached(i, warm))],
            expect_rows=year_rows,
        )


def registry_targets(bench: Bench) -> list[tuple[str, str, bool]]:
    """A load through the registry costs one round trip more than a direct one, and a cached
    re-load one request to the registry (its download, whose answer carries the lifecycle) and
    none to the bucket."""
    out: list[tuple[str, str, bool]] = []
    for case in ("registry one year", "registry two columns"):
        direct = bench.get("registry", case, M_OD_DIRECT)
        through = bench.get("registry", case, M_OD_REGISTRY)
        if direct is None or through is None:
            continue
        limit = direct.median + LINK_RTT_S + 0.1 * direct.median
        out.append(
            (
                f"{case}: <= direct + one round trip + 10 %",
                f"{through.median:.3f} s vs {direct.median:.3f} s direct (limit {limit:.3f} s)",
                through.median <= limit,
            )
        )
    row = bench.get("registry", "registry cached reload", M_OD_REGISTRY + ", cached")
    if row is not None and row.traffic is not None:
        registry = row.traffic.routed.get("/v1/", 0)
        bucket = row.traffic.routed.get("", 0)
        out.append(
            (
                "registry cached reload: one request to the registry (the download, which "
                "carries the lifecycle), none to the bucket",
                f"{registry} requests to the registry, {bucket} to the bucket (last run), "
                f"{row.median:.3f} s",
                registry == 1 and bucket == 0,
            )
        )
    return out


def bench_floor(bench: Bench, single: bytes, shard: bytes) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def full(_i: int) -> Any:
        return pq.read_table(pa.BufferReader(single)).to_pandas()

    def year_shard(_i: int) -> Any:
        return pq.read_table(pa.BufferReader(shard)).to_pandas()

    def year_single(_i: int) -> Any:
        f = _pa_filters((YEAR_START, YEAR_END))
        return pq.read_table(pa.BufferReader(single), filters=f).to_pandas()

    def two_cols(_i: int) -> Any:
        return pq.read_table(pa.BufferReader(single), columns=TWO_COLUMNS).to_pandas()

    bench.run("mem", "full", "decode floor (single file)", full)
    bench.run("mem", "two columns", "decode floor (single file)", two_cols)
    bench.run_group(
        "mem",
        "one year",
        [
            ("decode floor (2023 shard)", year_shard),
            ("decode floor (single, filtered)", year_single),
        ],
    )


M_PUSH = "od.push"
M_RAW_PUSH = "pq.write_table(zstd) + 1 put"
M_APPEND = "od.push(mode='append') 1 day"


def bench_push(
    bench: Bench,
    store: str,
    client: Any,
    table: Any,
    raw_put: Callable[[str, Any], None],
    prefix: str,
) -> str:
    """Push the whole table (fresh id per run) and the raw baseline; returns the last id."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    last: list[str] = []

    def od_push(i: int) -> dict[str, Any]:
        ds = f"bench/{prefix}-{i}"
        r = client.push(table, ds, time_column="date")
        last[:] = [ds]
        return {"shards_written": r.shards_written, "shards_reused": r.shards_reused}

    def raw(i: int) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        raw_put(f"raw-push/{prefix}-{i}.parquet", sink.getvalue())

    bench.run_group(store, "push whole table", [(M_PUSH, od_push), (M_RAW_PUSH, raw)])
    return last[0] if last else ""


def _zero_copy(buf: Any) -> Any:
    """A pyarrow Buffer as something obstore.put accepts, without copying it."""
    import numpy as np

    return np.frombuffer(buf, dtype=np.uint8)


def bench_append(bench: Bench, store: str, client: Any, table: Any, dataset: str) -> None:
    last_day = FIRST_DAY + timedelta(days=N_DAYS - 1)
    results: list[dict[str, Any]] = []

    def append(i: int) -> dict[str, Any]:
        day = one_day(table, last_day + timedelta(days=i + 1), SEED + i + 1)
        r = client.push(day, dataset, mode="append", time_column="date")
        out = {"shards_written": r.shards_written, "shards_reused": r.shards_reused}
        results.append(out)
        return out

    if not bench.wants("append one day"):
        return
    if not dataset:  # --cases left out the push that creates it
        dataset = f"bench/append-{store}"
        client.push(table, dataset, time_column="date")
    row = bench.run(store, "append one day", M_APPEND, append)
    if row is None:
        return
    row.extra["all_runs"] = results
    row.extra["day_rows"] = _n_symbols(table)


# ---------------------------------------------------------------------------------------------
# Report


def machine_info() -> dict[str, str]:
    import importlib.metadata as md

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for pkg in (
        "opendata-client",
        "pyarrow",
        "pandas",
        "polars",
        "numpy",
        "obstore",
        "s3fs",
        "moto",
    ):
        with contextlib.suppress(md.PackageNotFoundError):
            info[pkg] = md.version(pkg)
    return info


def _fmt_bytes(t: Traffic | None) -> tuple[str, str, str]:
    if t is None:
        return "-", "-", "-"
    return f"{t.bytes_down / 1e6:.1f}", f"{t.bytes_up / 1e6:.1f}", str(t.requests)


def print_table(bench: Bench) -> list[str]:
    """One table: every case, with od's speed-up over each baseline of the same store/case."""
    header = (
        f"{'store':6} {'case':20} {'method':32} {'median s':>9} {'n':>2} "
        f"{'MB down':>8} {'MB up':>7} {'req':>5} {'od speed-up':>12}"
    )
    lines = [header, "-" * len(header)]
    prev = None
    for r in bench.rows:
        if prev is not None and (prev.store, prev.case) != (r.store, r.case):
            lines.append("")
        prev = r
        od = None
        if r.store in ("s3", "local"):
            od_method = {"push whole table": M_PUSH}.get(r.case, M_OD)
            od = bench.get(r.store, r.case, od_method)
        ratio = ""
        if od is not None and od is not r and r.case != "append one day":
            ratio = f"{r.median / od.median:.2f}x"
        down, up, req = _fmt_bytes(r.traffic)
        extra = ""
        if "shards_written" in r.extra:
            extra = (
                f"  shards written/reused {r.extra['shards_written']}/{r.extra['shards_reused']}"
            )
        lines.append(
            f"{r.store:6} {r.case:20} {r.method:32} {r.median:9.3f} {len(r.times):>2} "
            f"{down:>8} {up:>7} {req:>5} {ratio:>12}{extra}"
        )
    lines.append("")
    lines.append(
        "od speed-up = baseline median / od median of the same store and case (> 1: od is "
        "faster); MB down/up and req are counted by the proxy (last timed run)."
    )
    print("\n".join(lines))
    return lines


def evaluate_targets(bench: Bench, year_shard_bytes: int) -> list[tuple[str, str, bool]]:
    """The targets whose cases ran (all of them without ``--cases``)."""
    out: list[tuple[str, str, bool]] = []
    for target in _TARGETS:
        try:
            out.extend(target(bench, year_shard_bytes))
        except _NotRun:
            if bench.cases is None:
                raise
    return out


class _NotRun(Exception):
    """A target's case was left out by ``--cases``."""


def _med(bench: Bench, store: str, case: str, method: str) -> float:
    r = bench.get(store, case, method)
    if r is None:
        raise _NotRun(store, case, method)
    return r.median


def _targets_year(bench: Bench, year_shard_bytes: int) -> list[tuple[str, str, bool]]:
    def med(store: str, case: str, method: str) -> float:
        return _med(bench, store, case, method)

    out: list[tuple[str, str, bool]] = []
    s = med("s3", "one year", M_B) / med("s3", "one year", M_OD)
    out.append(
        (
            f"one year of ten >= {TARGET_YEAR_SPEEDUP:g}x faster than pandas+s3fs",
            f"{s:.2f}x",
            s >= TARGET_YEAR_SPEEDUP,
        )
    )
    od_year = bench.get("s3", "one year", M_OD)
    assert od_year is not None
    assert od_year.traffic is not None
    b = od_year.traffic.bytes_down / year_shard_bytes
    out.append(
        (
            f"one year of ten <= {TARGET_YEAR_BYTES:g}x the bytes of its shard(s)",
            f"{od_year.traffic.bytes_down:,} B / {year_shard_bytes:,} B = {b:.3f}x",
            b <= TARGET_YEAR_BYTES,
        )
    )
    return out


def _targets_cols(bench: Bench, _year_shard_bytes: int) -> list[tuple[str, str, bool]]:
    s = _med(bench, "s3", "two columns", M_B) / _med(bench, "s3", "two columns", M_OD)
    return [
        (
            f"two columns >= {TARGET_COLS_SPEEDUP:g}x faster than pandas+s3fs",
            f"{s:.2f}x",
            s >= TARGET_COLS_SPEEDUP,
        )
    ]


def _targets_full(bench: Bench, _year_shard_bytes: int) -> list[tuple[str, str, bool]]:
    def med(store: str, case: str, method: str) -> float:
        return _med(bench, store, case, method)

    out: list[tuple[str, str, bool]] = []
    s = med("s3", "full", M_OD) / med("s3", "full", M_A)
    out.append(
        (
            f"full load <= {TARGET_FULL_VS_RAW:g}x (a) obstore GET + pyarrow",
            f"{s:.2f}x ({med('s3', 'full', M_OD):.3f}s vs {med('s3', 'full', M_A):.3f}s)",
            s <= TARGET_FULL_VS_RAW,
        )
    )
    return out


def _targets_push(bench: Bench, _year_shard_bytes: int) -> list[tuple[str, str, bool]]:
    def med(store: str, case: str, method: str) -> float:
        return _med(bench, store, case, method)

    out: list[tuple[str, str, bool]] = []
    s = med("s3", "push whole table", M_PUSH) / med("s3", "push whole table", M_RAW_PUSH)
    out.append(
        (
            f"push <= {TARGET_PUSH_VS_RAW:g}x raw write + put",
            f"{s:.2f}x ({med('s3', 'push whole table', M_PUSH):.3f}s vs "
            f"{med('s3', 'push whole table', M_RAW_PUSH):.3f}s)",
            s <= TARGET_PUSH_VS_RAW,
        )
    )
    return out


def _targets_append(bench: Bench, _year_shard_bytes: int) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    ap = bench.get("s3", "append one day", M_APPEND)
    if ap is None:
        raise _NotRun("s3", "append one day", M_APPEND)
    written = [r["shards_written"] for r in ap.extra.get("all_runs", [])]
    up = ap.traffic.bytes_up if ap.traffic else 0
    out.append(
        (
            "one-day append uploads one partition",
            f"shards written per run {written}, {up:,} B uploaded (last run)",
            bool(written) and all(w == 1 for w in written),
        )
    )
    return out


_TARGETS = [_targets_year, _targets_cols, _targets_full, _targets_push, _targets_append]


def link_targets(bench: Bench) -> list[tuple[str, str, bool]]:
    """Issue 12's targets: the shaped link, bytes against the chunks needed, cache, local."""
    out: list[tuple[str, str, bool]] = []

    def med(store: str, case: str, method: str) -> float | None:
        r = bench.get(store, case, method)
        return r.median if r else None

    def down(case: str, method: str = M_OD) -> int | None:
        r = bench.get("link", case, method)
        return r.traffic.bytes_down if r and r.traffic else None

    for case, limit in (("two columns", 1.3), ("one month", 1.5)):
        got, need = down(case), bench.needed.get(case)
        if got and need:
            out.append(
                (
                    f"{case}: bytes <= {limit}x the column chunks needed",
                    f"{got:,} B / {need:,} B = {got / need:.2f}x",
                    got / need <= limit,
                )
            )
    od, whole = med("link", "two columns", M_OD), med("link", "two columns", M_OD_WHOLE)
    if od and whole:
        out.append(
            (
                "two columns, shaped link: >= 2.5x faster than the whole-shard path",
                f"{whole:.3f} s / {od:.3f} s = {whole / od:.2f}x",
                whole / od >= 2.5,
            )
        )
        for m in (M_C, M_D):
            other = med("link", "two columns", m)
            if other:
                out.append(
                    (
                        f"two columns, shaped link: faster than {m}",
                        f"{other:.3f} s / {od:.3f} s = {other / od:.2f}x",
                        other > od,
                    )
                )
    local, floor = (
        med("local", "two columns", M_OD),
        med("mem", "two columns", "decode floor (single file)"),
    )
    if local and floor:
        out.append(
            (
                "two columns, local folder: <= 1.5x the in-memory decode floor",
                f"{local:.3f} s / {floor:.3f} s = {local / floor:.2f}x",
                local / floor <= 1.5,
            )
        )
    cold, cached = (
        med("link", "reload after append", M_OD_COLD),
        med("link", "reload after append", M_OD_CACHED),
    )
    row = bench.get("link", "reload after append", M_OD_CACHED)
    if cold and cached and row and row.traffic:
        out.append(
            (
                "reload after a one-day append, cached: >= 5x faster than cold",
                f"{cold:.3f} s / {cached:.3f} s = {cold / cached:.2f}x; cached moved "
                f"{row.traffic.bytes_down:,} B in {row.traffic.requests} requests",
                cold / cached >= 5,
            )
        )
    return out


def local_ratios(bench: Bench) -> list[str]:
    """The same ratios on the local folder (for information; the targets are for S3)."""

    def med(case: str, method: str) -> float | None:
        r = bench.get("local", case, method)
        return r.median if r else None

    lines = []
    pairs = [
        ("one year: pandas / od", "one year", M_B_LOCAL, M_OD),
        ("two columns: pandas / od", "two columns", M_B_LOCAL, M_OD),
        ("full: od / (a)", "full", M_OD, M_A),
        ("push: od / raw", "push whole table", M_PUSH, M_RAW_PUSH),
    ]
    for label, case, num, den in pairs:
        a, b = med(case, num), med(case, den)
        if a is not None and b:
            lines.append(f"  local {label}: {a / b:.2f}x")
    return lines


# ---------------------------------------------------------------------------------------------
# Main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="at least this many rows")
    parser.add_argument("--quick", action="store_true", help="~300k rows, 2 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case (5)")
    parser.add_argument(
        "--cases",
        default=None,
        help="comma-separated cases to run (e.g. full,one-year); default all: "
        + ",".join(dict.fromkeys(_slug(c) for c in ALL_CASES)),
    )
    parser.add_argument(
        "--json", type=Path, default=DATA_DIR / "last-results.json", help="write results here"
    )
    args = parser.parse_args(argv)
    rows = 300_000 if args.quick and args.rows == 2_000_000 else args.rows
    repeats = args.repeats or (2 if args.quick else 5)
    if repeats < 1 or rows < N_DAYS:
        parser.error(f"--repeats must be >= 1 and --rows >= {N_DAYS}")
    cases = None if args.cases is None else {c.strip() for c in args.cases.split(",") if c.strip()}
    unknown = sorted((cases or set()) - {_slug(c) for c in ALL_CASES})
    if unknown or cases == set():
        parser.error(f"--cases: unknown {unknown}; known: {sorted({_slug(c) for c in ALL_CASES})}")

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)

    started = time.perf_counter()
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)

    table, single_path = generate(rows)
    n_rows = table.num_rows
    n_sym = _n_symbols(table)
    year_rows = 365 * n_sym
    all_cols = table.column_names
    single = single_path.read_bytes()
    print(
        f"dataset: {n_rows:,} rows = {N_DAYS} days x {n_sym} symbols, "
        f"{FIRST_DAY} .. {FIRST_DAY + timedelta(days=N_DAYS - 1)}; single zstd file "
        f"{len(single) / 1e6:.1f} MB ({single_path.name})",
        flush=True,
    )

    servers = Servers()
    try:
        with tempfile.TemporaryDirectory(prefix="od-bench-") as tmp:
            report = run_all(
                servers,
                Path(tmp),
                table,
                single,
                single_path,
                n_rows,
                year_rows,
                all_cols,
                repeats,
                cases,
            )
    finally:
        servers.stop()

    bench, year_shard_bytes, shard_info = report
    print()
    print_table(bench)
    print()
    targets = evaluate_targets(bench, year_shard_bytes) + link_targets(bench)
    targets += registry_targets(bench)
    print("targets (moto S3 through the counting proxy):")
    for name, measured, ok in targets:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {measured}")
    print("same ratios on the local folder (information):")
    print("\n".join(local_ratios(bench)))
    elapsed = time.perf_counter() - started
    print(f"\ntotal {elapsed:.0f}s; machine: {info['cpu']}, {info['cores']} cores, {info['date']}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "dataset": {
            "rows": n_rows,
            "symbols": n_sym,
            "days": N_DAYS,
            "single_file_bytes": len(single),
            "shards": shard_info,
        },
        "repeats": repeats,
        "elapsed_s": elapsed,
        "rows": [
            {**asdict(r), "median": r.median, "traffic": asdict(r.traffic) if r.traffic else None}
            for r in bench.rows
        ],
        "targets": [{"target": n, "measured": m, "pass": ok} for n, m, ok in targets],
    }
    args.json.write_text(json.dumps(payload, indent=2, default=str))
    print(f"results: {args.json}")
    return 0 if all(ok for _, _, ok in targets) else 1


def run_all(
    servers: Servers,
    tmp: Path,
    table: Any,
    single: bytes,
    single_path: Path,
    n_rows: int,
    year_rows: int,
    all_cols: list[str],
    repeats: int,
    cases: set[str] | None = None,
) -> tuple[Bench, int, list[dict[str, Any]]]:
    import obstore
    from obstore.store import LocalStore as ObLocalStore
    from obstore.store import S3Store

    from opendata import Client, LocalStore, S3CompatibleStore

    bench = Bench(servers, repeats, CASE_BUDGET_S, cases)
    servers.create_bucket(BUCKET)

    # --- S3 (moto through the proxy) -----------------------------------------------------
    raw_s3 = S3Store(
        BUCKET,
        endpoint=servers.url,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        region=REGION,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    single_key = "single/ohlcv.parquet"
    obstore.put(raw_s3, single_key, single)
    # cache=False: the loopback table measures the network path, as before the cache existed.
    s3_client = Client(
        store=S3CompatibleStore(BUCKET, endpoint=servers.url), prefix="od", cache=False
    )
    dataset = "bench/ohlcv"
    setup = s3_client.push(table, dataset, time_column="date")
    print(f"setup: {setup}", flush=True)
    shards = s3_client.urls(dataset)
    shard_info = [{"partition": s.partition, "rows": s.rows, "bytes": s.bytes} for s in shards]
    year_urls = s3_client.urls(dataset, start=YEAR_START.isoformat(), end=YEAR_END.isoformat())
    year_shard_bytes = sum(u.bytes for u in year_urls)
    year_shard_key = year_urls[0].url.removeprefix(f"s3://{BUCKET}/")
    year_shard = bytes(obstore.get(raw_s3, year_shard_key).bytes())
    sizes = ", ".join(f"{s.partition}={s.bytes / 1e6:.1f}MB" for s in shards)
    print(
        f"shards: {len(shards)} ({sizes}); "
        f"2023 covered by {len(year_urls)} shard(s), {year_shard_bytes:,} B",
        flush=True,
    )

    s3fs_options = {
        "key": ACCESS_KEY,
        "secret": SECRET_KEY,
        "client_kwargs": {"endpoint_url": servers.url, "region_name": REGION},
        "config_kwargs": {"s3": {"addressing_style": "path"}},
    }
    s3_fs = arrow_s3(servers.url)
    print("\nload, moto S3 through the proxy:", flush=True)
    bench_loads(
        bench,
        "s3",
        s3_client,
        dataset,
        lambda: obstore.get(raw_s3, single_key).bytes(),
        f"s3://{BUCKET}/{single_key}",
        s3fs_options,
        f"s3://{BUCKET}/{single_key}",
        polars_options(servers.url),
        f"{BUCKET}/{single_key}",
        s3_fs,
        n_rows,
        year_rows,
        all_cols,
    )

    if bench.wants(*LINK_CASES):
        print("\nload, shaped link (40 ms RTT, 100 Mbit/s) to moto:", flush=True)
        bench.needed = bench_link(
            bench, servers, tmp, table, dataset, single_key, year_rows, all_cols
        )

    if bench.wants(*REGISTRY_CASES):
        print("\nload through a registry, shaped link (40 ms RTT, 100 Mbit/s):", flush=True)
        bench_registry(bench, servers, tmp, dataset, n_rows, year_rows)

    # --- local folder --------------------------------------------------------------------
    local_root = tmp / "store"
    local_client = Client(store=LocalStore(local_root))
    local_client.push(table, dataset, time_column="date")
    raw_local = ObLocalStore(prefix=str(single_path.parent))
    print("\nload, local folder:", flush=True)
    bench_loads(
        bench,
        "local",
        local_client,
        dataset,
        lambda: obstore.get(raw_local, single_path.name).bytes(),
        str(single_path),
        None,
        str(single_path),
        None,
        str(single_path),
        None,
        n_rows,
        year_rows,
        all_cols,
    )

    print("\ndecode floor (Parquet bytes already in memory -> pyarrow -> pandas):", flush=True)
    bench_floor(bench, single, year_shard)

    # --- push and append -----------------------------------------------------------------
    if not bench.wants(*PUSH_CASES):
        return bench, year_shard_bytes, shard_info
    print("\npush / append, moto S3 through the proxy:", flush=True)
    last = bench_push(
        bench,
        "s3",
        s3_client,
        table,
        lambda key, buf: obstore.put(raw_s3, key, _zero_copy(buf)),
        "push-s3",
    )
    bench_append(bench, "s3", s3_client, table, last)

    print("\npush / append, local folder:", flush=True)
    raw_local_out = ObLocalStore(prefix=str(tmp / "raw"), mkdir=True)
    last = bench_push(
        bench,
        "local",
        local_client,
        table,
        lambda key, buf: obstore.put(raw_local_out, key, _zero_copy(buf)),
        "push-local",
    )
    bench_append(bench, "local", local_client, table, last)
    return bench, year_shard_bytes, shard_info


if __name__ == "__main__":
    sys.exit(main())
