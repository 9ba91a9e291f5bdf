"""The long-lived parts of publishing: the token signer, the JWKS cache, the jti store.

One :class:`Publishing` per :class:`~opendata_registry.context.Registry`; the HTTP client (for
the JWKS) and the Redis connection (for used ``jti`` values) are opened on first use, in the
event loop that serves requests, and closed with the registry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opendata_core.api import PublishToken
from opendata_registry.domain.publishing.oidc import JtiStore, JwksCache, OidcVerifier
from opendata_registry.domain.publishing.tokens import PUBLISH_PREFIX, ProducerTokens, PublishTokens
from opendata_registry.infra.identity import Publisher

if TYPE_CHECKING:
    import httpx
    from redis.asyncio import Redis

    from opendata_registry.db.engine import SessionMaker
    from opendata_registry.infra.settings import Settings

__all__ = ["Publishing"]


class Publishing:
    """Verifies OIDC tokens, issues publish tokens and authenticates publishers."""

    def __init__(self, settings: Settings, sessions: SessionMaker) -> None:
        self.settings = settings
        self.sessions = sessions
        self.tokens = PublishTokens(settings.secret)
        self._http: httpx.AsyncClient | None = None
        self._redis: Redis | None = None
        self._verifier: OidcVerifier | None = None

    def verifier(self) -> OidcVerifier:
        """The OIDC verifier (its HTTP client and Redis connection made on first use)."""
        if self._verifier is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
            if self.settings.redis_url:
                from redis.asyncio import Redis
                from redis.asyncio.retry import Retry
                from redis.backoff import NoBackoff

                # Bounded like the limiter's: a dead Redis is a prompt 503, not a hung request.
                timeout = self.settings.redis_timeout
                self._redis = Redis.from_url(
                    self.settings.redis_url,
                    socket_connect_timeout=timeout,
                    socket_timeout=timeout,
                    retry=Retry(NoBackoff(), 1),
                )
            jwks = JwksCache(self.settings.jwks_url, self._http)
            jtis = JtiStore(self.sessions, self._redis, self.settings.redis_prefix)
            self._verifier = OidcVerifier(self.settings, jwks, jtis)
        return self._verifier

    async def exchange(self, oidc_token: str) -> PublishToken:
        """A publish token for a verified GitHub Actions OIDC token."""
        claims = await self.verifier().verify(oidc_token)
        now = datetime.now(UTC)
        # Not capped by the OIDC token's own expiry (minutes): a publish outlives the exchange.
        expires = now + self.settings.publish_token_lifetime
        body: dict[str, Any] = {
            "exp": int(expires.timestamp()),
            "repository": claims.repository,
            "repository_id": claims.repository_id,
            "repository_owner": claims.repository_owner,
            "repository_owner_id": claims.repository_owner_id,
            "sha": claims.sha,
            "ref": claims.ref,
            "workflow_ref": claims.workflow,
            "environment": claims.environment,
            "run_id": claims.run_id,
            "run_url": (
                f"https://github.com/{claims.repository}/actions/runs/{claims.run_id}"
                f"/attempts/{claims.run_attempt}"
            ),
        }
        return PublishToken(
            token=self.tokens.issue(body),
            expires_at=datetime.fromtimestamp(body["exp"], UTC),
            repository=claims.repository,
        )

    async def authenticate(self, token: str) -> Publisher:
        """The publisher behind a publish token or a producer token."""
        if token.startswith(PUBLISH_PREFIX):
            return self.tokens.publisher(token)
        async with self.sessions() as session:
            return await ProducerTokens(session).authenticate(token)

    async def close(self) -> None:
        """Close the HTTP client and the Redis connection."""
        if self._http is not None:
            await self._http.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        self._http = self._redis = self._verifier = None
