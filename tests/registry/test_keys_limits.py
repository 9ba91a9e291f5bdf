"""API keys, tiers and rate limits — the limiter in memory and on the Redis server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from dataclasses import replace
from typing import Any

import msgspec
import pytest

from opendata_core.api import UsageReport
from opendata_core.problems import ProblemDetails
from opendata_registry.context import Registry
from opendata_registry.domain.keys.services import KeyService, checksum_ok, generate_key
from opendata_registry.infra.settings import Settings

from .conftest import SECRET, Dataset, publish, with_tier

REDIS = "redis://127.0.0.1:6379/0"


def problem(response: Any, status: int, code: str) -> ProblemDetails:
    assert response.status_code == status, response.text
    body = msgspec.json.decode(response.content, type=ProblemDetails)
    assert body.code == code
    return body


def create_key(settings: Settings, tier: str = "free") -> str:
    async def go() -> str:
        registry = Registry(settings)
        try:
            await registry.migrate()
            async with registry.sessions() as session:
                key, _ = await KeyService(session).create(tier=tier, name="test")
            return key
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())


def revoke(settings: Settings, ident: str) -> None:
    async def go() -> None:
        registry = Registry(settings)
        try:
            async with registry.sessions() as session:
                await KeyService(session).revoke(ident)
        finally:
            await registry.engine.dispose()

    asyncio.run(go())


def test_key_shape_and_checksum() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("od_live_") and len(key) == 44 and checksum_ok(key)
    key = next(iter(keys))
    # Every single-character typo in the random part or checksum is caught by the checksum.
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    for i in range(8, 44):
        wrong = alphabet[(alphabet.index(key[i]) + 1) % 62]
        assert not checksum_ok(key[:i] + wrong + key[i + 1 :])
    assert not checksum_ok(key[:-1])
    assert not checksum_ok("od_test_" + key[8:])


@pytest.fixture(params=["memory", "redis"])
def limiter_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings whose limiter is in memory or on the Redis server (a unique prefix per test)."""
    if request.param == "memory":
        return settings
    return replace(settings, redis_url=REDIS, redis_prefix=f"test-{secrets.token_hex(6)}")


def test_keys_authenticate_and_carry_their_tier(
    local_store: Any, limiter_settings: Settings, make_client: Any
) -> None:
    publish(local_store, Dataset("ecb/fx"))
    key = create_key(limiter_settings, "pro")
    client = make_client(limiter_settings)
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        report = msgspec.json.decode(
            client.get("/v1/usage", headers=headers).content, type=UsageReport
        )
        assert report.tier == "pro" and report.key_prefix == key[:14]
        assert report.limits.max_page_size == 500
        response = client.get("/v1/datasets", params={"per_page": 500}, headers=headers)
        assert response.status_code == 200
        assert response.headers["ratelimit-limit"] == "3000"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Bearer od_live_typo"}, "malformed"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Bearer"),
        ({"X-API-Key": generate_key()}, "unknown API key"),
    ],
)
def test_bad_keys_are_401_without_echoing_them(
    settings: Settings, make_client: Any, headers: dict[str, str], message: str
) -> None:
    client = make_client(settings)
    response = client.get("/v1/datasets", headers=headers)
    body = problem(response, 401, "unauthenticated")
    assert message in body.message
    for value in headers.values():
        assert value.split()[-1] not in response.text


def test_a_revoked_key_fails_on_its_next_request(settings: Settings, make_client: Any) -> None:
    key = create_key(settings)
    client = make_client(settings)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/usage", headers=headers).status_code == 200
    revoke(settings, key[:14])
    body = problem(client.get("/v1/usage", headers=headers), 401, "unauthenticated")
    assert "revoked" in body.message


def test_anonymous_burst_gets_429_with_retry_after(
    limiter_settings: Settings, make_client: Any
) -> None:
    client = make_client(with_tier(limiter_settings, "anonymous", requests_per_minute=5))
    answers = [client.get("/v1/datasets") for _ in range(7)]
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 2
    first = answers[0].headers
    assert first["ratelimit-limit"] == "5" and first["ratelimit-remaining"] == "4"
    refused = answers[-1]
    body = problem(refused, 429, "rate_limited")
    assert "5 requests per minute" in body.message and "anonymous" in body.message
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    assert body.details["retry_after"] > 0
    # Health checks are not counted.
    assert client.get("/healthz").status_code == 200


def test_a_key_has_its_own_budget(settings: Settings, make_client: Any) -> None:
    limited = with_tier(
        with_tier(settings, "anonymous", requests_per_minute=2), "free", requests_per_minute=4
    )
    key = create_key(limited, "free")
    client = make_client(limited)
    anonymous = [client.get("/v1/datasets").status_code for _ in range(3)]
    keyed = [client.get("/v1/datasets", headers={"X-API-Key": key}).status_code for _ in range(5)]
    assert anonymous == [200, 200, 429]
    assert keyed == [200, 200, 200, 200, 429]


def test_two_registries_sharing_redis_enforce_one_budget(
    settings: Settings, make_client: Any
) -> None:
    shared = replace(
        with_tier(settings, "anonymous", requests_per_minute=6),
        redis_url=REDIS,
        redis_prefix=f"test-{secrets.token_hex(6)}",
    )
    first, second = make_client(shared), make_client(shared)
    statuses = []
    for i in range(8):
        statuses.append((first if i % 2 == 0 else second).get("/v1/datasets").status_code)
    assert statuses == [200] * 6 + [429] * 2
    # Another prefix (another deployment) has its own budget.
    other = make_client(replace(shared, redis_prefix=f"test-{secrets.token_hex(6)}"))
    assert other.get("/v1/datasets").status_code == 200


