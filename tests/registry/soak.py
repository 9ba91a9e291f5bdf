"""The multi-replica soak: one driver for the 60-second test and the 10-minute benchmark.

Three registry processes (granian, the image's command, one worker each) over one PostgreSQL
database of their own (created here, dropped after), one ``redis-server`` of their own (never the
shared one) and one local-folder store. An asyncio driver (httpx) sends a bounded, paced mix of
API calls (search, detail, download, usage, a signed ``/files`` GET) through a small load
balancer of its own, publishes through the keyless path (the local OIDC issuer plays GitHub
Actions) every few seconds, and creates, uses and revokes API keys. Meanwhile it kills one
replica (SIGKILL) and starts it again, and kills Redis and starts it again.

Traffic to PostgreSQL passes a relay that counts the protocol's round trips (each ``Sync`` or
simple ``Query`` message a registry sends waits for the server's answer); Redis counts its own
commands (``INFO commandstats``). The capacity phase (:func:`measure_capacity`, the benchmark
only) sends one kind of request at a time to one replica and divides the replica's CPU time,
the database round trips and the Redis commands by the requests answered.

:func:`soak` returns a :class:`Report`; :meth:`Report.failures` lists the criteria it missed
(empty: passed) and :meth:`Report.markdown` is what docs/benchmarks.md quotes.

Used by ``tests/registry/test_soak.py`` (60 s) and ``benchmarks/registry/bench_soak.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests._processes import _process_tree, ready_registry, redis_server, stop

BIN = Path(sys.executable).parent
PG = ("127.0.0.1", 5432)
ENDPOINTS = ("search", "detail", "download", "files", "usage")
WORDS = [
    "rates",
    "exchange",
    "euro",
    "dollar",
    "energy",
    "prices",
    "power",
    "wind",
    "solar",
    "weather",
    "rain",
    "temperature",
    "population",
    "census",
    "births",
    "deaths",
    "trade",
    "exports",
    "imports",
    "inflation",
    "wages",
    "jobs",
    "housing",
    "rents",
    "traffic",
    "flights",
    "ships",
    "rail",
    "air",
    "quality",
    "water",
    "rivers",
    "forest",
    "crops",
    "wheat",
]
SECRET = "soak-secret-" + "s" * 32


# --- PostgreSQL round trips, counted on the wire ------------------------------------------------


class _PgMessages:
    """Counts the round trips in one client's stream of PostgreSQL frontend messages: every
    ``Sync`` (``S``, the end of an extended-protocol exchange) and ``Query`` (``Q``, the simple
    protocol) makes the client wait for the server. Each is told by what it ran: ``statement``,
    ``ping`` (the statement ``;``, SQLAlchemy's pool pre-ping), ``transaction`` (``BEGIN``,
    ``COMMIT``, ``ROLLBACK``) or ``prepare`` (a ``Parse`` without an execution)."""

    def __init__(self) -> None:
        self.started = False
        self.buf = b""
        self.statements: dict[bytes, bytes] = {}
        self.pending: str | None = None

    def feed(self, data: bytes) -> Counter[str]:
        found: Counter[str] = Counter()
        self.buf += data
        while True:
            if not self.started:  # SSLRequest / StartupMessage: no type byte
                if len(self.buf) < 8:
                    return found
                size = int.from_bytes(self.buf[:4], "big")
                if len(self.buf) < size:
                    return found
                if int.from_bytes(self.buf[4:8], "big") not in (80877103, 80877104):
                    self.started = True  # not SSL/GSS negotiation: the startup message
                self.buf = self.buf[size:]
                continue
            if len(self.buf) < 5:
                return found
            size = 1 + int.from_bytes(self.buf[1:5], "big")
            if len(self.buf) < size:
                return found
            kind, body, self.buf = self.buf[0:1], self.buf[5:size], self.buf[size:]
            if kind == b"P":  # Parse: name, query
                name, rest = body.split(b"\0", 1)
                self.statements[name] = rest.split(b"\0", 1)[0]
            elif kind == b"B":  # Bind: portal, statement
                name = body.split(b"\0", 2)[1]
                query = self.statements.get(name, b"").strip()
                self.pending = "ping" if query in (b";", b"") else "statement"
            elif kind == b"S":
                found[self.pending or "prepare"] += 1
                self.pending = None
            elif kind == b"Q":
                query = body.rstrip(b"\0").strip().rstrip(b";").upper()
                control = query in (b"BEGIN", b"COMMIT", b"ROLLBACK")
                found["transaction" if control else "statement"] += 1


class PgCounter:
    """A TCP relay in front of PostgreSQL that counts round trips (see :class:`_PgMessages`).

    Connect with ``ssl=disable``: an encrypted stream cannot be read.
    """

    def __init__(self, upstream: tuple[str, int] = PG) -> None:
        self.upstream = upstream
        self.round_trips = 0
        self.kinds: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="pg-counter").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                if self._closed:
                    return
                continue
            messages = _PgMessages()
            threading.Thread(
                target=self._pump, args=(client, server, messages), daemon=True
            ).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, count: _PgMessages | None) -> None:
        try:
            while data := source.recv(65536):
                if count is not None:
                    kinds = count.feed(data)
                    if kinds:
                        with self._lock:
                            self.round_trips += sum(kinds.values())
                            self.kinds.update(kinds)
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._closed = True
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()


# --- processes ----------------------------------------------------------------------------------


def _psql(sql: str, database: str = "postgres") -> str:
    command = ["psql", "-h", PG[0], "-p", str(PG[1]), "-U", "postgres", "-d", database]
    done = subprocess.run([*command, "-Atc", sql], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database on the shared server (never ``test``), dropped afterwards."""
    name = f"soak_{secrets.token_hex(5)}"
    _psql(f"create database {name}")
    try:
        yield name
    finally:
        _psql(f"drop database if exists {name} with (force)")


