"""Verifying GitHub Actions OIDC tokens, as PyPI's trusted publishing does.

A token is accepted only when all hold: the header says ``RS256`` (``none``, ``HS256`` and every
other algorithm are refused before any key is looked at); its ``kid`` is a key of the issuer's
JWKS (fetched once and cached; an unknown ``kid`` refetches the JWKS at most once a minute, so a
flood of made-up ``kid`` values cannot make the registry hammer the issuer); the RSA signature
verifies; ``iss`` is the configured issuer; ``aud`` contains the registry's audience; ``exp``,
``iat`` and ``nbf`` hold with a small leeway; GitHub's repository claims are present; and its
``jti`` has never been exchanged before (single use, remembered until the token expires — in
Redis when configured, else in the database).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import jwt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from opendata_core.errors import StoreUnavailable, Unauthenticated, shorten
from opendata_registry.db.models import UsedJti

if TYPE_CHECKING:
    import httpx
    from redis.asyncio import Redis

    from opendata_registry.services.sync import SessionMaker
    from opendata_registry.settings import Settings

__all__ = ["GITHUB_CLAIMS", "GithubClaims", "JtiStore", "JwksCache", "OidcVerifier"]

log = logging.getLogger("opendata_registry.oidc")

JWKS_MIN_REFRESH: Final = 60.0
"""Seconds between two JWKS fetches caused by unknown ``kid`` values."""
MAX_TOKEN_CHARS: Final = 16_384
GITHUB_CLAIMS: Final = (
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "sha",
    "ref",
    "run_id",
)
"""The claims a GitHub Actions token carries that publishing relies on."""
_HINT: Final = (
    "exchange a fresh token: in GitHub Actions give the job `permissions: id-token: write` and "
    "request the token with the audience from GET /v1/auth/github-oidc"
)


def _refuse(message: str) -> Unauthenticated:
    err = Unauthenticated(f"OIDC token refused: {message}")
    err.hint = _HINT
    return err


@dataclass(frozen=True)
class GithubClaims:
    """The verified claims of a GitHub Actions job that publishing uses."""

    repository: str
    """``owner/name``, as GitHub spells it."""
    repository_id: str
    repository_owner: str
    repository_owner_id: str
    sha: str
    ref: str
    run_id: str
    run_attempt: str
    workflow_ref: str
    """``job_workflow_ref`` (the workflow file that runs the job), else ``workflow_ref``."""
    environment: str | None
    jti: str
    expires_at: datetime

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> GithubClaims:
        """Pick the claims out of a verified payload; a missing or non-text one is refused."""
        values: dict[str, str] = {}
        for name in (*GITHUB_CLAIMS, "jti"):
            value = payload.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value or len(value) > 400:
                raise _refuse(f"claim {name!r} is missing or not a string")
            values[name] = value
        workflow = payload.get("job_workflow_ref") or payload.get("workflow_ref") or ""
        environment = payload.get("environment")
        return cls(
            repository=values["repository"],
            repository_id=values["repository_id"],
            repository_owner=values["repository_owner"],
            repository_owner_id=values["repository_owner_id"],
            sha=values["sha"],
            ref=values["ref"],
            run_id=values["run_id"],
            run_attempt=str(payload.get("run_attempt") or "1"),
            workflow_ref=str(workflow)[:400],
            environment=environment if isinstance(environment, str) else None,
            jti=values["jti"],
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )


class JwksCache:
    """The issuer's signing keys by ``kid``, refetched at most once a minute on a miss."""

    def __init__(self, url: str, http: httpx.AsyncClient, *, min_refresh: float = JWKS_MIN_REFRESH):
        self.url = url
        self._http = http
        self._min_refresh = min_refresh
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many times the JWKS was fetched (tests check the refresh budget)."""

    async def key(self, kid: str) -> jwt.PyJWK:
        """The RS256 key ``kid``; refuses an unknown one (401) after at most one refetch."""
        found = self._keys.get(kid)
        if found is not None:
            return found
        async with self._lock:
            found = self._keys.get(kid)
            if found is not None:
                return found
            recent = self._fetched_at is not None and (
                time.monotonic() - self._fetched_at < self._min_refresh
            )
            if not recent:
                await self._fetch()
        found = self._keys.get(kid)
        if found is None:
            raise _refuse(f"signing key kid={shorten(kid, 60)!r} is not one of the issuer's keys")
        return found

    async def _fetch(self) -> None:
        import httpx

        self._fetched_at = time.monotonic()
        self.fetches += 1
        try:
            response = await self._http.get(self.url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("cannot fetch the OIDC issuer's JWKS from %s: %s", self.url, exc)
            raise StoreUnavailable(
                self.url,
                "the OIDC issuer's signing keys could not be fetched",
                hint="try again in a minute",
            ) from None
        keys: dict[str, jwt.PyJWK] = {}
        for data in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(data, dict) or data.get("kty") != "RSA" or "kid" not in data:
                continue
            if data.get("use", "sig") != "sig":
                continue
            try:
                keys[str(data["kid"])] = jwt.PyJWK(data, algorithm="RS256")
            except jwt.PyJWTError:
                continue
        self._keys = keys


class JtiStore:
    """Remembers exchanged token ids until they expire: Redis when configured, else the DB."""

    def __init__(self, sessions: SessionMaker, redis: Redis | None, prefix: str) -> None:
        self._sessions = sessions
        self._redis = redis
        self._prefix = prefix

    async def use(self, jti: str, expires_at: datetime) -> bool:
        """Record ``jti``; ``False`` when it was already used."""
        if self._redis is not None:
            ttl = max(1, int((expires_at - datetime.now(UTC)).total_seconds()) + 120)
            done = await self._redis.set(f"{self._prefix}:jti:{jti}", b"1", nx=True, ex=ttl)
            return bool(done)
        now = datetime.now(UTC)
        try:
            async with self._sessions() as session, session.begin():
                session.add(UsedJti(jti=jti, expires_at=expires_at + timedelta(minutes=2)))
        except IntegrityError:
            return False
        async with self._sessions() as session, session.begin():
            await session.execute(delete(UsedJti).where(UsedJti.expires_at < now))
        return True


class OidcVerifier:
    """Checks a GitHub Actions OIDC token (see the module docstring for every rule)."""

    def __init__(self, settings: Settings, jwks: JwksCache, jtis: JtiStore) -> None:
        self.settings = settings
        self.jwks = jwks
        self.jtis = jtis

    async def verify(self, token: str) -> GithubClaims:
        """The token's claims, or :class:`Unauthenticated` saying which rule failed."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise _refuse("not a JWT (empty or too long)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refuse("not a JWT") from None
        alg = header.get("alg")
        if alg != "RS256":
            raise _refuse(f"algorithm {shorten(str(alg), 20)!r} is not accepted (only RS256)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _refuse("the header has no key id (kid)")
        key = await self.jwks.key(kid)
        settings = self.settings
        try:
            payload = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=settings.audience,
                issuer=settings.oidc_issuer,
                leeway=settings.oidc_leeway,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise _refuse("it has expired") from None
        except jwt.ImmatureSignatureError:
            raise _refuse("it is not valid yet (iat or nbf lies in the future)") from None
        except jwt.InvalidAudienceError:
            raise _refuse(f"its audience (aud) does not include {settings.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise _refuse(f"its issuer (iss) is not {settings.oidc_issuer!r}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _refuse(f"claim {exc.claim!r} is missing") from None
        except jwt.InvalidSignatureError:
            raise _refuse("the signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise _refuse(f"invalid token ({type(exc).__name__})") from None
        claims = GithubClaims.from_payload(payload)
        if not await self.jtis.use(claims.jti, claims.expires_at):
            raise _refuse("it was already exchanged (each token is single-use)")
        return claims
