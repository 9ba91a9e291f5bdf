"""``/files/<key>``: shard bytes of a local folder store, under the registry's signed URLs.

Only for the local store (S3/R2 URLs point at the bucket itself). The signature binds method,
exact key and expiry (:mod:`opendata_registry.infra.signing`); a bad or expired one is a 403. Keys
outside ``datasets/`` or the folder are refused the same way. ``Range: bytes=…`` gives 206 with
``Content-Range``; the ETag is the shard's content hash when the key names one.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from stat import S_ISREG
from typing import Annotated, Any, Final

import anyio
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter
from litestar.response import Stream
from litestar.types import Scope

from opendata_core.errors import OpenDataError, PermissionDenied, shorten
from opendata_core.problems import ProblemDetails
from opendata_registry.infra.errors import error_responses, problem_response
from opendata_registry.infra.requestlog import request_id
from opendata_registry.infra.signing import UrlSigner, parse_decimal
from opendata_registry.infra.store import RegistryStore

__all__ = ["FileNotServed", "FilesController"]

_CHUNK: Final = 1 << 20
_RANGE_RE: Final = re.compile(r"bytes=([0-9]*)-([0-9]*)")
_MAX_POSITION_DIGITS: Final = 18
_BEYOND: Final = 10**_MAX_POSITION_DIGITS
"""Past the end of any object (a position with more digits than :data:`_MAX_POSITION_DIGITS`)."""
_SHARD_RE: Final = re.compile(r".*/parts/([0-9a-f]{64})\.parquet")


class FileNotServed(OpenDataError):
    """No object under this ``/files`` key (404 ``not_found``).

    Not core's ``opendata_core.store.NotFound`` (a ``KeyError`` a store raises to its caller):
    this is the answer of the ``/files`` route.
    """

    code = "not_found"


def _position(digits: str) -> int:
    """A byte position of a ``Range`` header; one past any object when it is that long.

    RFC 9110 ranges have no upper limit: ``bytes=0-<5,000 nines>`` means "to the end", and
    a start that large is past the end (416), not an error of ours.
    """
    value = parse_decimal(digits.lstrip("0") or "0", max_digits=_MAX_POSITION_DIGITS)
    return _BEYOND if value is None else value


def _range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """``(start, end)`` inclusive; ``None``: whole object; ``False``: unsatisfiable."""
    if not header:
        return None
    match = _RANGE_RE.fullmatch(header.strip())
    if not match or (not match[1] and not match[2]):
        return None  # multiple ranges or bad syntax: ignored, as RFC 9110 allows
    if not match[1]:
        suffix = _position(match[2])
        if suffix == 0:
            return False
        return max(0, size - suffix), size - 1
    start = _position(match[1])
    end = _position(match[2]) if match[2] else size - 1
    if start >= size or end < start:
        return False
    return start, min(end, size - 1)


async def _chunks(path: str, start: int, length: int) -> AsyncIterator[bytes]:
    fd = await anyio.to_thread.run_sync(os.open, path, os.O_RDONLY)
    try:
        offset, left = start, length
        while left > 0:
            data = await anyio.to_thread.run_sync(os.pread, fd, min(_CHUNK, left), offset)
            if not data:
                break
            offset += len(data)
            left -= len(data)
            yield data
    finally:
        os.close(fd)


class FilesController(Controller):
    """Signed downloads from a local folder store."""

    path = "/files"
    tags = ["downloads"]  # noqa: RUF012 - Litestar's declared type

    @get(
        "/{key:path}",
        summary="A signed download (local store)",
        responses=error_responses(403, 404, 416),
    )
    async def file(
        self,
        store: NamedDependency[RegistryStore],
        signer: NamedDependency[UrlSigner],
        scope: Scope,
        key: FromPath[str],
        expires: FromQuery[str | None] = None,
        signature: FromQuery[str | None] = None,
        range_header: Annotated[str | None, HeaderParameter(name="Range")] = None,
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
    ) -> Response[Any]:
        """The object's bytes (or the requested range) when the signature is valid."""
        key = key.lstrip("/")
        if not signer.verify("GET", key, expires, signature):
            raise PermissionDenied(
                "this download URL is not valid for this object, or it has expired; "
                "ask the registry for a new one (POST /v1/datasets/{ns}/{name}/download)"
            )
        if store.root is None or not key.startswith(store.layout.datasets_root()):
            raise FileNotServed(f"no object {key!r} here")
        try:
            path = store.local_path(key)
            stat = await anyio.to_thread.run_sync(os.stat, path)
        except (ValueError, OSError):
            raise FileNotServed(f"no object {key!r} here") from None
        if not S_ISREG(stat.st_mode):  # a folder (signed by mistake or by hand) is no object
            raise FileNotServed(f"no object {key!r} here")
        size = stat.st_size
        shard = _SHARD_RE.fullmatch(key)
        etag = f'"{shard[1]}"' if shard else f'"{stat.st_mtime_ns:x}-{size:x}"'
        headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
        if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
            return Response(content=b"", status_code=304, headers=headers)
        wanted = _range(range_header, size)
        if wanted is False:
            problem = ProblemDetails(
                code="bad_request",
                message=f"range {shorten(range_header, 80)!r} is outside the object's {size} bytes",
                status=416,
                hint="ask for bytes=start-end with start below the object's size",
                request_id=request_id(scope),
            )
            return problem_response(problem, {"Content-Range": f"bytes */{size}", **headers})
        start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
        length = max(0, end - start + 1)
        headers["Content-Length"] = str(length)
        status = 200
        if isinstance(wanted, tuple):
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Stream(
            _chunks(str(path), start, length),
            status_code=status,
            media_type="application/octet-stream",
            headers=headers,
        )