def test_daily_download_budget(
    local_store: Any, limiter_settings: Settings, make_client: Any
) -> None:
    publish(local_store, Dataset("ecb/fx", years=[2023, 2024]))
    client = make_client(limiter_settings)
    one = client.post("/v1/datasets/ecb/fx/download", json={"start": "2024"})
    shard_size = one.json()["shards"][0]["bytes"]
    budget = with_tier(limiter_settings, "anonymous", download_bytes_per_day=shard_size * 2)
    client = make_client(replace(budget, redis_prefix=f"test-{secrets.token_hex(6)}"))
    ok = [client.post("/v1/datasets/ecb/fx/download", json={"start": "2024"}) for _ in range(2)]
    assert [r.status_code for r in ok] == [200, 200]
    refused = client.post("/v1/datasets/ecb/fx/download", json={"start": "2024"})
    body = problem(refused, 429, "rate_limited")
    assert "daily download budget" in body.message
    assert int(refused.headers["retry-after"]) >= 1


def test_no_secret_in_any_response_or_log_line(
    local_store: Any, settings: Settings, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    publish(local_store, Dataset("ecb/fx"))
    key = create_key(settings)
    client = make_client(settings)
    headers = {"Authorization": f"Bearer {key}"}
    bodies = [
        client.get("/v1/datasets", headers=headers).text,
        client.get("/v1/datasets/ecb/fx", headers=headers).text,
        client.post("/v1/datasets/ecb/fx/download", json={}, headers=headers).text,
        client.get("/v1/usage", headers=headers).text,
        client.get("/v1/datasets", headers={"X-API-Key": key[:-1] + "x"}).text,
        client.get("/readyz").text,
        client.get("/schema/openapi.json").text,
    ]
    text = "\n".join(bodies) + "\n".join(r.getMessage() for r in caplog.records)
    assert key not in text and key[14:] not in text
    assert SECRET.decode() not in text
    assert caplog.records  # the log was captured (sync, migrations, requests)


@pytest.mark.parametrize("redis_url", [None, REDIS], ids=["memory", "redis"])
def test_window_counts_and_ends_come_from_one_count(redis_url: str | None) -> None:
    """Remaining comes from the count the storage returns; the window's end is the one the
    storage keeps, also in a process that did not open the window (another replica)."""
    from limits import RateLimitItemPerMinute

    from opendata_registry.infra.limits import Limiter
    from opendata_registry.infra.settings import DEFAULT_TIERS

    tier = msgspec.structs.replace(DEFAULT_TIERS["free"], requests_per_minute=3)
    elapsed = 2.0  # seconds the clocks are advanced by (no sleep)
    now = [time.time()]

    async def scenario() -> None:
        prefix = f"test-{secrets.token_hex(6)}"
        first = Limiter(redis_url, prefix=prefix, wall_clock=lambda: now[0])
        other = Limiter(redis_url, prefix=prefix, wall_clock=lambda: now[0]) if redis_url else first
        try:
            opened = await first.hit_request("ip:1", tier)
            assert (opened.allowed, opened.remaining, opened.reset_after) == (True, 2, 60)
            now[0] += elapsed
            if redis_url:  # Redis keeps its own clock: let its window age by as much
                from redis.asyncio import Redis

                key = f"{prefix}:limits:" + RateLimitItemPerMinute(3).key_for("requests", "ip:1")
                async with Redis.from_url(REDIS) as redis:
                    ttl = await redis.pttl(key)
                    assert 0 < ttl <= 60_000
                    await redis.pexpire(key, ttl - int(elapsed * 1000))
            seen = await other.hit_request("ip:1", tier)  # asks the storage when it ends
            again = await first.hit_request("ip:1", tier)  # remembers when it ends
            assert (seen.remaining, again.remaining) == (1, 0)
            assert again.reset_after == pytest.approx(60 - elapsed)
            if redis_url:
                # Redis keeps its own clock and reports a window's end in whole seconds (TTL,
                # rounded): between what it had left before the hit (60 - elapsed at most) and
                # what it has left now, read after, however slowly this machine ran meanwhile.
                async with Redis.from_url(REDIS) as redis:
                    left = await redis.pttl(key) / 1000
                assert left - 0.5 <= seen.reset_after <= 60 - elapsed + 0.5
            else:
                assert seen.reset_after == pytest.approx(60 - elapsed, abs=1e-6)
            refused = await other.hit_request("ip:1", tier)
            assert not refused.allowed and refused.headers()["RateLimit-Remaining"] == "0"
            assert refused.headers()["Retry-After"] == str(math.ceil(refused.reset_after))
            # A window that ends (here: its counter cleared) is opened again by the next hit.
            await first.storage.clear(RateLimitItemPerMinute(3).key_for("requests", "ip:1"))
            reopened = await other.hit_request("ip:1", tier)
            assert (reopened.allowed, reopened.remaining) == (True, 2)
            assert reopened.reset_after > 59
        finally:
            await first.close()
            if other is not first:
                await other.close()

    asyncio.run(scenario())
