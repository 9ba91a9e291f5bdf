r"""The string a signed download link covers: one definition for the registry and the edge gateway.

The registry's own ``/files`` links sign ``"<method>\n<key>\n<expires>"`` with HMAC-SHA256 (as an
S3 pre-signed GET binds the method, the exact key and the expiry). A gateway link, checked by the
Cloudflare Worker in ``packages/opendata-worker`` without any lookup, extends that string with what
the edge needs, one field a line, in this order:

=========== ==================================================================================
field       meaning
=========== ==================================================================================
``kid``     which shared secret signed the link (rotation: the edge holds one secret per id)
``sub``     who the link was issued to: ``key:<id>`` or ``ip:<address>`` (limits, revocation,
            usage are counted against it)
``tier``    the caller's tier, which selects the edge's rate limits
``ns``      the dataset's namespace (the key must lie under ``datasets/<ns>/``)
=========== ==================================================================================

No field may hold a line break or a control character, so no two different links share a string
to sign, and a 3-line ``/files`` signature never verifies as a 7-line gateway one. The test
vectors in ``data/gateway_vectors.json`` are checked by the Python and the TypeScript tests.

Example:
    >>> string_to_sign("GET", "datasets/a/b/x.parquet", 2000000000)
    'GET\ndatasets/a/b/x.parquet\n2000000000'
    >>> link = GatewayLink("datasets/a/b/x.parquet", 2000000000, "k1", "key:7", "free", "a")
    >>> link.string_to_sign()
    'GET\ndatasets/a/b/x.parquet\n2000000000\nk1\nkey:7\nfree\na'
    >>> url = link.url("https://gw.example", b"s" * 32)
    >>> url.split("?")[0]
    'https://gw.example/datasets/a/b/x.parquet'
    >>> url.split("?")[1].split("&")[:5]
    ['expires=2000000000', 'kid=k1', 'sub=key%3A7', 'tier=free', 'ns=a']
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final
from urllib.parse import quote

__all__ = [
    "GATEWAY_QUERY",
    "KEY_ID_PATTERN",
    "GatewayLink",
    "mac",
    "signing_vectors",
    "string_to_sign",
]

KEY_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_]{1,32}")
"""A signing key id: it names a Worker secret (``SIGNING_KEY_<kid>``), so letters, digits, ``_``."""
GATEWAY_QUERY: Final = ("expires", "kid", "sub", "tier", "ns", "signature")
"""The query parameters of a gateway link, in the order they are written."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _field(name: str, value: str) -> str:
    if not value or _CONTROL.search(value):
        raise ValueError(
            f"signed link field {name}={value!r} is empty or holds a control character "
            "(a line break would let two links share one signature); pass a plain value"
        )
    return value


def string_to_sign(method: str, key: str, expires: int, *extra: tuple[str, str]) -> str:
    """The text HMAC-SHA256 covers: method, key, expiry, then each ``(name, value)`` of ``extra``.

    Raises:
        ValueError: a field is empty or holds a control character; the message names it.
    """
    if expires < 0:
        raise ValueError(f"signed link field expires={expires!r} must be a Unix time (≥ 0)")
    parts = [_field("method", method), _field("key", key), str(expires)]
    parts += [_field(name, value) for name, value in extra]
    return "\n".join(parts)


def mac(secret: bytes, text: str) -> str:
    """The lowercase hex HMAC-SHA256 of ``text`` under ``secret``."""
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class GatewayLink:
    """What one gateway link grants: ``method`` on exactly ``key`` until ``expires``."""

    key: str
    expires: int
    kid: str
    sub: str
    tier: str
    ns: str
    method: str = "GET"

    def __post_init__(self) -> None:
        if not KEY_ID_PATTERN.fullmatch(self.kid):
            raise ValueError(
                f"gateway key id kid={self.kid!r} is not 1-32 letters, digits or '_' "
                "(it names the Worker secret SIGNING_KEY_<kid>)"
            )
        if not self.key.startswith(f"datasets/{self.ns}/"):
            raise ValueError(
                f"gateway link key={self.key!r} is not under datasets/{self.ns}/ "
                "(the edge serves only dataset objects of the signed namespace)"
            )

    def string_to_sign(self) -> str:
        """The text the link's signature covers (see the module docstring)."""
        extra = (("kid", self.kid), ("sub", self.sub), ("tier", self.tier), ("ns", self.ns))
        return string_to_sign(self.method, self.key, self.expires, *extra)

    def signature(self, secret: bytes) -> str:
        """The hex HMAC-SHA256 of :meth:`string_to_sign` under ``secret``."""
        return mac(secret, self.string_to_sign())

    def url(self, base_url: str, secret: bytes) -> str:
        """The link: ``<base_url>/<key>?expires=…&kid=…&sub=…&tier=…&ns=…&signature=…``."""
        values = (str(self.expires), self.kid, self.sub, self.tier, self.ns)
        query = [f"{n}={quote(v, safe='')}" for n, v in zip(GATEWAY_QUERY, values, strict=False)]
        query.append(f"signature={self.signature(secret)}")
        return f"{base_url.rstrip('/')}/{quote(self.key, safe='/')}?{'&'.join(query)}"


def signing_vectors() -> dict[str, list[dict[str, Any]]]:
    """The shared signing test vectors (``data/gateway_vectors.json``): ``vectors``, ``invalid``."""
    text = (resources.files("opendata_core") / "data" / "gateway_vectors.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return {"vectors": doc["vectors"], "invalid": doc["invalid"]}
