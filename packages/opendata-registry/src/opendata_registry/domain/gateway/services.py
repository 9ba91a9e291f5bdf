"""The edge gateway's side of the registry: its links, its deny-list, its usage batches.

- :func:`gateway_url` signs a download link the Worker (``packages/opendata-worker``) checks with
  the shared secret alone; the string it signs is core's (:mod:`opendata_core.gateway`).
- :func:`deny_list` is the document ``opendata-registry gateway sync`` writes to the Worker's KV
  namespace (key ``denied``): the subjects whose links must stop working before they expire.
- :func:`verify_batch` / :func:`fold_events` take the usage batches the Worker posts to
  ``POST /gateway/usage`` (or that ``opendata-registry gateway ingest`` reads from a file) into
  the usage counters, so quota statistics include edge traffic.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Final

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.errors import OpenDataError, Unauthenticated
from opendata_core.gateway import GatewayLink, mac, string_to_sign
from opendata_registry.db.models import ApiKey
from opendata_registry.domain.usage.services import UsageRecorder
from opendata_registry.infra.settings import GatewaySettings

__all__ = [
    "DENY_KV_KEY",
    "USAGE_ROUTE",
    "EdgeEvent",
    "UsageBatch",
    "decode_batch",
    "deny_list",
    "fold_events",
    "gateway_url",
    "verify_batch",
]

DENY_KV_KEY: Final = "denied"
"""The Worker's KV key that holds the deny-list document."""
USAGE_ROUTE: Final = "/gateway/usage"
"""Where the Worker posts usage batches (outside ``/v1``: the batch signature is the credential)."""
_MAX_AHEAD: Final = 900
_AUTH = re.compile(r"OpenData-Gateway kid=(\w{1,32}), expires=(\d{1,12}), signature=([0-9a-f]{64})")


def gateway_url(
    gateway: GatewaySettings,
    key: str,
    *,
    store_prefix: str,
    expires: int,
    subject: str,
    tier: str,
    namespace: str,
) -> str:
    """The gateway link of the store object ``key`` (the Worker adds its own bucket prefix)."""
    if store_prefix:
        key = key.removeprefix(f"{store_prefix}/")
    link = GatewayLink(key, expires, gateway.key_id, subject, tier, namespace)
    return link.url(gateway.url, gateway.secret)


class EdgeEvent(msgspec.Struct, kw_only=True):
    """One request answered at the edge (the Worker's ``UsageEvent``; unknown fields ignored)."""

    sub: str
    status: int
    bytes: int = 0
    ns: str = ""
    dataset: str = ""
    cache: str = "none"


class UsageBatch(msgspec.Struct):
    """What the Worker posts: ``{"events": [...]}``."""

    events: list[EdgeEvent]


def verify_batch(
    gateway: GatewaySettings, path: str, authorization: str | None, body: bytes, *, now: float
) -> None:
    """Check a batch's ``Authorization`` (HMAC over POST, path, expiry, key id, body sha256).

    Raises:
        Unauthenticated: the header is missing, malformed, expired, of another key id, or wrong.
    """
    match = _AUTH.fullmatch(authorization or "")
    if not match:
        raise Unauthenticated(
            "usage batches need 'Authorization: OpenData-Gateway kid=…, expires=…, signature=…'"
        )
    kid, expires, signature = match[1], int(match[2]), match[3]
    if kid != gateway.key_id:
        raise Unauthenticated(
            f"usage batch signed with key id {kid!r}; this registry uses {gateway.key_id!r} "
            "(set the Worker's USAGE_KEY_ID to OPENDATA_REGISTRY_GATEWAY_KEY_ID)"
        )
    if not now <= expires <= now + _MAX_AHEAD:
        raise Unauthenticated("usage batch signature expired (or dated too far ahead)")
    digest = hashlib.sha256(body).hexdigest()
    text = string_to_sign("POST", path, expires, ("kid", kid), ("sha256", digest))
    if not hmac.compare_digest(mac(gateway.secret, text), signature):
        raise Unauthenticated("usage batch signature does not match")


def decode_batch(body: bytes) -> UsageBatch:
    """The batch in ``body``; an unreadable one is an error that names the problem."""
    try:
        return msgspec.json.decode(body, type=UsageBatch)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise OpenDataError(
            f"usage batch is not {{'events': [...]}} of gateway events: {exc}",
            hint="each event needs sub (str), status (int) and bytes (int)",
        ) from None


def fold_events(usage: UsageRecorder, events: list[EdgeEvent]) -> int:
    """Add each edge request to its subject's counters: a request, its bytes, a failure ≥ 400.

    A download was counted when the registry signed it; the edge adds the requests and the bytes
    it actually served (in gateway mode the registry does not count bytes when signing).
    """
    for event in events:
        usage.record(
            event.sub,
            requests=1,
            nbytes=max(0, event.bytes),
            failures=int(event.status >= 400),
        )
    return len(events)


async def deny_list(session: AsyncSession) -> dict[str, object]:
    """The Worker's deny-list document: every revoked key's subject (``key:<id>``)."""
    rows = await session.execute(
        select(ApiKey.pk).where(ApiKey.revoked_at.is_not(None)).order_by(ApiKey.pk)
    )
    return {"subjects": [f"key:{pk}" for pk in rows.scalars()], "written_at": int(time.time())}
