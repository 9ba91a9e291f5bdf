"""Who is calling, and may they: API key (or anonymous IP), per-minute budget, usage counts.

Runs before every ``/v1`` handler. A key that is given must be valid (a revoked or mistyped key
fails at once, even on public endpoints); no key means the anonymous tier, counted per IP.
Every answer carries ``RateLimit-*`` headers; a refused one is a 429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from opendata_core.errors import RateLimited, Unauthenticated
from opendata_registry.auth.publishers import is_publisher_token
from opendata_registry.services.keys import Caller, KeyService, key_digest
from opendata_registry.settings import ANONYMOUS

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from opendata_registry.context import Registry

__all__ = ["AccessMiddleware", "caller_of"]


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


def caller_of(scope: Scope) -> Caller:
    """The caller the middleware identified for this request."""
    caller = scope.get("state", {}).get("caller")
    if not isinstance(caller, Caller):
        raise RuntimeError("no caller: the access middleware did not run")
    return caller


async def identify(registry: Registry, scope: Scope) -> Caller:
    """The caller of a request, from ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    key = None
    auth = _header(scope, b"authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <API key>'")
        key = value.strip()
    key = key or _header(scope, b"x-api-key")
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


class AccessMiddleware(ASGIMiddleware):
    """Identifies the caller, applies the per-minute budget and counts usage."""

    scopes = (ScopeType.HTTP,)
    # Only the API: health checks, the schema and signed file URLs (the signature is the
    # credential) do not count against a caller's budget.
    should_bypass_for_scope = staticmethod(_outside_api)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Identify, limit, then call the handler with headers added to its answer."""
        registry: Registry = scope["litestar_app"].state.registry
        state: dict[str, Any] = scope.setdefault("state", {})
        try:
            caller = await identify(registry, scope)
        except Unauthenticated:
            ip = _client_ip(scope, registry.settings.trust_proxy)
            registry.usage.record(f"ip:{ip}", requests=1, failures=1)
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
            await send(message)

        await next_app(scope, receive, send_with_headers)
