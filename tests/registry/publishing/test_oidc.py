"""``POST /v1/auth/github-oidc``: GitHub Actions OIDC tokens verified against a local issuer.

Every refusal is a 401 with a message naming the rule that failed — never a 5xx.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

import jwt
import pytest
from litestar.testing import AsyncTestClient

from opendata_registry.app import create_app
from opendata_registry.domain.publishing.oidc import JwksCache
from opendata_registry.infra.settings import Settings
from tests.registry.publishing.issuer import AUDIENCE, Issuer, Repo

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_config_names_issuer_and_audience(reg: Any, issuer: Issuer) -> None:
    r = reg.get("/v1/auth/github-oidc")
    assert r.status_code == 200
    assert r.json() == {"issuer": issuer.url, "audience": AUDIENCE}


def test_exchange_gives_a_short_lived_publish_token(reg: Any, issuer: Issuer) -> None:
    r = reg.post("/v1/auth/github-oidc", json={"token": issuer.token(Repo())})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"].startswith("od_pub_")
    assert body["repository"] == "acme/fx-rates"
    from datetime import datetime

    lifetime = datetime.fromisoformat(body["expires_at"]).timestamp() - time.time()
    assert 0 < lifetime <= 15 * 60


def _hs256_with_public_key(issuer: Issuer) -> str:
    # The classic confusion attack: HMAC "signed" with the RSA public key as the secret.
    import base64
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = issuer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}).encode())
    payload = b64(json.dumps(issuer.claims()).encode())
    mac = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def _alg_none(issuer: Issuer) -> str:
    return jwt.encode(issuer.claims(), None, algorithm="none", headers={"kid": issuer.kid})


def _other_key(issuer: Issuer) -> str:
    other = Issuer(url=issuer.url, kid=issuer.kid)  # same kid, a different private key
    return other.token()


REFUSALS: dict[str, tuple[Any, str]] = {
    "wrong iss": (lambda i: i.token(iss="https://evil.example"), "issuer (iss)"),
    "wrong aud": (lambda i: i.token(aud="https://other-registry"), "audience (aud)"),
    "multi aud without ours": (lambda i: i.token(aud=["a", "b"]), "audience (aud)"),
    "expired": (lambda i: i.token(exp=int(time.time()) - 3600), "expired"),
    "future iat": (lambda i: i.token(iat=int(time.time()) + 3600), "not valid yet"),
    "future nbf": (lambda i: i.token(nbf=int(time.time()) + 3600), "not valid yet"),
    "alg none": (_alg_none, "'none' is not accepted"),
    "HS256 with the public key": (_hs256_with_public_key, "'HS256' is not accepted"),
    "unknown kid": (lambda i: i.token(headers={"kid": "nope"}), "kid='nope'"),
    "other key, same kid": (_other_key, "signature does not verify"),
    "missing repository_id": (lambda i: i.token(repository_id=None), "'repository_id'"),
    "missing jti": (lambda i: i.token(jti=None), "'jti' is missing"),
    "not a JWT": (lambda i: "hello", "not a JWT"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_are_401_naming_the_rule(reg: Any, issuer: Issuer, case: str) -> None:
    make, words = REFUSALS[case]
    r = reg.post("/v1/auth/github-oidc", json={"token": make(issuer)})
    assert r.status_code == 401, (case, r.status_code, r.text)
    body = r.json()
    assert body["code"] == "unauthenticated"
    assert words in body["message"], body["message"]


def _later() -> int:
    return int(time.time()) + 300


# Claims with the wrong JSON type or out of range. Today's PyJWT coerces times with int(), so a
# string exp was accepted and exp=10**20 overflowed datetime (a 500): each must be a 401 that
# names the claim.
BAD_CLAIMS: dict[str, tuple[dict[str, Any], str]] = {
    "string exp": ({"exp": lambda: str(_later())}, "claim 'exp' has the wrong type"),
    "huge exp": ({"exp": lambda: 10**20}, "claim 'exp' has the wrong type or range"),
    "exp past 2100": ({"exp": lambda: 4_102_444_801}, "<= 4102444800"),
    "float exp": ({"exp": lambda: _later() + 0.5}, "Expected `int`, got `float`"),
    "integral float exp": ({"exp": lambda: float(_later())}, "Expected `int`, got `float`"),
    "bool exp": ({"exp": lambda: True}, "Expected `int`, got `bool`"),
    "infinite exp": ({"exp": lambda: float("inf")}, "payload is not JSON"),
    "negative exp": ({"exp": lambda: -1}, "claim 'exp' has the wrong type or range"),
    "null exp": ({"exp": lambda: None}, "claim 'exp' is missing"),  # None drops the claim
    "list exp": ({"exp": lambda: [_later()]}, "claim 'exp'"),
    "string iat": ({"iat": lambda: str(int(time.time()))}, "claim 'iat' has the wrong type"),
    "huge nbf": ({"nbf": lambda: 10**30}, "claim 'nbf' has the wrong type or range"),
    "numeric ref": ({"ref": lambda: 7}, "claim 'ref' has the wrong type"),
    "empty repository": ({"repository": lambda: ""}, "claim 'repository' has the wrong type"),
    "numeric repository_owner_id": (
        {"repository_owner_id": lambda: 9001},
        "claim 'repository_owner_id' has the wrong type",
    ),
    "object sha": ({"sha": lambda: {"a": 1}}, "claim 'sha' has the wrong type"),
    "numeric environment": ({"environment": lambda: 1}, "claim 'environment'"),
    "numeric jti": ({"jti": lambda: 12345}, "claim 'jti'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CLAIMS))
def test_claims_of_the_wrong_type_or_range_are_401(reg: Any, issuer: Issuer, case: str) -> None:
    overrides, words = BAD_CLAIMS[case]
    token = issuer.token(**{name: make() for name, make in overrides.items()})
    r = reg.post("/v1/auth/github-oidc", json={"token": token})
    assert r.status_code == 401, (case, r.status_code, r.text)
    body = r.json()
    assert body["code"] == "unauthenticated"
    assert body["message"].startswith("OIDC token refused: "), body["message"]
    assert words in body["message"], body["message"]


def test_long_but_honest_workflow_refs_are_accepted(reg: Any, issuer: Issuer) -> None:
    # A workflow file and a branch may each be a few hundred characters long.
    branch = "refs/heads/" + "b" * 240
    workflow = "acme/fx-rates/.github/workflows/" + "w" * 200 + ".yml@" + branch
    token = issuer.token(ref=branch, job_workflow_ref=workflow, workflow_ref=workflow)
    r = reg.post("/v1/auth/github-oidc", json={"token": token})
    assert r.status_code == 200, r.text


def test_a_string_exp_names_the_claim_and_the_fix(reg: Any, issuer: Issuer) -> None:
    r = reg.post("/v1/auth/github-oidc", json={"token": issuer.token(exp=str(_later()))})
    assert r.status_code == 401
    assert r.json()["message"] == (
        "OIDC token refused: claim 'exp' has the wrong type or range: Expected `int`, got `str` "
        "(a time is an integer number of seconds since 1970, at most 4102444800)"
    )


def test_string_exp_in_the_past_is_not_read_as_a_time(reg: Any, issuer: Issuer) -> None:
    # int("0") is what PyJWT would compare: refused for its type, not as "expired".
    r = reg.post("/v1/auth/github-oidc", json={"token": issuer.token(exp="0")})
    assert r.status_code == 401
    assert "wrong type" in r.json()["message"] and "expired" not in r.json()["message"]


def test_multi_valued_aud_with_ours_is_accepted(reg: Any, issuer: Issuer) -> None:
    r = reg.post("/v1/auth/github-oidc", json={"token": issuer.token(aud=["x", AUDIENCE])})
    assert r.status_code == 200, r.text


def test_leeway_accepts_small_clock_skew(reg: Any, issuer: Issuer) -> None:
    token = issuer.token(iat=int(time.time()) + 10, nbf=int(time.time()) + 10)
    assert reg.post("/v1/auth/github-oidc", json={"token": token}).status_code == 200


def test_jti_is_single_use(reg: Any, issuer: Issuer) -> None:
    token = issuer.token()
    assert reg.post("/v1/auth/github-oidc", json={"token": token}).status_code == 200
    again = reg.post("/v1/auth/github-oidc", json={"token": token})
    assert again.status_code == 401
    assert "already exchanged" in again.json()["message"]


def test_bad_bodies_are_400_not_500(reg: Any) -> None:
    for body in ({}, {"token": 5}, [], "x"):
        r = reg.post("/v1/auth/github-oidc", json=body)
        assert 400 <= r.status_code < 500, (body, r.status_code)


@pytest.mark.parametrize("redis", [False, True], ids=["database", "redis"])
def test_fifty_parallel_exchanges_of_one_token_give_one_success(
    pub_settings: Settings, issuer: Issuer, redis: bool
) -> None:
    settings = replace(
        pub_settings,
        redis_url=REDIS_URL if redis else None,
        redis_prefix=f"t{time.time_ns()}",
        auth_failures_per_address=0,  # 49 refused replays from one address: not limited here
    )
    token = issuer.token()

    async def go() -> list[int]:
        async with AsyncTestClient(create_app(settings)) as client:
            replies = await asyncio.gather(
                *(client.post("/v1/auth/github-oidc", json={"token": token}) for _ in range(50))
            )
        return [r.status_code for r in replies]

    statuses = asyncio.run(go())
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 49, statuses


def test_unknown_kid_refetches_the_jwks_at_most_once_a_minute(issuer: Issuer) -> None:
    import httpx

    async def go() -> tuple[int, int]:
        async with httpx.AsyncClient() as http:
            cache = JwksCache(f"{issuer.url}/.well-known/jwks", http)
            await cache.key(issuer.kid)  # first fetch
            for n in range(20):
                with pytest.raises(Exception, match="not one of the issuer's keys"):
                    await cache.key(f"made-up-{n}")
            first = cache.fetches
            cache._fetched_at = time.monotonic() - 61  # a minute later
            with pytest.raises(Exception, match="not one of the issuer's keys"):
                await cache.key("made-up-again")
            return first, cache.fetches

    first, later = asyncio.run(go())
    assert first == 1  # 20 unknown kids within the minute: no refetch
    assert later == 2  # a minute later: one refetch


def test_issuer_failing_is_503_not_500(
    pub_settings: Settings, make_client: Any, issuer: Issuer
) -> None:
    settings = replace(pub_settings, oidc_jwks_url=f"{issuer.url}/no-such-jwks")  # a 404
    client = make_client(settings)
    r = client.post("/v1/auth/github-oidc", json={"token": Issuer(url="x").token()})
    assert r.status_code == 503, r.text
    assert "signing keys could not be fetched" in r.json()["message"]