def table_sizes(database: str) -> list[tuple[str, int, int]]:
    """(table, live rows, bytes with indexes and TOAST) of every table in ``database``."""
    sql = (
        "select relname, n_live_tup, pg_total_relation_size(relid) from pg_stat_user_tables "
        "order by 3 desc"
    )
    rows = [line.split("|") for line in _psql(sql, database).splitlines()]
    return [(name, int(n), int(size)) for name, n, size in rows]


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving ``database`` (the server runs
    on this machine: ``/proc`` of its processes)."""
    pids = _psql(f"select pid from pg_stat_activity where datname = '{database}'").split()
    return {int(pid): tree_cpu(int(pid)) for pid in pids if pid}


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (granian's main process and its workers)."""
    total = 0
    for p in _process_tree(pid):
        with suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its living descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _process_tree(pid):
        with suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def steal_percent(before: list[int], after: list[int]) -> float:
    """Share of CPU time the hypervisor gave other guests between two ``/proc/stat`` reads."""
    deltas = [b - a for a, b in zip(before, after, strict=True)]
    return 100 * deltas[7] / max(1, sum(deltas))


def cpu_times() -> list[int]:
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


@dataclass
class Replica:
    """One registry process; ``url`` changes when it is started again (it picks its port)."""

    index: int
    env: dict[str, str]
    folder: Path
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    up: bool = False
    starts: int = 0
    factory: str = "opendata_registry.app:create_app"
    """The image's command's factory (the capacity phase counts replica 0's store calls with
    ``tests.registry.soak_app:create_app``)."""

    def start(self) -> None:
        self.starts += 1
        log = self.folder / f"replica-{self.index}-{self.starts}.log"
        command = [str(BIN / "granian"), "--interface", "asgi", "--factory", "--workers", "1"]
        command += ["--host", "127.0.0.1", "--port", "0", self.factory]
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.url = ready_registry(self.proc, log=log, interval=0.1)
        self.up = True

    def kill(self) -> None:
        """SIGKILL the whole process tree, as a crashed host or an OOM kill would."""
        self.up = False
        assert self.proc is not None
        for pid in reversed(_process_tree(self.proc.pid)):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop(self.proc)

    def logs(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in self.folder.glob(f"replica-{self.index}-*.log")
        )


# --- the catalogue -------------------------------------------------------------------------------


def seed_store(root: Path, count: int) -> list[str]:
    """``count`` datasets written straight to a local store (as direct-store producers do);
    their ids."""
    from obstore.store import LocalStore

    from tests.registry.conftest import Dataset, publish

    store = LocalStore(root, mkdir=True)
    rng = random.Random(28)
    ids = []
    for i in range(count):
        words = rng.sample(WORDS, 4)
        ds = Dataset(
            id=f"gen{i % 20}/{words[0]}-{i}",
            title=f"{words[0].title()} {words[1]} {i}",
            description=f"Generated {words[2]} and {words[3]} figures for the soak.",
            topics=[words[1]],
        )
        publish(store, ds)
        ids.append(ds.id)
    return ids


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    """Seconds since the soak started, when the request was sent."""
    endpoint: str
    status: int
    """HTTP status; 0: no answer (the connection failed)."""
    seconds: float
    replica: int
    code: str | None = None
    retry_after: bool = False


@dataclass
class Window:
    what: str
    start: float
    end: float | None = None


