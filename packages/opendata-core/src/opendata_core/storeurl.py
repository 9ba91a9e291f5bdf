"""Store URLs: what ``OPENDATA_STORE`` (or ``--store``) names, parsed without opening anything.

One grammar for every component that opens a store (the client, the registry)::

    /path/to/folder, ~/folder, file:///path   a local folder (prefix "")
    s3://bucket[/prefix]                      an S3-compatible bucket (AWS_* settings)
    r2://bucket[/prefix]                      a Cloudflare R2 bucket (needs R2_ACCOUNT_ID)

Credentials never belong in the URL (they would end up in logs and shell history): a URL with
``user:password@`` is refused, and the error does not repeat it.

Example:
    >>> parse_store_url("s3://my-bucket/prod/v1")
    StoreUrl(scheme='s3', bucket='my-bucket', prefix='prod/v1', path=None)
    >>> parse_store_url("/srv/opendata").path
    '/srv/opendata'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from opendata_core.errors import OpenDataError

__all__ = ["StoreUrl", "parse_store_url"]

_BUCKET_RE: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_HINT: Final = "use a folder path, file:///path, s3://bucket/prefix or r2://bucket/prefix"


@dataclass(frozen=True)
class StoreUrl:
    """A parsed store URL."""

    scheme: Literal["file", "s3", "r2"]
    bucket: str | None
    """The bucket (``s3``/``r2``), else ``None``."""
    prefix: str
    """Key prefix inside the bucket, without surrounding ``/`` (``""`` for none)."""
    path: str | None
    """The folder of a local store (as written: ``~`` is not expanded), else ``None``."""

    @property
    def is_local(self) -> bool:
        """Whether this is a local folder."""
        return self.scheme == "file"


def parse_store_url(url: str) -> StoreUrl:
    """Parse a store URL (see the module docstring for the forms).

    Raises:
        OpenDataError: unknown scheme, missing or invalid bucket name, or credentials in the URL.

    Example:
        >>> parse_store_url("r2://data").bucket
        'data'
        >>> parse_store_url("s3://AKIA:secret@data")
        Traceback (most recent call last):
        ...
        opendata_core.errors.OpenDataError: store URL for bucket 'data' contains credentials ...
    """
    if not isinstance(url, str) or not url.strip():
        raise OpenDataError("store URL is empty", hint=_HINT)
    url = url.strip()
    if re.fullmatch(r"[A-Za-z]:[\\/].*", url):  # a Windows drive letter, not a scheme
        return StoreUrl("file", None, "", url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "":
        return StoreUrl("file", None, "", url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[-1]
        raise OpenDataError(
            f"store URL for bucket {host!r} contains credentials (user:password@); they were "
            "not used",
            hint="remove them from the URL and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise OpenDataError(
                f"store URL {url!r} names the host {parts.netloc!r}; file URLs must be local",
                hint="write file:///absolute/path (three slashes)",
            )
        return StoreUrl("file", None, "", parts.path)
    if scheme in ("s3", "r2"):
        bucket = parts.netloc
        if not bucket:
            raise OpenDataError(f"store URL {url!r} has no bucket name", hint=f"{scheme}://bucket")
        if not _BUCKET_RE.fullmatch(bucket):
            raise OpenDataError(
                f"store URL {url!r}: bucket name {bucket!r} must be 3-63 lower-case letters, "
                "digits, '.' or '-', starting and ending with a letter or digit",
                hint=f"{scheme}://my-bucket/optional/prefix",
            )
        if parts.query or parts.fragment:
            raise OpenDataError(
                f"store URL {url!r} has a query or fragment; options go in AWS_* variables",
                hint=f"{scheme}://{bucket}/prefix",
            )
        kind: Literal["s3", "r2"] = "s3" if scheme == "s3" else "r2"
        return StoreUrl(kind, bucket, parts.path.strip("/"), None)
    raise OpenDataError(f"unknown store scheme {scheme!r} in store URL", hint=_HINT)
