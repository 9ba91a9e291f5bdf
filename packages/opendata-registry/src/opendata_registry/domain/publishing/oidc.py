"""Verifying GitHub Actions OIDC tokens, as PyPI's trusted publishing does.

A token is accepted only when all hold: the header says ``RS256`` (``none``, ``HS256`` and every
other algorithm are refused before any key is looked at); its ``kid`` is a key of the issuer's
JWKS (fetched once and cached; an unknown ``kid`` refetches the JWKS at most once a minute, so a
flood of made-up ``kid`` values cannot make the registry hammer the issuer); the RSA signature
verifies; every claim has its JSON type (:class:`GithubClaims`: ``exp``, ``iat`` and ``nbf``
integers between 0 and :data:`MAX_UNIX_TIME`, GitHub's repository claims non-empty strings — a
string ``exp`` or ``exp=10**20`` is refused, never coerced); ``iss`` is the configured issuer;
``aud`` contains the registry's audience; ``exp``, ``iat`` and ``nbf`` hold with a small leeway;
and its ``jti`` has never been exchanged before (single use, remembered until the token expires
— in Redis when configured, else in the database).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Final

import jwt
import msgspec
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from opendata_core.errors import ServiceUnavailable, Unauthenticated, shorten
from opendata_registry.db.models import UsedJti

if TYPE_CHECKING:
    import httpx
    from redis.asyncio import Redis

    from opendata_registry.db.engine import SessionMaker
    from opendata_registry.infra.settings import Settings

__all__ = ["MAX_UNIX_TIME", "GithubClaims", "JtiStore", "JwksCache", "OidcVerifier"]

log = logging.getLogger("opendata_registry.oidc")

JWKS_MIN_REFRESH: Final = 60.0
"""Seconds between two JWKS fetches caused by unknown ``kid`` values."""
MAX_TOKEN_CHARS: Final = 16_384
MAX_UNIX_TIME: Final = 4_102_444_800
"""2100-01-01T00:00:00Z, the latest ``exp``/``iat``/``nbf`` accepted (GitHub's tokens live
minutes; a later time is no real token, and ``exp=10**20`` would overflow a datetime)."""
_HINT: Final = (
    "exchange a fresh token: in GitHub Actions give the job `permissions: id-token: write` and "
    "request the token with the audience from GET /v1/auth/github-oidc"
)


def _refuse(message: str) -> Unauthenticated:
    err = Unauthenticated(f"OIDC token refused: {message}")
    err.hint = _HINT
    return err


UnixTime = Annotated[int, msgspec.Meta(ge=0, le=MAX_UNIX_TIME)]
"""A JSON integer of seconds since 1970 that a datetime can hold (bool and float are refused)."""
ClaimText = Annotated[str, msgspec.Meta(min_length=1, max_length=400)]
LongClaim = Annotated[str, msgspec.Meta(max_length=1200)]
"""A claim that holds a path and a git ref (each up to a few hundred characters on GitHub)."""


class GithubClaims(msgspec.Struct, frozen=True):
    """The claims of a GitHub Actions OIDC token, with their JSON types; unknown claims pass.

    The one decoder of a token's payload: :class:`_TypedJWT` decodes into it before PyJWT checks
    ``exp``, ``iat`` and ``nbf``, so a string, float, boolean or out-of-range time is refused
    (401) instead of being coerced by ``int()`` or overflowing ``datetime``.

    Example:
        >>> raw = b'{"exp": "4102444800"}'
        >>> msgspec.json.decode(raw, type=GithubClaims)
        Traceback (most recent call last):
        msgspec.ValidationError: Expected `int`, got `str` - at `$.exp`
    """

    exp: UnixTime
    iat: UnixTime
    nbf: UnixTime
    iss: str
    aud: str | list[str]
    sub: Annotated[str, msgspec.Meta(min_length=1, max_length=1200)]
    jti: ClaimText
    repository: ClaimText
    """``owner/name``, as GitHub spells it."""
    repository_id: ClaimText
    repository_owner: ClaimText
    repository_owner_id: ClaimText
    sha: ClaimText
    ref: ClaimText
    run_id: ClaimText
    run_attempt: ClaimText = "1"
    workflow_ref: LongClaim = ""
    job_workflow_ref: LongClaim = ""
    environment: Annotated[str, msgspec.Meta(max_length=400)] | None = None
    """The GitHub environment the job runs in (absent when it uses none)."""

    @property
    def workflow(self) -> str:
        """The workflow file that runs the job: ``job_workflow_ref``, else ``workflow_ref``."""
        return self.job_workflow_ref or self.workflow_ref

    @property
    def expires_at(self) -> datetime:
        """``exp`` as a datetime (in range: ``exp`` is bounded by :data:`MAX_UNIX_TIME`)."""
        return datetime.fromtimestamp(self.exp, UTC)


_MISSING_RE: Final = re.compile(r"missing required field `([^`]+)`")
_WHERE_RE: Final = re.compile(r" - at `\$\.?([^`]*)`$")


def _claims_refusal(exc: msgspec.ValidationError) -> Unauthenticated:
    """The 401 for a payload that is not :class:`GithubClaims`, naming the claim and the rule."""
    text = str(exc)
    missing = _MISSING_RE.search(text)
    if missing:
        return _refuse(f"claim {missing[1]!r} is missing")
    where = _WHERE_RE.search(text)
    if where is None or not where[1]:
        return _refuse(f"its payload is not a JSON object of claims ({shorten(text, 120)})")
    claim = where[1].split(".", 1)[0].split("[", 1)[0]
    rule = shorten(text[: where.start()], 120)
    if claim in ("exp", "iat", "nbf"):
        rule += f" (a time is an integer number of seconds since 1970, at most {MAX_UNIX_TIME})"
    return _refuse(f"claim {claim!r} has the wrong type or range: {rule}")


class _TypedJWT(jwt.PyJWT):
    """PyJWT whose payload is decoded into :class:`GithubClaims` before its claims are checked.

    ``_decode_payload`` is PyJWT's documented override point; it runs after the signature is
    verified and before ``exp``/``iat``/``nbf``/``iss``/``aud`` are validated, so those checks
    only ever see values of the right JSON type.
    """

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        try:
            claims = msgspec.json.decode(decoded["payload"], type=GithubClaims)
        except msgspec.ValidationError as exc:
            raise _ClaimsError(_claims_refusal(exc)) from None
        except msgspec.DecodeError as exc:  # also NaN and Infinity, which json.loads takes
            refusal = _refuse(f"its payload is not JSON ({shorten(str(exc), 80)})")
            raise _ClaimsError(refusal) from None
        return msgspec.structs.asdict(claims)


class _ClaimsError(jwt.DecodeError):
    """Carries the 401 for a payload that is not :class:`GithubClaims` out of PyJWT."""

    def __init__(self, refusal: Unauthenticated) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


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
            raise ServiceUnavailable(
                "the OIDC issuer",
                "the OIDC issuer's signing keys could not be fetched; try again in a minute",
                retry_after=60,
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
        self._jwt = _TypedJWT()

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
            payload = self._jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=settings.audience,
                issuer=settings.oidc_issuer,
                leeway=settings.oidc_leeway,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti", "sub"]},
            )
        except _ClaimsError as exc:
            raise exc.refusal from None
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
        # Already typed and range-checked when PyJWT decoded it: this cannot fail.
        claims = msgspec.convert(payload, GithubClaims)
        if not await self.jtis.use(claims.jti, claims.expires_at):
            raise _refuse("it was already exchanged (each token is single-use)")
        return claims
