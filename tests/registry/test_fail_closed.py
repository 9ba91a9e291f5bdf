"""Failing closed, visibly: readiness of each dependency, 503 (never 500) while Redis or the store
is down, the fail-open switch, failed-authentication limits, and 503 bodies without internals.

Redis outages use a port where nothing listens (or our own ``redis-server``, started and killed
here); the shared Redis on 6379 is only ever read and written under a unique prefix.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest

from opendata_core.api import TierLimits
from opendata_core.errors import OpenDataError, ServiceUnavailable
from opendata_core.problems import ProblemDetails
from opendata_registry.context import Registry
from opendata_registry.domain.keys.services import generate_key
from opendata_registry.infra.limits import PROBE_SECONDS, Limiter
from opendata_registry.infra.settings import Settings
from tests._processes import TcpRelay, redis_server, refused_port

from .conftest import Dataset, Records, dead_s3, publish
from .test_keys_limits import REDIS, create_key

TIER = TierLimits(
    name="t",
    requests_per_minute=3,
    download_bytes_per_day=10,
    url_expiry_minutes=5,
    max_page_size=5,
)


def problem(response: Any, status: int, code: str) -> ProblemDetails:
    assert response.status_code == status, response.text
    body = msgspec.json.decode(response.content, type=ProblemDetails)
    assert body.code == code, body
    return body


@pytest.fixture
def dead_redis() -> Iterator[str]:
    """A Redis URL where nothing listens."""
    with refused_port() as port:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A loopback port where nothing listens (connections are refused)."""
    with refused_port() as port:
        yield port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung dependency)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- readiness ------------------------------------------------------------------------------------


def test_readyz_names_database_redis_and_store_when_all_answer(
    local_store: Any, settings: Settings, make_client: Any
) -> None:
    publish(local_store, Dataset("ecb/fx"))
    shared = replace(settings, redis_url=REDIS, redis_prefix=f"test-{secrets.token_hex(6)}")
    reply = make_client(shared).get("/readyz")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ready", "database": "ok", "redis": "ok", "store": "ok"}


def test_readyz_is_503_naming_redis_when_it_is_down(
    settings: Settings, make_client: Any, dead_redis: str, registry_log: Records
) -> None:
    client = make_client(replace(settings, redis_url=dead_redis))
    for _ in range(3):
        reply = client.get("/readyz")
        body = problem(reply, 503, "unavailable")
        assert body.details["service"] == "redis"
        assert "redis down" in body.message and "database ok" in body.message
        assert "store ok" in body.message
        assert int(reply.headers["retry-after"]) >= 1
        assert dead_redis.rsplit(":", 1)[1].split("/")[0] not in reply.text  # no port
    # The detail goes to the log, once for the outage, not once per poll.
    assert registry_log.count("readiness: redis is down") == 1


def test_readyz_stays_ready_with_redis_degraded_when_limits_fail_open(
    settings: Settings, make_client: Any, dead_redis: str
) -> None:
    client = make_client(replace(settings, redis_url=dead_redis, limits_fail_open=True))
    reply = client.get("/readyz")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"status": "ready", "database": "ok", "redis": "degraded", "store": "ok"}


def test_readyz_reports_a_hung_redis_as_timeout(
    settings: Settings, make_client: Any, silent_port: int
) -> None:
    # Redis's own timeout is longer than readiness's: readiness stops waiting first.
    hung = replace(
        settings,
        redis_url=f"redis://127.0.0.1:{silent_port}/0",
        redis_timeout=30,
        ready_timeout=0.2,
    )
    body = problem(make_client(hung).get("/readyz"), 503, "unavailable")
    assert body.details["service"] == "redis" and "redis timeout" in body.message


def test_readiness_names_a_database_that_does_not_answer(
    tmp_path: Path, store_root: Path, dead_port: int
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        store=str(store_root),
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{dead_port}/test",
        secret=b"x" * 32,
        sync_interval=0,
    )

    async def go() -> tuple[bool, dict[str, str]]:
        registry = Registry(settings)
        try:
            return await registry.check_ready()
        finally:
            await registry.engine.dispose()

    ready, states = asyncio.run(go())
    assert not ready
    assert states == {"database": "down", "store": "ok"}


