r"""The registry's own signed download URLs, for a local folder store (nothing else can sign).

Same semantics as an S3 pre-signed GET: the exact key, the method and the expiry are bound into
an HMAC-SHA256 over ``"GET\\n<key>\\n<expires>"`` with the registry's secret; anything else
(another key, a later expiry, another method) fails verification.

Example:
    >>> signer = UrlSigner(b"k" * 32)
    >>> key = "datasets/a/b/parts/x.parquet"
    >>> url = signer.sign("http://127.0.0.1:8000", key, expires=2000000000)
    >>> url.split("?")[0]
    'http://127.0.0.1:8000/files/datasets/a/b/parts/x.parquet'
    >>> query = dict(p.split("=") for p in url.split("?")[1].split("&"))
    >>> signer.verify("GET", key, query["expires"], query["signature"], now=1999999999)
    True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Final
from urllib.parse import quote

from opendata_core.gateway import string_to_sign

__all__ = ["FILES_ROUTE", "UrlSigner", "parse_decimal", "same_secret"]

FILES_ROUTE: Final = "/files"
_DECIMAL: Final = re.compile(r"[0-9]+")


def parse_decimal(text: str | None, *, max_digits: int) -> int | None:
    """``text`` as a non-negative integer if it is 1 to ``max_digits`` ASCII digits, else ``None``.

    The one parser of the numbers in signed URLs (``expires``, ``bytes``) and ``Range`` headers.
    ``str.isdigit`` is not a test for ``int``: ``"²"`` is a digit that ``int`` refuses, and
    ``int`` accepts other scripts' digits and refuses more than 4,300 of them.

    Example:
        >>> parse_decimal("2000000000", max_digits=12), parse_decimal("²", max_digits=12)
        (2000000000, None)
        >>> parse_decimal("9" * 13, max_digits=12), parse_decimal("", max_digits=12)
        (None, None)
    """
    if not text or len(text) > max_digits or not _DECIMAL.fullmatch(text):
        return None
    return int(text)


def same_secret(expected: str, given: str) -> bool:
    """Whether ``given`` equals ``expected``, in constant time, whatever characters it holds.

    ``hmac.compare_digest`` raises ``TypeError`` on a ``str`` with non-ASCII characters (which
    anyone can put in a query string or a header); bytes compare in any case.
    """
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


class UrlSigner:
    """Signs and verifies download URLs with one secret."""

    __slots__ = ("_keyed",)

    def __init__(self, secret: bytes) -> None:
        # The key schedule is done once; each signature copies the keyed state.
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "UrlSigner(<secret>)"

    def _mac(self, method: str, key: str, expires: int) -> str:
        # One definition of the signed text (core's), shared with the edge gateway's links.
        mac = self._keyed.copy()
        mac.update(string_to_sign(method, key, expires).encode())
        return mac.hexdigest()

    def signature(self, key: str, *, expires: int, method: str = "GET") -> str:
        """The signature of ``method`` on ``key`` until ``expires`` (for a URL of another route)."""
        return self._mac(method, key, expires)

    def sign(self, base_url: str, key: str, *, expires: int, method: str = "GET") -> str:
        """The URL of ``key`` under ``base_url``, valid until the Unix time ``expires``."""
        path = quote(key, safe="/")
        signature = self._mac(method, key, expires)
        return f"{base_url}{FILES_ROUTE}/{path}?expires={expires}&signature={signature}"

    def verify(
        self,
        method: str,
        key: str,
        expires: str | None,
        signature: str | None,
        *,
        now: float | None = None,
    ) -> bool:
        """Whether ``signature`` is valid for this method, key and unexpired ``expires``."""
        until = parse_decimal(expires, max_digits=12)
        if until is None or not signature:
            return False
        try:
            expected = self._mac(method, key, until)
        except ValueError:  # a key with a control character was never signed
            return False
        if not same_secret(expected, signature):
            return False
        return until >= (time.time() if now is None else now)
