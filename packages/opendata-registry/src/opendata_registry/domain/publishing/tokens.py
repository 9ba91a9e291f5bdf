"""Who publishes: a GitHub Actions job (through a publish token) or an admin-made producer token.

Publish tokens (``od_pub_…``) are what ``POST /v1/auth/github-oidc`` hands out: the verified
GitHub claims plus an expiry (at most 15 minutes), HMAC-signed with the registry's secret, so any
replica sharing the secret accepts them and nothing is stored. Producer tokens (``od_prod_…``)
are created by an admin for other CI, scoped to a namespace or one dataset, expiring; only their
sha256 is stored and they can be revoked at once.

Example:
    >>> signer = PublishTokens(b"k" * 32)
    >>> claims = {"repository": "ecb/fx", "exp": 4102444800}
    >>> token = signer.issue(claims)
    >>> token.startswith(PUBLISH_PREFIX), signer.read(token)["repository"]
    (True, 'ecb/fx')
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.errors import OpenDataError, Unauthenticated
from opendata_core.ids import DatasetId
from opendata_registry.db.models import ProducerToken
from opendata_registry.infra.identity import Publisher
from opendata_registry.infra.signing import same_secret

__all__ = [
    "PRODUCER_PREFIX",
    "PUBLISH_PREFIX",
    "ProducerTokenInfo",
    "ProducerTokens",
    "PublishTokens",
    "is_publisher_token",
]

PUBLISH_PREFIX: Final = "od_pub_"
PRODUCER_PREFIX: Final = "od_prod_"
_SHOWN: Final = len(PRODUCER_PREFIX) + 6
_HINT: Final = (
    "in GitHub Actions exchange the job's OIDC token at POST /v1/auth/github-oidc; elsewhere ask "
    "the registry's admin for a producer token (opendata-registry tokens create)"
)


def is_publisher_token(value: str) -> bool:
    """Whether a bearer value is a publish or producer token (not an API key)."""
    return value.startswith((PUBLISH_PREFIX, PRODUCER_PREFIX))


def _refuse(message: str) -> Unauthenticated:
    err = Unauthenticated(message)
    err.hint = _HINT
    return err


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PublishTokens:
    """Issues and reads the registry's own short-lived publish tokens."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        # A key of its own, so a publish token's MAC can never be a valid URL signature.
        self._key = hmac.new(secret, b"opendata publish token v1", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "PublishTokens(<secret>)"

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, claims: dict[str, Any]) -> str:
        """A token carrying ``claims`` (which must hold ``exp``, a Unix time)."""
        body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{PUBLISH_PREFIX}{body}.{self._mac(body)}"

    def read(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """The claims of a valid, unexpired token; else :class:`Unauthenticated`."""
        body, _, mac = token[len(PUBLISH_PREFIX) :].partition(".")
        if not body or not mac or len(token) > 8192:
            raise _refuse("the publish token is malformed")
        if not same_secret(self._mac(body), mac):
            raise _refuse("the publish token's signature is not valid for this registry")
        try:
            claims = json.loads(_unb64(body))
            exp = float(claims["exp"])
        except (ValueError, KeyError, TypeError):
            raise _refuse("the publish token is malformed") from None
        if exp < (time.time() if now is None else now):
            raise _refuse("the publish token has expired (they last at most 15 minutes)")
        return dict(claims)

    def publisher(self, token: str) -> Publisher:
        """The GitHub publisher a valid token stands for."""
        c = self.read(token)
        return Publisher(
            kind="github",
            subject=f"repo:{c['repository_id']}",
            repository=c["repository"],
            repository_id=c["repository_id"],
            repository_owner=c["repository_owner"],
            repository_owner_id=c["repository_owner_id"],
            sha=c.get("sha"),
            ref=c.get("ref"),
            workflow_ref=c.get("workflow_ref"),
            environment=c.get("environment"),
            run_id=c.get("run_id"),
            run_url=c.get("run_url"),
        )


@dataclass(frozen=True)
class ProducerTokenInfo:
    """A producer token as listed (never the token itself)."""

    id: int
    prefix: str
    name: str
    namespace: str | None
    dataset_id: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def _info(row: ProducerToken) -> ProducerTokenInfo:
    return ProducerTokenInfo(
        row.pk,
        row.prefix,
        row.name,
        row.namespace,
        row.dataset_id,
        row.created_at,
        row.expires_at,
        row.revoked_at,
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ProducerTokens:
    """Create, list, revoke and check producer tokens."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        expires_at: datetime,
        namespace: str | None = None,
        dataset_id: str | None = None,
        name: str = "",
    ) -> tuple[str, ProducerTokenInfo]:
        """A new token for ``namespace`` or ``dataset_id`` (exactly one); shown once."""
        if (namespace is None) == (dataset_id is None):
            raise OpenDataError(
                "a producer token needs exactly one scope",
                hint="give --namespace NS or --dataset NS/NAME",
            )
        if namespace is not None:
            namespace = DatasetId.parse(f"{namespace}/x").namespace
        if dataset_id is not None:
            dataset_id = str(DatasetId.parse(dataset_id))
        if expires_at <= datetime.now(UTC):
            raise OpenDataError("the expiry is in the past", hint="e.g. --expires 90d")
        token = PRODUCER_PREFIX + secrets.token_urlsafe(32)
        row = ProducerToken(
            prefix=token[:_SHOWN],
            token_hash=_hash(token),
            name=name,
            namespace=namespace,
            dataset_id=dataset_id,
            created_at=datetime.now(UTC),
            expires_at=expires_at,
        )
        async with self.session.begin():
            self.session.add(row)
        return token, _info(row)

    async def list(self) -> list[ProducerTokenInfo]:
        """Every producer token, oldest first."""
        stmt = select(ProducerToken).order_by(ProducerToken.pk)
        return [_info(r) for r in (await self.session.execute(stmt)).scalars().all()]

    async def revoke(self, ident: str) -> ProducerTokenInfo:
        """Revoke by id or shown prefix; effective on the token's next request."""
        stmt = select(ProducerToken).where(
            or_(ProducerToken.pk == int(ident), ProducerToken.prefix == ident)
            if ident.isdigit()
            else ProducerToken.prefix == ident
        )
        async with self.session.begin():
            rows = (await self.session.execute(stmt)).scalars().all()
            if len(rows) != 1:
                problem = "matches several tokens; use the id" if rows else "matches no token"
                raise OpenDataError(f"{ident!r} {problem}", hint="opendata-registry tokens list")
            if rows[0].revoked_at is None:
                rows[0].revoked_at = datetime.now(UTC)
        return _info(rows[0])

    async def authenticate(self, token: str) -> Publisher:
        """The publisher of a valid producer token (the message never repeats the token)."""
        digest = _hash(token)
        row = (
            await self.session.execute(
                select(ProducerToken).where(ProducerToken.token_hash == digest)
            )
        ).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            raise _refuse("unknown producer token")
        if row.revoked_at is not None:
            raise _refuse(f"the producer token {row.prefix}… was revoked")
        if row.expires_at <= datetime.now(UTC):
            raise _refuse(f"the producer token {row.prefix}… has expired")
        return Publisher(
            kind="producer",
            subject=f"producer:{row.pk}",
            namespace=row.namespace,
            dataset_id=row.dataset_id,
        )
