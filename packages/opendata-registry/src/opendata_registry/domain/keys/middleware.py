"""Who is calling, and may they: API key (or anonymous IP), per-minute budget, usage counts.

Runs before every ``/v1`` handler. A key that is given must be valid (a revoked or mistyped key
fails at once, even on public endpoints); no key means the anonymous tier, counted per IP.
Every answer carries ``RateLimit-*`` headers; a refused one is a 429 with ``Retry-After``.

Failed authentication is limited too: every 401 counts against the client address and, for an
``od_`` key or token, against its prefix (``OPENDATA_REGISTRY_AUTH_FAILURES_PER_ADDRESS`` and
``…_PER_KEY`` per minute). Past either threshold the address (every API request from it) or the
prefix (every request carrying it) gets 429 with ``Retry-After`` until the minute ends, before
the key is even looked at, so guessing learns nothing more.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Any, Protocol

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from opendata_core.errors import RateLimited, ServiceUnavailable, Unauthenticated
from opendata_registry.domain.keys.services import SHOWN_LENGTH, KeyService, key_digest
from opendata_registry.domain.publishing.tokens import is_publisher_token
from opendata_registry.infra.identity import Caller
from opendata_registry.infra.settings import ANONYMOUS

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from opendata_registry.db.engine import SessionMaker
    from opendata_registry.domain.publishing.auth import Publishing
    from opendata_registry.domain.usage.services import UsageRecorder
    from opendata_registry.infra.hotcache import HotCache
    from opendata_registry.infra.limits import Limiter
    from opendata_registry.infra.settings import Settings

__all__ = ["AccessMiddleware", "AccessParts"]


class AccessParts(Protocol):
    """What the access middleware uses of the running registry (the app's ``Registry``)."""

    @property
    def settings(self) -> Settings: ...  # noqa: D102
    @property
    def sessions(self) -> SessionMaker: ...  # noqa: D102
    @property
    def publishing(self) -> Publishing: ...  # noqa: D102
    @property
    def hot(self) -> HotCache: ...  # noqa: D102
    @property
    def limiter(self) -> Limiter: ...  # noqa: D102
    @property
    def usage(self) -> UsageRecorder: ...  # noqa: D102


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _client_ip(scope: Scope, trust_proxy: bool) -> str:
    if trust_proxy:
        forwarded = _header(scope, b"x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _outside_api(scope: Scope) -> bool:
    return not scope["path"].startswith("/v1/")


def _credential(scope: Scope) -> str | None:
    """The key or token of a request, from ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    auth = _header(scope, b"authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <API key>'")
        return value.strip()
    return _header(scope, b"x-api-key")


def _prefix_subject(key: str | None) -> str | None:
    """The failed-authentication subject of a key or token: its shown prefix (``od_…`` only).

    Other values (a JWT, garbage) share no meaningful prefix; their address is counted.
    """
    if key is None or not key.startswith("od_"):
        return None
    return f"prefix:{key[:SHOWN_LENGTH]}"


async def identify(registry: AccessParts, scope: Scope, key: str | None) -> Caller:
    """The caller of a request that carries ``key`` (``None``: anonymous, by address)."""
    if key is None:
        ip = _client_ip(scope, registry.settings.trust_proxy)
        return Caller(tier=ANONYMOUS, subject=f"ip:{ip}")
    if is_publisher_token(key):
        publisher = await registry.publishing.authenticate(key)
        tier = registry.settings.publish_tier
        return Caller(tier=tier, subject=publisher.subject, publisher=publisher)
    generation = await registry.hot.for_request(scope)
    digest = key_digest(key)
    cached = registry.hot.caller(digest)
    if cached is not None:
        return cached
    async with registry.sessions() as session:
        caller = await KeyService(session).authenticate(key)
    registry.hot.remember_caller(generation, digest, caller)
    return caller


def _refuse_blocked(registry: AccessParts, ip_subject: str, prefix: str | None) -> None:
    """429 when the address or the key prefix is past its failed-authentication threshold."""
    limiter = registry.limiter
    for subject, what in ((ip_subject, "from this address"), (prefix, "with this key")):
        if subject is None:
            continue
        left = limiter.blocked(subject)
        if left is not None:
            raise RateLimited(
                f"too many failed authentications {what}; wait before trying again",
                retry_after=max(1, math.ceil(left)),
            )


async def _count_auth_failure(registry: AccessParts, ip_subject: str, prefix: str | None) -> None:
    """Count one failed authentication; raises 429 when it crossed a threshold."""
    settings = registry.settings
    limits = (
        (ip_subject, settings.auth_failures_per_address),
        (prefix, settings.auth_failures_per_key),
    )
    for subject, per_minute in limits:
        if subject is not None and per_minute > 0:
            await registry.limiter.hit_auth_failure(subject, per_minute)
    _refuse_blocked(registry, ip_subject, prefix)


class AccessMiddleware(ASGIMiddleware):
    """Identifies the caller, applies the per-minute budget and counts usage."""

    scopes = (ScopeType.HTTP,)
    # Only the API: health checks, the schema and signed file URLs (the signature is the
    # credential) do not count against a caller's budget.
    should_bypass_for_scope = staticmethod(_outside_api)

    def __init__(self, registry: AccessParts) -> None:
        self.registry = registry

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Identify, limit, then call the handler with headers added to its answer."""
        registry = self.registry
        state: dict[str, Any] = scope.setdefault("state", {})
        ip_subject = f"ip:{_client_ip(scope, registry.settings.trust_proxy)}"
        key: str | None = None
        prefix: str | None = None
        try:
            key = _credential(scope)
            prefix = _prefix_subject(key)
            _refuse_blocked(registry, ip_subject, prefix)
            caller = await identify(registry, scope, key)
        except Unauthenticated:
            registry.usage.record(ip_subject, requests=1, failures=1)
            await _count_auth_failure(registry, ip_subject, prefix)
            raise
        except RateLimited:
            registry.usage.record(ip_subject, requests=1, failures=1)
            raise
        state["caller"] = caller
        tier = registry.settings.tier(caller.tier)
        limit = await registry.limiter.hit_request(caller.subject, tier)
        headers = limit.headers()
        state["ratelimit_headers"] = headers
        if not limit.allowed:
            registry.usage.record(caller.subject, requests=1, failures=1)
            raise RateLimited(
                f"rate limit of {tier.requests_per_minute} requests per minute reached "
                f"({tier.name} tier)",
                retry_after=limit.reset_after,
            )
        encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                failed = message["status"] >= 400
                extra = encoded
                if failed:  # an error answer may carry some of them already (a 429)
                    present = {bytes(k).lower() for k, _ in message.get("headers", [])}
                    extra = [(k, v) for k, v in encoded if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
                registry.usage.record(caller.subject, requests=1, failures=int(failed))
                if message["status"] == 401:  # a handler refused a token (an OIDC exchange)
                    await _count_quietly(registry, ip_subject, _prefix_subject(key))
            await send(message)

        await next_app(scope, receive, send_with_headers)


async def _count_quietly(registry: AccessParts, ip_subject: str, prefix: str | None) -> None:
    """Count a handler's 401 (its answer is already on its way: a block applies from the next)."""
    with contextlib.suppress(RateLimited, ServiceUnavailable):
        await _count_auth_failure(registry, ip_subject, prefix)