@dataclass
class Report:
    """What a soak measured; :meth:`failures` judges it."""

    duration: float
    rate: float
    datasets: int
    samples: list[Sample] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    failovers: list[Sample] = field(default_factory=list)
    rss: dict[int, list[tuple[float, int, int]]] = field(default_factory=dict)
    """replica → (t, start number, RSS bytes) samples."""
    publishes: list[dict[str, Any]] = field(default_factory=list)
    revocations: list[dict[str, Any]] = field(default_factory=list)
    rate_limit: dict[str, Any] = field(default_factory=dict)
    consistency: dict[str, Any] = field(default_factory=dict)
    logs_with_traceback: list[int] = field(default_factory=list)
    bucket: float = 60.0
    rss_margin: float = 0.10
    rss_slack: int = 8 << 20
    capacity: dict[str, Any] = field(default_factory=dict)
    tables: list[tuple[str, int, int]] = field(default_factory=list)
    """(table, rows, bytes with indexes) at the end."""
    machine: dict[str, Any] = field(default_factory=dict)

    def in_outage(self, s: Sample) -> bool:
        """Whether ``s`` overlaps the announced Redis outage (sent before its end)."""
        end = s.t + s.seconds
        for w in self.windows:
            if w.what == "redis" and w.end is not None and s.t <= w.end and end >= w.start:
                return True
        return False

    def failures(self) -> list[str]:
        found = []
        answered = [s for s in self.samples if s.status]
        if len(answered) < self.rate * self.duration * 0.5:
            found.append(f"only {len(answered)} answers at {self.rate}/s for {self.duration:.0f} s")
        bad = [
            s
            for s in self.samples
            if s.status >= 500 and not (s.status == 503 and self.in_outage(s))
        ]
        if bad:
            found.append(
                f"{len(bad)} 5xx outside the announced outage: {Counter((s.endpoint, s.status, s.code) for s in bad)}"
            )
        bad503 = [
            s
            for s in self.samples
            if s.status == 503 and (s.code != "unavailable" or not s.retry_after)
        ]
        if bad503:
            found.append(f"{len(bad503)} 503 without code 'unavailable' and Retry-After")
        lost = [s for s in self.samples if s.status == 0]
        if lost:
            found.append(
                f"{len(lost)} requests without an answer (not failed over): {Counter(s.endpoint for s in lost)}"
            )
        other = Counter((s.endpoint, s.status) for s in self.samples if 400 <= s.status < 500)
        if other:
            found.append(f"4xx in the load (every call is valid): {dict(other)}")
        published = [p for p in self.publishes if p["ok"]]
        # A publish that overlaps the kill or the outage may fail (its job would run again).
        failed = [
            p
            for p in self.publishes
            if not p["ok"]
            and not any(
                p["t"] <= (w.end or self.duration) and p["t"] + 10 >= w.start for w in self.windows
            )
        ]
        if not published or failed:
            found.append(f"publishes failed outside the kill and the outage: {failed}")
        if any(p.get("lag") is None for p in published):
            found.append("a committed publish never showed on every replica")
        accepted = [r for r in self.revocations if r["accepted_after"]]
        if not self.revocations or accepted:
            found.append(
                f"revoked keys accepted: {accepted} (of {len(self.revocations)} revocations)"
            )
        rl = self.rate_limit
        if not rl or rl["ok"] != rl["limit"]:
            found.append(f"rate limit not held across replicas: {rl}")
        c = self.consistency
        if not c or c["differing"] or c["behind_store"]:
            found.append(f"replicas disagree at the end: {c}")
        for replica, growth in self.rss_growth().items():
            if (
                growth is not None
                and growth[1] > growth[0] * (1 + self.rss_margin) + self.rss_slack
            ):
                found.append(
                    f"replica {replica} RSS grew {growth[0] >> 20} → {growth[1] >> 20} MiB"
                )
        if self.logs_with_traceback:
            found.append(f"tracebacks in the logs of replicas {self.logs_with_traceback}")
        return found

    def capacity_markdown(self) -> str:
        """The capacity phase: one endpoint at a time on one replica (one granian worker)."""
        lines = [
            "| endpoint | req/s (1 worker, 4 in flight) | CPU ms / req | req/s per core | "
            "p50 / p99 ms | PostgreSQL round trips / req | PostgreSQL CPU ms / req | "
            "Redis commands / req |",
            "|---|---:|---:|---:|---|---:|---:|---|",
        ]
        for endpoint, c in self.capacity.items():
            if "rps" not in c:
                continue
            redis = ", ".join(
                f"{k} {v:.2f}" for k, v in sorted(c["redis_commands"].items()) if v >= 0.005
            )
            rps = f"{c['rps']:.0f}" if c["rps"] else "–"
            lines.append(
                f"| {endpoint} | {rps} | {c['cpu_ms']:.2f} | {c['rps_per_core']:.0f} | "
                f"{c['p50_ms']:.0f} / {c['p99_ms']:.0f} | {c['pg_round_trips']:.2f} | "
                f"{c['pg_cpu_ms']:.2f} | {redis or '0'} |"
            )
        kinds = {e: c["pg_kinds"] for e, c in self.capacity.items() if c.get("pg_kinds")}
        if kinds:
            lines += [
                "",
                "PostgreSQL round trips per request by kind (`ping` is the pool's "
                "pre-ping `;`, each inside its own BEGIN and ROLLBACK, counted as "
                "`transaction`): "
                + "; ".join(
                    f"{e}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(o.items()))
                    for e, o in kinds.items()
                ),
            ]
        ops = {e: c.get("store_ops") for e, c in self.capacity.items() if c.get("store_ops")}
        if ops:
            lines += [
                "",
                "Object-store calls of replica 0 per request (a local store: the catalogue sync walks the "
                "folder without them): "
                + "; ".join(
                    f"{e}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(o.items()))
                    for e, o in ops.items()
                )
                + f"; new shards PUT by the producer per publish: "
                f"{self.capacity.get('publish', {}).get('new_shards', 0):.1f}.",
            ]
        return "\n".join(lines)

    def rss_growth(self) -> dict[int, tuple[int, int] | None]:
        """Per replica: (max RSS in its first bucket after warm-up, max RSS in its last bucket),
        over its last life (a restarted replica is judged from its restart)."""
        out: dict[int, tuple[int, int] | None] = {}
        for replica, series in self.rss.items():
            last_start = max(n for _, n, _ in series)
            life = [(t, rss) for t, n, rss in series if n == last_start]
            buckets: dict[int, int] = {}
            for t, rss in life:
                b = int(t // self.bucket)
                buckets[b] = max(buckets.get(b, 0), rss)
            keys = sorted(buckets)
            # The first bucket of a life warms caches up; judge from the second one.
            out[replica] = (buckets[keys[1]], buckets[keys[-1]]) if len(keys) >= 3 else None
        return out

    def per_bucket(self) -> dict[tuple[str, int], list[float]]:
        times: dict[tuple[str, int], list[float]] = defaultdict(list)
        for s in self.samples:
            if 200 <= s.status < 300:
                times[(s.endpoint, int(s.t // self.bucket))].append(s.seconds)
        return times

    def markdown(self) -> str:
        lines = []
        m = self.machine
        lines.append(
            f"{m.get('date', '')}, {m.get('cpu', '')}, {m.get('cores', '')} cores, load "
            f"{m.get('load_before', '')} → {m.get('load_after', '')}, steal {m.get('steal', 0):.1f} %"
        )
        lines.append(
            f"Load: {self.rate:.0f} req/s paced for {self.duration:.0f} s over 3 replicas "
            f"(granian, 1 worker each), {self.datasets} datasets; a publish every "
            f"{m.get('publish_every', '?')} s, a key revocation every {m.get('revoke_every', '?')} s."
        )
        status = Counter(s.status for s in self.samples)
        lines.append("")
        lines.append(
            f"Requests: **{len(self.samples)}**; by status: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(status.items()))
            + f"; failed over after the kill (retried on another replica): {len(self.failovers)}."
        )
        outage = [s for s in self.samples if s.status == 503]
        windows = ", ".join(f"{w.what} {w.start:.1f}–{(w.end or 0):.1f} s" for w in self.windows)
        lines.append(
            f"Windows: {windows}; 503 inside the Redis outage: {len(outage)}, 5xx outside: "
            f"{sum(1 for s in self.samples if s.status >= 500 and not self.in_outage(s))}."
        )
        lines.append("")
        times = self.per_bucket()
        buckets = sorted({b for _, b in times})
        unit = "min" if self.bucket == 60 else f"{self.bucket:.0f} s"
        lines.append(f"p50 / p99 ms per endpoint per {unit}:")
        lines.append("")
        lines.append("| endpoint | " + " | ".join(str(b + 1) for b in buckets) + " |")
        lines.append("|---|" + "---|" * len(buckets))
        for e in ENDPOINTS:
            cells = []
            for b in buckets:
                xs = sorted(times.get((e, b), []))
                cells.append(
                    f"{_pct(xs, 50) * 1000:.0f} / {_pct(xs, 99) * 1000:.0f}" if xs else "–"
                )
            lines.append(f"| {e} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(
            f"RSS MiB per replica per {unit} (max of the samples; * = restarted in that bucket):"
        )
        lines.append("")
        lines.append("| replica | " + " | ".join(str(b + 1) for b in buckets) + " | judged |")
        lines.append("|---|" + "---|" * (len(buckets) + 1))
        growth = self.rss_growth()
        for replica, series in sorted(self.rss.items()):
            cells = []
            for b in buckets:
                xs = [(n, rss) for t, n, rss in series if int(t // self.bucket) == b]
                mark = "*" if len({n for n, _ in xs}) > 1 else ""
                cells.append(f"{max(r for _, r in xs) / 2**20:.0f}{mark}" if xs else "–")
            g = growth[replica]
            judged = f"{g[0] / 2**20:.0f} → {g[1] / 2**20:.0f}" if g else "too short"
            lines.append(f"| {replica} | " + " | ".join(cells) + f" | {judged} |")
        lines.append("")
        ok = [p for p in self.publishes if p["ok"]]
        lags = [p["lag"] for p in ok if p.get("lag") is not None]
        lines.append(
            f"Publishes: {len(ok)} of {len(self.publishes)} committed "
            f"(median {_med([p['seconds'] for p in ok]):.2f} s each); on every replica "
            f"within {max(lags, default=0) * 1000:.0f} ms of the commit's answer."
        )
        lines.append(
            f"Revocations: {len(self.revocations)}; revoked keys accepted afterwards: "
            f"{sum(r['accepted_after'] for r in self.revocations)}."
        )
        rl = self.rate_limit
        lines.append(
            f"Rate limit across replicas: {rl.get('ok')} of {rl.get('sent')} answered "
            f"(limit {rl.get('limit')}/min, sent round-robin to 3 replicas), {rl.get('limited')} × 429."
        )
        c = self.consistency
        lines.append(
            f"Consistency at the end: {c.get('datasets')} datasets × 3 replicas, "
            f"{c.get('differing')} differing, {c.get('behind_store')} behind the store."
        )
        if self.capacity:
            lines += ["", self.capacity_markdown()]
        if self.tables:
            lines += [
                "",
                "Database tables at the end (rows, MiB with indexes): "
                + ", ".join(
                    f"{name} {rows} / {size / 2**20:.2f}" for name, rows, size in self.tables
                )
                + ".",
            ]
        fails = self.failures()
        lines.append("")
        lines.append("Verdict: " + ("**PASS**" if not fails else "**FAIL**: " + "; ".join(fails)))
        return "\n".join(lines)


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return 0.0
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


class Balancer:
    """The load balancer in front of the replicas: round-robin over the ones up; a connection
    that fails takes its replica out of rotation, and the request is retried once elsewhere
    (what a balancer with passive health checks does)."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas
        self.n = 0

    def pick(self, avoid: int | None = None) -> Replica:
        ups = [r for r in self.replicas if r.up and r.index != avoid] or [
            r for r in self.replicas if r.up
        ]
        self.n += 1
        return ups[self.n % len(ups)]


@dataclass
class Soak:
    folder: Path
    duration: float
    rate: float
    datasets: int
    bucket: float
    publish_every: float
    revoke_every: float
    rss_margin: float
    concurrency: int = 8
    kill_at: float = 0.25
    down_for: float = 5.0
    redis_at: float = 0.6
    redis_down_for: float = 3.0
    replicas: list[Replica] = field(default_factory=list)
    report: Report | None = None
    ids: list[str] = field(default_factory=list)
    load_keys: list[str] = field(default_factory=list)
    t0: float = 0.0
    pgs: list[PgCounter] = field(default_factory=list)
    capacity_seconds: float = 0.0
    """Seconds per endpoint of the capacity phase before the soak (0: none)."""
    redis_port: int = 0
    stack: ExitStack = field(default_factory=ExitStack)
    extra_ids: list[str] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.t0

    # -- requests --

    async def call(
        self,
        http: httpx.AsyncClient,
        endpoint: str,
        method: str,
        path: str,
        *,
        key: str,
        client: str,
        body: Any = None,
        record: bool = True,
    ) -> httpx.Response | None:
        assert self.report is not None
        balancer = self.balancer
        avoid = None
        for _attempt in range(2):
            replica = balancer.pick(avoid)
            url = replica.url + path
            headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": client}
            t = self.now()
            started = time.perf_counter()
            try:
                reply = await http.request(method, url, json=body, headers=headers)
            except httpx.TransportError:
                sample = Sample(t, endpoint, 0, time.perf_counter() - started, replica.index)
                if not replica.up or self._killed(replica, t):
                    self.report.failovers.append(sample)
                    avoid = replica.index
                    continue
                if record:
                    self.report.samples.append(sample)
                return None
            seconds = time.perf_counter() - started
            if record:
                code = None
                if reply.status_code >= 400:
                    with suppress(ValueError):
                        code = reply.json().get("code")
                self.report.samples.append(
                    Sample(
                        t,
                        endpoint,
                        reply.status_code,
                        seconds,
                        replica.index,
                        code,
                        "retry-after" in reply.headers,
                    )
                )
            return reply
        return None

    def _killed(self, replica: Replica, t: float) -> bool:
        assert self.report is not None
        return any(
            w.what == f"kill {replica.index}"
            and t + 30 >= w.start
            and (w.end is None or t <= w.end)
            for w in self.report.windows
        )

    async def worker(self, http: httpx.AsyncClient, n: int, stop_at: float) -> None:
        rng = random.Random(n)
        key = self.load_keys[n % len(self.load_keys)]
        client = f"10.0.{n}.1"
        every = self.concurrency / self.rate
        next_at = self.now() + rng.random() * every
        files: list[str] = []
        while self.now() < stop_at:
            await asyncio.sleep(max(0.0, next_at - self.now()))
            next_at += every
            if next_at < self.now() - 1:  # behind by more than a second: do not burst
                next_at = self.now()
            ds = rng.choice(self.ids)
            roll = rng.random()
            if roll < 0.30:
                q = " ".join(rng.sample(WORDS, rng.choice((1, 1, 2))))
                await self.call(
                    http, "search", "GET", f"/v1/datasets?q={q}", key=key, client=client
                )
            elif roll < 0.60:
                await self.call(http, "detail", "GET", f"/v1/datasets/{ds}", key=key, client=client)
            elif roll < 0.85:
                reply = await self.call(
                    http,
                    "download",
                    "POST",
                    f"/v1/datasets/{ds}/download",
                    key=key,
                    client=client,
                    body={"start": "2024"},
                )
                if reply is not None and reply.status_code == 200:
                    # Behind the balancer: a signed /files URL is good on any replica (one secret).
                    files = ["/" + s["url"].split("/", 3)[3] for s in reply.json()["shards"]]
            elif roll < 0.90 and files:
                await self.call(http, "files", "GET", files.pop(), key=key, client=client)
            else:
                await self.call(http, "usage", "GET", "/v1/usage", key=key, client=client)

    # -- publishing, keys, limits --

    async def publisher(self, http: httpx.AsyncClient, stop_at: float) -> None:
        assert self.report is not None
        n = 0
        while self.now() < stop_at:
            await asyncio.sleep(self.publish_every)
            n += 1
            record = await self.publish_once(http, self.balancer.pick(), f"acme/soak-{n % 3}", n)
            self.report.publishes.append(record)
            if record["ok"]:
                record["lag"] = await self._everywhere(
                    http, record["dataset"], record["publish_id"], time.perf_counter()
                )

    async def publish_once(
        self, http: httpx.AsyncClient, replica: Replica, ds: str, n: int
    ) -> dict[str, Any]:
        """One keyless publish through ``replica``, as a GitHub Actions job makes it: read the
        current version, exchange an OIDC token, ask for upload URLs, PUT the new shards,
        commit. Returns what happened (``ok``, the statuses, ``seconds``)."""
        from tests.registry.publishing.issuer import Repo
        from tests.registry.publishing.pubkit import auth, commit_body, manifest, part

        repo = Repo(full_name="acme/soak")
        record: dict[str, Any] = {"t": self.now(), "dataset": ds, "ok": False}
        started = time.perf_counter()
        # Each job from its own address, as GitHub's runners (anonymous limits are per address).
        base, client = replica.url, {"X-Forwarded-For": f"10.1.{n % 250}.{n // 250 + 1}"}
        try:
            detail = await http.get(f"{base}/v1/datasets/{ds}", headers=client)
            parent = detail.json()["manifest"]["publish_id"] if detail.status_code == 200 else None
            token = self.issuer.token(repo)
            reply = await http.post(
                f"{base}/v1/auth/github-oidc", json={"token": token}, headers=client
            )
            record["exchange"] = reply.status_code
            if reply.status_code != 200:
                return record
            token = reply.json()["token"]
            parts = {"2023": part("2023"), "2024": part("2024", f"{n}")}
            m = manifest(ds, parts, parent=parent)
            shards = [{"sha256": s.sha256, "bytes": s.bytes} for s in m.shards]
            plan = await http.post(
                f"{base}/v1/datasets/{ds}/uploads", json={"shards": shards}, headers=auth(token)
            )
            record["uploads"] = plan.status_code
            if plan.status_code != 200:
                return record
            record["new_shards"] = len(plan.json()["uploads"])
            by_sha = {hashlib.sha256(d).hexdigest(): d for d in parts.values()}
            for item in plan.json()["uploads"]:
                put = await http.put(
                    item["url"], content=by_sha[item["sha256"]], headers=item["headers"]
                )
                put.raise_for_status()
            done = await http.post(
                f"{base}/v1/datasets/{ds}/commit",
                json=commit_body(m, ds, repo),
                headers=auth(token),
            )
            record["commit"] = done.status_code
            record["seconds"] = time.perf_counter() - started
            if done.status_code != 200:
                record["message"] = done.text[:300]
                return record
            record["ok"], record["publish_id"] = True, m.publish_id
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            record["error"] = repr(exc)[:300]
        return record

    async def _everywhere(
        self, http: httpx.AsyncClient, ds: str, publish_id: str, since: float
    ) -> float | None:
        """Seconds until every replica up answers ``ds`` at ``publish_id`` (None: not in 10 s)."""
        while time.perf_counter() - since < 10:
            seen = []
            for r in [r for r in self.replicas if r.up]:
                with suppress(httpx.HTTPError):
                    headers = {"Authorization": f"Bearer {self.load_keys[0]}"}
                    reply = await http.get(f"{r.url}/v1/datasets/{ds}", headers=headers)
                    if reply.status_code == 200:
                        seen.append(reply.json()["manifest"]["publish_id"])
                        continue
                seen.append(None)
            if all(s == publish_id for s in seen):
                return time.perf_counter() - since
            await asyncio.sleep(0.05)
        return None

    async def keys(self, tier: str, count: int) -> list[tuple[str, str]]:
        from opendata_registry.domain.keys.services import KeyService

        out = []
        async with self.sessions() as session:
            for _ in range(count):
                key, info = await KeyService(session).create(tier=tier, name="soak")
                out.append((key, str(info.id)))
        return out

    async def revoker(self, http: httpx.AsyncClient, stop_at: float) -> None:
        from opendata_registry.domain.keys.services import KeyService

        n = 0
        while self.now() < stop_at:
            await asyncio.sleep(self.revoke_every)
            n += 1
            client = f"10.2.{n % 250}.{n // 250 + 1}"
            if self._redis_down():
                continue
            ((key, ident),) = await self.keys("free", 1)
            ups = [r for r in self.replicas if r.up]
            before = [await self._status(http, r, key, client) for r in ups]
            async with self.sessions() as session:
                await KeyService(session).revoke(ident)
            after = [await self._status(http, r, key, client) for r in ups]
            self.report.revocations.append(
                {  # type: ignore[union-attr]
                    "t": self.now(),
                    "before": before,
                    "after": after,
                    "accepted_after": sum(1 for s in after if s == 200),
                }
            )

    def _redis_down(self) -> bool:
        assert self.report is not None
        return any(
            w.what == "redis"
            and (w.end is None or self.now() < w.end + 1)
            and self.now() > w.start - 1
            for w in self.report.windows
        )

    async def _status(self, http: httpx.AsyncClient, r: Replica, key: str, client: str) -> int:
        with suppress(httpx.HTTPError):
            reply = await http.get(
                f"{r.url}/v1/usage",
                headers={"Authorization": f"Bearer {key}", "X-Forwarded-For": client},
            )
            return reply.status_code
        return 0

    async def rate_limit_check(self, http: httpx.AsyncClient, limit: int) -> dict[str, Any]:
        """A fresh key of the ``pro`` tier (``limit`` requests a minute in this soak): ``limit``
        + 15 requests round-robin over every replica, within its first window."""
        ((key, _),) = await self.keys("pro", 1)
        sent = limit + 15
        statuses: list[int] = []
        for i in range(sent):
            r = self.replicas[i % len(self.replicas)]
            statuses.append(await self._status(http, r, key, "10.3.0.1"))
        return {
            "limit": limit,
            "sent": sent,
            "ok": statuses.count(200),
            "limited": statuses.count(429),
            "other": [s for s in statuses if s not in (200, 429)],
        }

    # -- capacity --

    def store_ops(self) -> Counter[str]:
        """Replica 0's object-store calls so far, by call (the capacity phase only)."""
        path = self.folder / "store-ops.txt"
        return Counter(path.read_text().split()) if path.exists() else Counter()

    def redis_calls(self) -> Counter[str]:
        """Commands Redis has answered so far, by command (``INFO commandstats``)."""
        out = subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "info", "commandstats"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        calls: Counter[str] = Counter()
        for line in out.splitlines():
            if line.startswith("cmdstat_"):
                name, rest = line[len("cmdstat_") :].split(":", 1)
                calls[name] = int(rest.split(",", 1)[0].split("=", 1)[1])
        calls.pop("info", None)
        return calls

    async def measure_capacity(self, http: httpx.AsyncClient, seconds: float) -> dict[str, Any]:
        """One kind of request at a time, to replica 0 alone, four at a time for ``seconds``:
        per request, the replica's CPU time, its database round trips and Redis commands."""
        target = self.replicas[0]
        key = self.load_keys[0]
        headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "10.5.0.1"}
        rng = random.Random(5)
        urls: list[str] = []
        for ds in self.ids[:40]:
            reply = await http.post(
                f"{target.url}/v1/datasets/{ds}/download", json={"start": "2024"}, headers=headers
            )
            urls += [sh["url"] for sh in reply.json()["shards"]]

        def request(endpoint: str) -> tuple[str, str, Any]:
            ds = rng.choice(self.ids)
            if endpoint == "search":
                return (
                    "GET",
                    f"/v1/datasets?q={' '.join(rng.sample(WORDS, rng.choice((1, 1, 2))))}",
                    None,
                )
            if endpoint == "detail":
                return "GET", f"/v1/datasets/{ds}", None
            if endpoint == "download":
                return "POST", f"/v1/datasets/{ds}/download", {"start": "2024"}
            if endpoint == "files":
                return "GET", rng.choice(urls), None
            return "GET", "/v1/usage", None

        results: dict[str, Any] = {}
        for endpoint in ENDPOINTS:
            assert target.proc is not None
            times: list[float] = []
            statuses: Counter[int] = Counter()
            db0, store0 = backend_cpu(self.database), self.store_ops()
            kinds0 = Counter(self.pgs[0].kinds)
            cpu0, pg0, redis0 = (
                tree_cpu(target.proc.pid),
                self.pgs[0].round_trips,
                self.redis_calls(),
            )
            started = time.perf_counter()

            async def loop(
                endpoint: str, started: float, times: list[float], statuses: Counter[int]
            ) -> None:
                while time.perf_counter() - started < seconds:
                    method, path, body = request(endpoint)
                    url = path if path.startswith("http") else target.url + path
                    t = time.perf_counter()
                    reply = await http.request(method, url, json=body, headers=headers)
                    times.append(time.perf_counter() - t)
                    statuses[reply.status_code] += 1

            await asyncio.gather(*(loop(endpoint, started, times, statuses) for _ in range(4)))
            await asyncio.sleep(0.3)  # let the replica finish what it writes after answering
            wall = time.perf_counter() - started
            n = statuses[200]
            cpu = tree_cpu(target.proc.pid) - cpu0
            db1 = backend_cpu(self.database)
            db_cpu = sum(v - db0.get(pid, 0.0) for pid, v in db1.items())
            redis = self.redis_calls() - redis0
            times.sort()
            results[endpoint] = {
                "requests": n,
                "statuses": dict(statuses),
                "rps": n / wall,
                "cpu_ms": 1000 * cpu / max(1, n),
                "rps_per_core": n / max(cpu, 1e-9),
                "pg_round_trips": (self.pgs[0].round_trips - pg0) / max(1, n),
                "pg_cpu_ms": 1000 * db_cpu / max(1, n),
                "pg_kinds": {k: v / max(1, n) for k, v in (self.pgs[0].kinds - kinds0).items()},
                "store_ops": {k: v / max(1, n) for k, v in (self.store_ops() - store0).items()},
                "redis_commands": {k: v / max(1, n) for k, v in redis.items()},
                "p50_ms": 1000 * _pct(times, 50),
                "p99_ms": 1000 * _pct(times, 99),
            }
        # Publishes: one after another through replica 0.
        assert target.proc is not None
        cpu0, pg0, redis0 = tree_cpu(target.proc.pid), self.pgs[0].round_trips, self.redis_calls()
        store0 = self.store_ops()
        records = [
            await self.publish_once(http, target, f"acme/capacity-{i % 2}", 1000 + i)
            for i in range(10)
        ]
        ok = [r for r in records if r["ok"]]
        n = max(1, len(ok))
        results["publish"] = {
            "requests": len(ok),
            "statuses": {"ok": len(ok), "failed": len(records) - len(ok)},
            "rps": 0.0,
            "cpu_ms": 1000 * (tree_cpu(target.proc.pid) - cpu0) / n,
            "rps_per_core": n / max(tree_cpu(target.proc.pid) - cpu0, 1e-9),
            "pg_round_trips": (self.pgs[0].round_trips - pg0) / n,
            "pg_cpu_ms": 0.0,
            "store_ops": {k: v / n for k, v in (self.store_ops() - store0).items()},
            "new_shards": sum(r.get("new_shards", 0) for r in ok) / n,
            "redis_commands": {k: v / n for k, v in (self.redis_calls() - redis0).items()},
            "p50_ms": 1000 * _med([r["seconds"] for r in ok]),
            "p99_ms": 1000 * max((r["seconds"] for r in ok), default=0),
        }
        self.extra_ids += [f"acme/capacity-{i}" for i in range(2)]
        return results

    # -- chaos --

    async def chaos(self) -> None:
        assert self.report is not None
        victim = self.replicas[-1]
        await asyncio.sleep(max(0.0, self.duration * self.kill_at - self.now()))
        window = Window(f"kill {victim.index}", self.now())
        self.report.windows.append(window)
        await asyncio.to_thread(victim.kill)
        await asyncio.sleep(self.down_for)
        await asyncio.to_thread(victim.start)
        victim.up = False
        async with httpx.AsyncClient(timeout=30) as http:
            await self.warm_up(http, victim)
        victim.up = True
        window.end = self.now()

        await asyncio.sleep(max(0.0, self.duration * self.redis_at - self.now()))
        window = Window("redis", self.now())
        self.report.windows.append(window)
        old = self.redis
        old.kill()
        old.wait()
        await asyncio.sleep(self.redis_down_for)
        self.redis = await asyncio.to_thread(self._start_redis)
        # The outage ends when every replica is ready again (a balancer's readiness probe).
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                states = []
                for r in self.replicas:
                    with suppress(httpx.HTTPError):
                        states.append((await http.get(f"{r.url}/readyz")).status_code)
                if states == [200] * len(self.replicas):
                    break
                await asyncio.sleep(0.1)
        window.end = self.now() + 1.0  # answers in flight when readiness flipped

    async def warm_up(self, http: httpx.AsyncClient, replica: Replica) -> None:
        """One publish through ``replica`` before it joins the rotation: its first commit
        imports pyarrow to check the shards (about 75 MiB once, measured here), which the RSS
        criterion would otherwise take for growth. A deployment can warm up the same way."""
        # New bytes (a shard already in the store is not checked again).
        n = secrets.randbelow(10**9)
        record = await self.publish_once(http, replica, f"acme/warm-{replica.index}", n)
        if not record["ok"]:
            raise AssertionError(f"warm-up publish through replica {replica.index}: {record}")
        self.extra_ids.append(f"acme/warm-{replica.index}")

    def _start_redis(self) -> subprocess.Popen[bytes]:
        proc, _ = self.stack.enter_context(redis_server(self.redis_port, self.folder / "redis"))
        return proc

    async def sample_rss(self, stop_at: float) -> None:
        assert self.report is not None
        while self.now() < stop_at:
            for r in self.replicas:
                if r.up and r.proc is not None:
                    self.report.rss.setdefault(r.index, []).append(
                        (self.now(), r.starts, tree_rss(r.proc.pid))
                    )
            await asyncio.sleep(2.0)

    # -- the end --

    async def consistency(self, http: httpx.AsyncClient) -> dict[str, Any]:
        from obstore.store import LocalStore

        store = LocalStore(self.folder / "store")
        import obstore

        published = {p["dataset"] for p in self.report.publishes}
        ids = self.ids + sorted(published | set(self.extra_ids))  # type: ignore[union-attr]
        differing, behind = [], []
        for ds in ids:
            bodies = []
            for r in self.replicas:
                reply = await http.get(
                    f"{r.url}/v1/datasets/{ds}",
                    headers={
                        "Authorization": f"Bearer {self.load_keys[0]}",
                        "X-Forwarded-For": "10.4.0.1",
                    },
                )
                bodies.append(
                    reply.content if reply.status_code == 200 else str(reply.status_code).encode()
                )
            if len(set(bodies)) != 1:
                differing.append(ds)
                continue
            if bodies[0][:1] != b"{":
                continue
            stored = json.loads(bytes(obstore.get(store, f"datasets/{ds}/manifest.json").bytes()))
            if json.loads(bodies[0])["manifest"]["publish_id"] != stored["publish_id"]:
                behind.append(ds)
        return {"datasets": len(ids), "differing": differing, "behind_store": behind}

    async def run(self) -> Report:
        from opendata_registry.db.engine import create_engine, session_factory
        from tests.registry.publishing.issuer import AUDIENCE, Issuer, serve

        self.report = Report(
            self.duration, self.rate, self.datasets, bucket=self.bucket, rss_margin=self.rss_margin
        )
        self.issuer = Issuer()
        server, _ = serve(self.issuer)
        self.stack.callback(server.server_close)
        self.stack.callback(server.shutdown)
        self.ids = await asyncio.to_thread(seed_store, self.folder / "store", self.datasets)
        database = self.stack.enter_context(fresh_database())
        self.database = database
        # One counting relay per replica: round trips are told apart by replica.
        self.pgs = [PgCounter() for _ in range(3)]
        for counter in self.pgs:
            self.stack.callback(counter.close)
        proc, self.redis_port = self.stack.enter_context(redis_server(None, self.folder / "redis"))
        self.redis = proc
        limit = 30
        env_common = {
            "OPENDATA_STORE": str(self.folder / "store"),
            "OPENDATA_REGISTRY_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "OPENDATA_REGISTRY_SECRET": SECRET,
            "OPENDATA_REGISTRY_OIDC_ISSUER": self.issuer.url,
            "OPENDATA_REGISTRY_OIDC_AUDIENCE": AUDIENCE,
            "OPENDATA_REGISTRY_TRUST_PROXY": "1",
            # The rate-limit check's tier (publishing counts against `free`, the publish tier).
            "OPENDATA_REGISTRY_TIERS": json.dumps({"pro": {"requests_per_minute": limit}}),
        }
        from tests._processes import registry_env

        for i in range(3):
            # One replica syncs from the bucket on a schedule (the operator guide's advice).
            env = registry_env(self.folder / f"home-{i}", **env_common)
            env["OPENDATA_REGISTRY_DATABASE_URL"] = (
                f"postgresql+asyncpg://postgres@127.0.0.1:{self.pgs[i].port}/{database}?ssl=disable"
            )
            env["OPENDATA_REGISTRY_SYNC_INTERVAL"] = "20" if i == 1 else "0"
            replica = Replica(i, env, self.folder)
            if i == 0 and self.capacity_seconds:
                replica.factory = "tests.registry.soak_app:create_app"
                env["SOAK_STORE_OPS"] = str(self.folder / "store-ops.txt")
                env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
            self.replicas.append(replica)
        for r in self.replicas:
            self.stack.callback(r.stop)
        self.replicas[0].start()  # migrates the fresh database and syncs first
        await asyncio.gather(*(asyncio.to_thread(r.start) for r in self.replicas[1:]))
        self.balancer = Balancer(self.replicas)
        engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}")
        self.sessions = session_factory(engine)
        try:
            self.load_keys = [k for k, _ in await self.keys("enterprise", 4)]
            async with httpx.AsyncClient(timeout=30) as http:
                for replica in self.replicas:
                    await self.warm_up(http, replica)
            return await self._run(limit)
        finally:
            await engine.dispose()

    async def _run(self, limit: int) -> Report:
        assert self.report is not None
        report = self.report
        before = cpu_times()
        report.machine = machine() | {
            "load_before": _load(),
            "publish_every": self.publish_every,
            "revoke_every": self.revoke_every,
        }
        self.t0 = time.monotonic()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            if self.capacity_seconds:
                report.capacity = await self.measure_capacity(http, self.capacity_seconds)
                self.t0 = time.monotonic()
            stop_at = self.duration
            tasks = [
                asyncio.create_task(self.worker(http, n, stop_at)) for n in range(self.concurrency)
            ]
            tasks += [
                asyncio.create_task(self.publisher(http, stop_at)),
                asyncio.create_task(self.revoker(http, stop_at)),
                asyncio.create_task(self.sample_rss(stop_at)),
                asyncio.create_task(self.chaos()),
            ]
            await asyncio.gather(*tasks)
            report.rate_limit = await self.rate_limit_check(http, limit)
            report.consistency = await self.consistency(http)
        report.tables = table_sizes(self.database)
        report.machine["load_after"] = _load()
        report.machine["steal"] = steal_percent(before, cpu_times())
        for r in self.replicas:
            r.stop()
            if "Traceback" in r.logs():
                report.logs_with_traceback.append(r.index)
        return report


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
    }


def soak(
    folder: Path,
    *,
    duration: float,
    rate: float,
    datasets: int,
    bucket: float,
    publish_every: float = 5.0,
    revoke_every: float = 10.0,
    rss_margin: float = 0.10,
    capacity_seconds: float = 0.0,
) -> Report:
    """Run the soak in ``folder`` (logs, store, Redis dir) and return its report."""
    s = Soak(folder, duration, rate, datasets, bucket, publish_every, revoke_every, rss_margin)
    s.capacity_seconds = capacity_seconds
    with s.stack:
        return asyncio.run(s.run())
