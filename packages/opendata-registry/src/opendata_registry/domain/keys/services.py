"""API keys: ``od_live_<30 random base62 characters><6-character CRC32 checksum>``.

The recognisable prefix lets secret scanners find leaked keys; the checksum catches a mistyped
key before any database lookup. A key is shown once when created; only its sha256 is stored (the
key is 178 bits of randomness, so a fast hash is enough), looked up by that hash and compared in
constant time. Revocation takes effect on the next request: the request path's cache of keys
(``infra.hotcache``) is dropped whenever the ``api_keys`` table changes.

Example:
    >>> key = generate_key()
    >>> key.startswith("od_live_"), len(key), checksum_ok(key)
    (True, 44, True)
    >>> checksum_ok(key[:-1] + ("A" if key[-1] != "A" else "B"))
    False
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.errors import OpenDataError, Unauthenticated
from opendata_registry.db.models import ApiKey
from opendata_registry.infra.identity import Caller
from opendata_registry.infra.settings import TIERS

__all__ = [
    "KEY_PREFIX",
    "SHOWN_LENGTH",
    "KeyInfo",
    "KeyService",
    "checksum_ok",
    "generate_key",
    "key_digest",
]

KEY_PREFIX: Final = "od_live_"
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_LEN: Final = 30
_CHECK_LEN: Final = 6
_KEY_LEN: Final = len(KEY_PREFIX) + _RANDOM_LEN + _CHECK_LEN
SHOWN_LENGTH: Final = len(KEY_PREFIX) + 6
"""How many leading characters of a key are shown (its prefix, e.g. ``od_live_AbC123``)."""
_SHOWN: Final = SHOWN_LENGTH


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_LEN)


def generate_key() -> str:
    """A new random API key."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LEN))
    return f"{KEY_PREFIX}{body}{_checksum(body)}"


def checksum_ok(key: str) -> bool:
    """Whether ``key`` has the API key shape and a correct checksum."""
    if len(key) != _KEY_LEN or not key.startswith(KEY_PREFIX):
        return False
    body, check = key[len(KEY_PREFIX) : -_CHECK_LEN], key[-_CHECK_LEN:]
    if any(c not in _ALPHABET for c in body + check):
        return False
    return hmac.compare_digest(_checksum(body), check)


def key_digest(key: str) -> str:
    """What is stored of a key: its sha256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """An API key as listed (never the key itself)."""

    id: int
    prefix: str
    name: str
    tier: str
    created_at: datetime
    revoked_at: datetime | None


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.pk, row.prefix, row.name, row.tier, row.created_at, row.revoked_at)


class KeyService:
    """Create, list, revoke and check API keys."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, *, tier: str, name: str = "") -> tuple[str, KeyInfo]:
        """A new key of ``tier``: returns the key (show it once) and its stored record."""
        if tier not in TIERS:
            raise OpenDataError(f"unknown tier {tier!r}", hint=f"tiers are {', '.join(TIERS)}")
        key = generate_key()
        row = ApiKey(
            prefix=key[:_SHOWN],
            key_hash=key_digest(key),
            name=name,
            tier=tier,
            created_at=datetime.now(UTC),
        )
        async with self.session.begin():
            self.session.add(row)
        return key, _info(row)

    async def list(self) -> list[KeyInfo]:
        """Every key, oldest first."""
        rows = (await self.session.execute(select(ApiKey).order_by(ApiKey.pk))).scalars().all()
        return [_info(r) for r in rows]

    async def revoke(self, ident: str) -> KeyInfo:
        """Revoke a key by its id or its shown prefix; effective on its next request."""
        stmt = select(ApiKey)
        stmt = (
            stmt.where(ApiKey.pk == int(ident))
            if ident.isdigit()
            else stmt.where(ApiKey.prefix == ident)
        )
        async with self.session.begin():
            rows = (await self.session.execute(stmt)).scalars().all()
            if len(rows) != 1:
                problem = "matches several keys; use the id" if rows else "matches no key"
                raise OpenDataError(f"{ident!r} {problem}", hint="opendata-registry keys list")
            row = rows[0]
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
        return _info(row)

    async def authenticate(self, key: str) -> Caller:
        """The caller a key belongs to.

        Raises:
            Unauthenticated: malformed (checksum), unknown or revoked key. The message never
                repeats the key.
        """
        if not checksum_ok(key):
            raise Unauthenticated(
                "the API key is malformed (wrong length, prefix or checksum); check for a typo"
            )
        digest = key_digest(key)
        row = (
            await self.session.execute(select(ApiKey).where(ApiKey.key_hash == digest))
        ).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            raise Unauthenticated("unknown API key")
        if row.revoked_at is not None:
            raise Unauthenticated(f"the API key {row.prefix}… was revoked")
        return Caller(tier=row.tier, subject=f"key:{row.pk}", key_prefix=row.prefix)