def test_readyz_names_an_s3_store_without_its_endpoint_bucket_or_prefix(
    settings: Settings, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with dead_s3(settings, monkeypatch) as (dead, port):
        reply = make_client(dead).get("/readyz")
    body = problem(reply, 503, "unavailable")
    assert body.details["service"] == "store"
    for secret in ("hidden-bucket", "hidden-prefix", str(port), "127.0.0.1"):
        assert secret not in reply.text


# -- requests while Redis is down -----------------------------------------------------------------


def test_requests_get_503_with_retry_after_while_redis_is_down(
    local_store: Any, settings: Settings, make_client: Any, dead_redis: str
) -> None:
    publish(local_store, Dataset("ecb/fx"))
    client = make_client(replace(settings, redis_url=dead_redis))
    for path in ("/v1/datasets", "/v1/datasets/ecb/fx", "/v1/usage"):
        reply = client.get(path)
        body = problem(reply, 503, "unavailable")
        assert body.details["service"] == "redis"
        assert "rate limiter is unavailable" in body.message
        assert int(reply.headers["retry-after"]) >= 1
    reply = client.post("/v1/datasets/ecb/fx/download", json={})
    problem(reply, 503, "unavailable")
    assert client.get("/healthz").status_code == 200  # liveness does not need Redis


def test_requests_are_limited_in_memory_while_redis_is_down_with_fail_open(
    local_store: Any, settings: Settings, make_client: Any, dead_redis: str
) -> None:
    publish(local_store, Dataset("ecb/fx"))
    opened = replace(settings, redis_url=dead_redis, limits_fail_open=True)
    tiers = dict(opened.tiers)
    tiers["anonymous"] = msgspec.structs.replace(tiers["anonymous"], requests_per_minute=4)
    client = make_client(replace(opened, tiers=tiers))
    statuses = [client.get("/v1/datasets").status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_limiter_fails_closed_logs_once_and_probes_redis_once_per_interval(
    dead_redis: str, registry_log: Records
) -> None:
    clock = Clock()

    async def go() -> list[float | None]:
        limiter = Limiter(dead_redis, prefix="t", timeout=0.2, clock=clock)
        waits: list[float | None] = []
        try:
            for step in range(5):
                clock.now += PROBE_SECONDS * step / 4
                with pytest.raises(ServiceUnavailable) as caught:
                    await limiter.hit_request("ip:1", TIER)
                waits.append(caught.value.retry_after)
            assert limiter.redis_down
        finally:
            await limiter.close()
        return waits

    waits = asyncio.run(go())
    assert all(w is not None and w >= 1 for w in waits)
    assert registry_log.count("Redis does not answer") == 1
    assert registry_log.count("Redis does not answer", "failing closed") == 1


def test_limiter_fails_open_to_memory_and_returns_to_redis_when_it_answers(
    tmp_path: Path, registry_log: Records
) -> None:
    """Our own redis-server: killed, the limiter counts in memory; restarted, in Redis again.

    The limiter reaches Redis through a relay whose port the test holds throughout: the new
    redis-server gets a port of its own, and the limiter's URL stays the same.
    """
    relay = TcpRelay()
    url = f"redis://127.0.0.1:{relay.port}/0"
    clock = Clock()
    prefix = f"t{secrets.token_hex(4)}"

    async def count(limiter: Limiter, n: int) -> list[bool]:
        return [(await limiter.hit_request("ip:1", TIER)).allowed for _ in range(n)]

    async def redis_count() -> int:
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        try:
            keys = await client.keys(f"{prefix}:limits*")
            return sum([int(await client.get(k) or 0) for k in keys])
        finally:
            await client.aclose()

    limiter = Limiter(url, prefix=prefix, fail_open=True, timeout=0.5, clock=clock)
    loop = asyncio.new_event_loop()
    try:
        with redis_server(None, tmp_path / "redis") as (proc, relay.upstream):
            assert loop.run_until_complete(count(limiter, 2)) == [True, True]
            assert loop.run_until_complete(redis_count()) == 2
            proc.kill()
            proc.wait()
            relay.upstream = None
        # Down: counted in memory (a fresh window there), never an error.
        assert loop.run_until_complete(count(limiter, 4)) == [True, True, True, False]
        assert limiter.redis_down
        with redis_server(None, tmp_path / "redis-again") as (_, relay.upstream):
            # Within the probe interval the limiter still skips Redis...
            loop.run_until_complete(count(limiter, 1))
            assert limiter.redis_down
            # ...after it, the next request asks Redis, which answers: shared again.
            clock.now += PROBE_SECONDS
            assert loop.run_until_complete(count(limiter, 1)) == [True]
            assert not limiter.redis_down
            assert loop.run_until_complete(redis_count()) == 1  # a new Redis, a new window
    finally:
        loop.run_until_complete(limiter.close())
        loop.close()
        relay.close()
    assert registry_log.count("Redis does not answer") == 1
    assert registry_log.count("Redis does not answer", "failing open") == 1
    assert registry_log.count("Redis answers again") == 1


# -- failed authentication ------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def auth_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Small thresholds; the limiter in memory or on the shared Redis (a unique prefix)."""
    small = replace(
        settings, auth_failures_per_address=3, auth_failures_per_key=5, trust_proxy=True
    )
    if request.param == "memory":
        return small
    return replace(small, redis_url=REDIS, redis_prefix=f"test-{secrets.token_hex(6)}")


def _from(ip: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip, **headers}


def test_failed_authentication_from_one_address_is_limited(
    auth_settings: Settings, make_client: Any
) -> None:
    key = create_key(auth_settings)
    client = make_client(auth_settings)
    bad = [generate_key() for _ in range(3)]
    for wrong in bad:
        problem(
            client.get("/v1/usage", headers=_from("10.0.0.1", **{"X-API-Key": wrong})),
            401,
            "unauthenticated",
        )
    # The 4th failure from the address crosses the threshold: 429 with Retry-After...
    reply = client.get("/v1/usage", headers=_from("10.0.0.1", Authorization="Bearer nope"))
    body = problem(reply, 429, "rate_limited")
    assert "failed authentications from this address" in body.message
    assert 1 <= int(reply.headers["retry-after"]) <= 60
    # ...and then every API request from it, before any key is looked at (a valid one too).
    for headers in ({"X-API-Key": key}, {}):
        problem(client.get("/v1/usage", headers=_from("10.0.0.1", **headers)), 429, "rate_limited")
    # Another address is not affected.
    assert (
        client.get("/v1/usage", headers=_from("10.0.0.2", **{"X-API-Key": key})).status_code == 200
    )
    problem(
        client.get("/v1/usage", headers=_from("10.0.0.2", **{"X-API-Key": bad[0]})),
        401,
        "unauthenticated",
    )


def test_failed_authentication_with_one_key_prefix_is_limited_across_addresses(
    auth_settings: Settings, make_client: Any
) -> None:
    client = make_client(auth_settings)
    target = generate_key()
    guesses = [target[:14] + generate_key()[14:] for _ in range(6)]
    statuses = [
        client.get("/v1/usage", headers=_from(f"10.1.0.{n}", **{"X-API-Key": guess})).status_code
        for n, guess in enumerate(guesses)
    ]
    assert statuses == [401] * 5 + [429]
    body = problem(
        client.get("/v1/usage", headers=_from("10.1.1.1", **{"X-API-Key": guesses[0]})),
        429,
        "rate_limited",
    )
    assert "with this key" in body.message
    other = generate_key()  # another prefix, another fresh address: still a plain 401
    problem(
        client.get("/v1/usage", headers=_from("10.1.1.2", **{"X-API-Key": other})),
        401,
        "unauthenticated",
    )


def test_refused_oidc_exchanges_count_as_failed_authentication(
    auth_settings: Settings, make_client: Any
) -> None:
    client = make_client(auth_settings)
    statuses = [
        client.post(
            "/v1/auth/github-oidc", json={"token": "not-a-jwt"}, headers=_from("10.2.0.1")
        ).status_code
        for _ in range(5)
    ]
    # The handler's own 401s are counted as they leave; past 3 the address gets 429.
    assert statuses[:3] == [401, 401, 401] and statuses[-1] == 429, statuses


def test_failed_authentication_limits_can_be_switched_off(
    settings: Settings, make_client: Any
) -> None:
    client = make_client(replace(settings, auth_failures_per_address=0, auth_failures_per_key=0))
    statuses = {
        client.get("/v1/usage", headers={"X-API-Key": generate_key()}).status_code
        for _ in range(30)
    }
    assert statuses == {401}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OPENDATA_REGISTRY_LIMITS_FAIL_OPEN", "maybe", "is not 1 or 0"),
        ("OPENDATA_REGISTRY_REDIS_TIMEOUT", "0", "must be positive"),
        ("OPENDATA_REGISTRY_READY_TIMEOUT", "-1", "is not a non-negative number"),
        ("OPENDATA_REGISTRY_AUTH_FAILURES_PER_ADDRESS", "many", "is not a non-negative number"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(OpenDataError, match=message) as caught:
        Settings.from_env({"OPENDATA_HOME": "/tmp/od", name: value}, persist_secret=False)
    assert name in str(caught.value)


def test_settings_defaults_and_switches() -> None:
    env = {"OPENDATA_HOME": "/tmp/od"}
    default = Settings.from_env(env, persist_secret=False)
    assert (default.limits_fail_open, default.auth_failures_per_address) == (False, 20)
    assert (default.auth_failures_per_key, default.redis_timeout, default.ready_timeout) == (
        60,
        0.5,
        2.0,
    )
    opened = Settings.from_env(
        {
            **env,
            "OPENDATA_REGISTRY_LIMITS_FAIL_OPEN": "1",
            "OPENDATA_REGISTRY_AUTH_FAILURES_PER_ADDRESS": "5",
        },
        persist_secret=False,
    )
    assert opened.limits_fail_open and opened.auth_failures_per_address == 5


def test_a_database_that_stops_answering_is_503_not_500(
    settings: Settings, make_client: Any, dead_port: int
) -> None:
    """Fault injection: after start-up the registry's sessions point at a port where no
    PostgreSQL listens (the shared server is never touched)."""
    from opendata_registry.db.engine import create_engine, session_factory

    key = create_key(settings)
    client = make_client(settings)
    registry: Registry = client.app.state.registry
    dead = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{dead_port}/test", schema=None)
    registry.sessions = session_factory(dead)
    reply = client.get("/v1/usage", headers={"X-API-Key": key})  # the key is looked up
    body = problem(reply, 503, "unavailable")
    assert body.details["service"] == "database"
    assert int(reply.headers["retry-after"]) >= 1
    ready = problem(client.get("/readyz"), 503, "unavailable")
    assert ready.details["service"] == "database" and "database down" in ready.message
