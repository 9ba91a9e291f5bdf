"""Redis killed and restarted under load, with two real registry processes sharing it.

Our own ``redis-server`` (never the shared one), reached through a :class:`TcpRelay` whose port
the test holds throughout; two registries (granian, the image's command) on PostgreSQL (a fresh
schema) and one local store; four threads send a bounded loop of API requests to both while the
test kills Redis (SIGKILL) and starts a new one, which the relay then forwards to (the registries'
Redis URL never changes, and no other process can take its port meanwhile). Both modes:

- fail closed (the default): while Redis is down ``/readyz`` is 503 naming ``redis`` and every API
  answer is 503 ``unavailable`` with ``Retry-After`` (which the client retries, then reports);
- fail open (``OPENDATA_REGISTRY_LIMITS_FAIL_OPEN=1``): ``/readyz`` stays 200 with ``redis:
  degraded`` and requests are served under per-process limits.

In both, no answer is a 500 (or any 5xx but 503), no request errors at the transport, and
``/readyz`` flips after Redis goes and after it comes back (the times are printed, not asserted:
they measure the machine as much as the registry; docs/operator-guide.md states them).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from opendata_core.errors import ServiceUnavailable
from tests._processes import TcpRelay, ready_registry, redis_server, stop

from .conftest import PG_URL, Dataset, _drop_schema, publish

BIN = Path(sys.executable).parent
FLIP_DEADLINE = 60.0
"""How long ``/readyz`` may take to flip before the test gives up (a deadline, not a target)."""
MAX_REQUESTS = 6000
"""The load's bound on requests, whatever the machine's speed."""


@dataclass
class Answer:
    phase: str
    status: int
    code: str | None = None
    retry_after: str | None = None


@dataclass
class Load:
    """Four threads sending API requests round-robin to the registries until told to stop."""

    urls: list[str]
    phase: str = "up"
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self, worker: int) -> None:
        requests = [
            ("GET", "/v1/datasets", None),
            ("GET", "/v1/datasets/ecb/fx", None),
            ("POST", "/v1/datasets/ecb/fx/download", {"start": "2024"}),
        ]
        n = worker
        with httpx.Client(timeout=10) as http:
            while not self.stopped.is_set() and len(self.answers) < MAX_REQUESTS:
                method, path, body = requests[n % len(requests)]
                url = self.urls[n % len(self.urls)]
                n += 1
                phase = self.phase
                try:
                    reply = http.request(method, url + path, json=body)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{phase}: {method} {path}: {exc!r}")
                    continue
                if self.phase != phase:  # in flight across a change: no phase of its own
                    phase = "transition"
                code = None
                if reply.status_code >= 400:
                    code = reply.json().get("code")
                self.answers.append(
                    Answer(phase, reply.status_code, code, reply.headers.get("retry-after"))
                )

    def hold(self, seconds: float, answers: int = 20) -> None:
        """Keep the current phase for ``seconds`` and until it has ``answers`` (at most 30 s:
        a loaded machine answers the first requests of a fresh process slowly)."""
        started = time.monotonic()
        while time.monotonic() - started < 30:
            if time.monotonic() - started >= seconds and len(self.of(self.phase)) >= answers:
                return
            time.sleep(0.05)

    def of(self, phase: str) -> list[Answer]:
        return [a for a in self.answers if a.phase == phase]


@pytest.fixture
def pg_schema() -> Iterator[str]:
    schema = f"t_{secrets.token_hex(6)}"
    yield schema
    asyncio.run(_drop_schema(schema))


@contextmanager
def registry(env: dict[str, str], log: Path) -> Iterator[str]:
    """One registry process (granian + the app factory) on a port it picks; yields its URL."""
    command = [str(BIN / "granian"), "--interface", "asgi", "--factory", "--host", "127.0.0.1"]
    command += ["--port", "0", "opendata_registry.app:create_app"]
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield ready_registry(proc, log=log, interval=0.1)
    finally:
        stop(proc)


def readiness(urls: list[str]) -> list[tuple[int, dict[str, str]]]:
    found = []
    for url in urls:
        reply = httpx.get(f"{url}/readyz", timeout=10)
        found.append((reply.status_code, reply.json()))
    return found


def wait_for(urls: list[str], ok: Callable[[int, Any], bool], what: str) -> float:
    """Seconds until ``ok(status, body)`` holds for every registry's ``/readyz`` (polled every
    50 ms, as a load balancer would, only faster)."""
    started = time.monotonic()
    while True:
        states = readiness(urls)
        if all(ok(status, body) for status, body in states):
            return time.monotonic() - started
        if time.monotonic() - started > FLIP_DEADLINE:
            raise AssertionError(f"{what}: /readyz still {states}")
        time.sleep(0.05)


@pytest.mark.parametrize("fail_open", [False, True], ids=["fail-closed", "fail-open"])
def test_redis_killed_and_restarted_under_load(
    tmp_path: Path, pg_schema: str, fail_open: bool
) -> None:
    from obstore.store import LocalStore

    home = tmp_path / "home"
    publish(LocalStore(home / "store", mkdir=True), Dataset("ecb/fx", years=[2023, 2024]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "AWS_"))}
    with ExitStack() as stack:
        redis, redis_port = stack.enter_context(redis_server(None, tmp_path / "redis"))
        relay = stack.enter_context(TcpRelay(redis_port))
        env.update(
            OPENDATA_HOME=str(home),
            OPENDATA_REGISTRY_DATABASE_URL=PG_URL,
            OPENDATA_REGISTRY_DATABASE_SCHEMA=pg_schema,
            OPENDATA_REGISTRY_REDIS_URL=f"redis://127.0.0.1:{relay.port}/0",
            OPENDATA_REGISTRY_REDIS_PREFIX=f"outage-{secrets.token_hex(4)}",
            OPENDATA_REGISTRY_SECRET="s" * 40,
            OPENDATA_REGISTRY_SYNC_INTERVAL="0",
            OPENDATA_REGISTRY_TIERS='{"anonymous": {"requests_per_minute": 1000000}}',
            OPENDATA_REGISTRY_LIMITS_FAIL_OPEN="1" if fail_open else "0",
        )
        urls = [stack.enter_context(registry(env, tmp_path / f"registry-{n}.log")) for n in (1, 2)]
        load = Load(urls)
        threads = [threading.Thread(target=load.run, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        try:
            load.hold(1.0)
            load.phase = "killing"
            redis.kill()
            redis.wait()
            relay.upstream = None  # its port is free now: whatever binds it is not our Redis
            if fail_open:
                down = wait_for(urls, lambda s, b: s == 200 and b["redis"] == "degraded", "down")
            else:
                down = wait_for(urls, lambda s, b: s == 503 and b["code"] == "unavailable", "down")
            load.phase = "down"
            load.hold(1.5)
            if not fail_open:  # the client retries the 503s, then says so
                from opendata._registry import RegistryTransport

                with pytest.raises(ServiceUnavailable, match=r"gave up after 3 attempts"):
                    RegistryTransport(urls[0], max_wait=5).search("")
            load.phase = "restarting"
            _, again = stack.enter_context(redis_server(None, tmp_path / "redis-again"))
            relay.upstream = again
            up = wait_for(
                urls, lambda s, b: s == 200 and b.get("redis") == "ok", "back after restart"
            )
            load.phase = "after"
            load.hold(1.0)
        finally:
            load.stopped.set()
            for thread in threads:
                thread.join(timeout=60)
        states = readiness(urls)
    mode = "fail-open" if fail_open else "fail-closed"
    print(
        f"\n{mode}: /readyz flipped {down:.2f} s after Redis was killed and {up:.2f} s after it "
        f"answered again; {len(load.answers)} answers "
        f"({', '.join(f'{p}: {len(load.of(p))}' for p in ('up', 'down', 'after'))})"
    )
    assert not load.errors, load.errors[:5]
    statuses = {a.status for a in load.answers}
    assert statuses <= {200, 429, 503}, statuses  # never a 500
    for answer in load.answers:
        if answer.status == 503:
            assert answer.code == "unavailable" and answer.retry_after, answer
            assert int(answer.retry_after) >= 1
        if answer.status == 429:
            assert answer.code == "rate_limited" and answer.retry_after, answer
    assert load.of("up") and {a.status for a in load.of("up")} == {200}
    assert load.of("after") and {a.status for a in load.of("after")} == {200}
    during = {a.status for a in load.of("down")}
    assert load.of("down")
    assert during == ({200} if fail_open else {503}), during
    assert all(status == 200 for status, _ in states)
