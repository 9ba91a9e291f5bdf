"""Registry mode: read through an OpenData registry instead of straight from a bucket.

:class:`RegistryTransport` is a read-only :class:`~opendata._stores.Store` whose keys are
answered by the registry's API v1 (``opendata_core.api``): ``manifest.json`` by
``GET …/versions`` and ``GET …/versions/{id}`` (no download budget spent), ``metadata.json`` and
``README.md`` by ``GET /v1/datasets/{ns}/{name}``, ``lifecycle.json`` by ``GET …/lifecycle``,
``index.json`` by ``GET /v1/index.json``, and a
shard by a plain GET of its signed URL (from ``POST …/download``): straight from the bucket on
S3/R2, from the registry's own ``/files/…`` URLs on a local folder store (nothing there can
pre-sign). The client verifies every shard's sha256 exactly as it does for any other store.
Versions (``GET …/versions``, ``GET …/versions/{id}``, ``download`` with ``version``/``as_of``)
are the registry's answers by core's rules, so a pinned read is the one a direct store gives.

Behaviour at the edges:

* a signed URL refused with 403 (it expired mid-download) is renewed with one new ``download``
  call, shared by all threads waiting on the same URL; refused again, it is reported as a link
  the registry signed and storage refused (never as the caller's credentials);
* a registry that cannot be reached is named as the registry, with ``OPENDATA_REGISTRY``;
* a 429 is waited out (``Retry-After``) while the total wait stays within ``max_wait`` seconds,
  then :class:`~opendata_core.errors.RateLimited` is raised;
* error bodies (:class:`~opendata_core.problems.ProblemDetails`) become the same typed exceptions
  the registry raised (``DatasetNotFound`` with its close matches, ``PermissionDenied``, …): a
  moved id's 308 ``dataset_moved`` is :class:`~opendata_core.errors.DatasetMoved` (never followed
  silently: the client decides, from the lifecycle document, what a reader is told), a withdrawn
  dataset's 410 is :class:`~opendata_core.errors.DatasetWithdrawn` with reason and citation.

Publishing through the registry (signed PUTs, then the registry's commit) is
:mod:`opendata._registry_publish`; every other write (delete, index rebuild, gc) is refused.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import quote, urlsplit

import msgspec

from opendata_core.api import (
    DatasetDetail,
    DownloadRequest,
    DownloadResponse,
    PublishSummary,
    SearchResults,
    VersionList,
)
from opendata_core.documents import (
    FORMAT_VERSION,
    IndexEntry,
    Manifest,
    Shard,
    decode_document,
    encode_document,
    json_decoder,
)
from opendata_core.errors import (
    DatasetMoved,
    DatasetNotFound,
    DatasetWithdrawn,
    OpenDataError,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    StoreUnavailable,
    Unauthenticated,
    UnsupportedFormatVersion,
    first_line,
)
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.lifecycle import Lifecycle, WithdrawalReason
from opendata_core.problems import (
    REQUEST_ID_HEADER,
    ProblemDetails,
    error_from_problem,
    with_request_id,
)
from opendata_core.search import Matches
from opendata_core.store import NotFound, ObjectInfo, ObjectTooLarge, Store
from opendata_core.timerange import iso, parse_range, parse_time
from opendata_core.versions import Version, entry_publish_id, parse_as_of, select_version

if TYPE_CHECKING:
    import httpx

__all__ = ["RegistryTransport", "check_registry_url"]

_T = TypeVar("_T")

log = logging.getLogger("opendata")

DEFAULT_MAX_WAIT: Final = 30.0
"""Seconds a call may spend waiting out 429 (and a 503's ``Retry-After``) before it raises."""
DEFAULT_TIMEOUT: Final = 30.0
_RETRIES: Final = 2
"""Extra attempts after a connection error or a 502/503/504."""
_ATTEMPTS: Final = "opendata_attempts"
"""Where :meth:`RegistryTransport._send` notes on a response how many attempts it took."""
_RENEW_MARGIN: Final = timedelta(seconds=5)
"""A signed URL this close to its expiry is renewed before use rather than after a 403."""
_MAX_SIGNED: Final = 50_000
_MAX_PER_PAGE: Final = 100_000
"""The ``per_page`` asked of the search: the API's upper bound (the tier caps it lower)."""
_PUBLISH_HINT: Final = (
    "the registry only accepts publishes (od push, od run); to maintain the store itself, set "
    "OPENDATA_STORE to the bucket (s3://bucket/prefix) with its credentials"
)


def check_registry_url(url: str) -> str:
    """Validate a registry base URL and return it without a trailing slash.

    ``https://`` is required; plain ``http://`` is allowed only for loopback hosts (127.0.0.0/8,
    ``::1``, ``localhost``), so an API key never crosses a network in clear text.

    >>> check_registry_url("http://127.0.0.1:8000/")
    'http://127.0.0.1:8000'
    >>> check_registry_url("http://registry.example.org")
    Traceback (most recent call last):
    ...
    opendata_core.errors.OpenDataError: OPENDATA_REGISTRY='http://registry.example.org' uses plain http for a host that is not loopback
    """  # noqa: E501
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    fix = "use https://host[:port][/path] (plain http only for 127.0.0.1, ::1 or localhost)"
    if parts.scheme not in ("http", "https") or not host:
        raise OpenDataError(f"OPENDATA_REGISTRY={url!r} is not an http(s) URL", hint=fix)
    if parts.query or parts.fragment:
        raise OpenDataError(f"OPENDATA_REGISTRY={url!r} has a query or fragment", hint=fix)
    if parts.scheme == "http" and not _is_loopback(host):
        raise OpenDataError(
            f"OPENDATA_REGISTRY={url!r} uses plain http for a host that is not loopback", hint=fix
        )
    return url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _user_agent() -> str:
    from opendata import __version__

    return f"opendata-client/{__version__}"


def _bound(value: object, name: str, *, is_end: bool = False) -> str | None:
    """``start``/``end`` as the ISO text the registry parses (the same rule, from core)."""
    if value is None:
        return None
    if isinstance(value, str):
        parse_time(value, name, is_end=is_end)  # a bad value fails here, with the local message
        return value.strip()
    return iso(parse_time(value, name, is_end=is_end))


def _moment(value: str | date | datetime | None) -> str | None:
    """``as_of`` as the ISO text the registry parses (checked here, with the local message)."""
    return None if value is None else parse_as_of(value).isoformat()


@dataclass(frozen=True)
class _Signed:
    url: str
    expires_at: datetime
    dataset: DatasetId
    request: DownloadRequest
    """The request that signed it: a renewal asks the same question again."""


class RegistryTransport(Store):
    """A read-only store answered by an OpenData registry (``OPENDATA_REGISTRY``).

    Args:
        url: The registry's base URL (``https://…``; ``http://`` for loopback hosts only).
        api_key: Sent as ``Authorization: Bearer``; ``None`` reads anonymously (lowest tier).
        max_wait: Seconds one call may spend waiting out 429 answers before it raises.
        timeout: Seconds per HTTP request.
        transport: An httpx transport (tests inject faults a real server cannot produce).

    Example:
        >>> import opendata as od
        >>> from opendata._registry import RegistryTransport
        >>> client = od.Client(RegistryTransport("http://127.0.0.1:8000"))  # doctest: +SKIP
        >>> client.load("ecb/euro-fx-reference-rates", start="2024")  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = check_registry_url(url)
        self.max_wait = max_wait
        self._api_key = api_key or None
        self._timeout = timeout
        self._transport = transport
        self._layout = Layout("")
        self._lock = threading.Lock()
        self._renewing = threading.Lock()
        self._signed: dict[str, _Signed] = {}
        self._pins: dict[str, str] = {}
        """Shard key -> the publish whose manifest listed it (:meth:`version`), so a shard of
        a pinned version is signed by a download of that version."""
        self._served: dict[str, Lifecycle | None] = {}
        """Dataset id -> the lifecycle its last download carried (:meth:`served_lifecycle`)."""
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"RegistryTransport({self.url!r}, api_key={'***' if self._api_key else None})"

    # -----------------------------------------------------------------------------------------
    # HTTP

    def _client(self) -> httpx.Client:
        if self._transport is None:
            return _shared_client(self._timeout)
        with self._lock:
            if self._http is None:
                self._http = _new_client(self._timeout, self._transport)
            return self._http

    def close(self) -> None:
        """Close this store's own HTTP connections (those of an injected transport)."""
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def _send(
        self,
        method: str,
        url: str,
        *,
        registry: bool,
        what: str,
        retry: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request, retrying transport errors and 502/503/504 and waiting out 429s.

        A 503's ``Retry-After`` (the registry's database or Redis is down) is honoured within
        ``max_wait``.

        ``retry=False`` sends a request that must not be repeated as it is (a single-use token)
        once: its transport error raises, its 502/503/504 is returned; the caller builds a new one.
        """
        import httpx

        headers = dict(kwargs.pop("headers", None) or {})
        if registry and self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        waited = 0.0
        failures = 0
        while True:
            try:
                resp = self._client().request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                failures += 1
                if failures > _RETRIES or not retry:
                    if registry:
                        raise self.unreachable(what, exc) from None
                    raise StoreUnavailable(
                        self.url, f"{what}: cannot reach {_origin(url)}: {exc}"
                    ) from None
                time.sleep(0.2 * 2**failures)
                continue
            if resp.status_code == 429:
                wait = _retry_after(resp)
                if waited + wait > self.max_wait:
                    raise _rate_limited(resp, wait, waited, what)
                time.sleep(wait)
                waited += wait
                continue
            if resp.status_code in (502, 503, 504) and failures < _RETRIES and retry:
                backoff = 0.2 * 2 ** (failures + 1)
                # A registry whose dependency is down (503 unavailable) says when to come back.
                wait = (
                    max(backoff, _retry_after(resp)) if "Retry-After" in resp.headers else backoff
                )
                if waited + wait <= self.max_wait:
                    failures += 1
                    time.sleep(wait)
                    waited += wait
                    continue
            resp.extensions[_ATTEMPTS] = failures + 1
            return resp

    def unreachable(self, what: str, exc: Exception) -> ServiceUnavailable:
        """The error for a registry that does not answer: it names the registry and its variable."""
        err = ServiceUnavailable(
            "registry",
            f"{what}: the registry {self.url} (OPENDATA_REGISTRY) cannot be reached: "
            f"{first_line(exc)}",
        )
        err.hint = (
            f"check that the registry at {self.url} is up and that OPENDATA_REGISTRY names it; "
            "data already in the local cache still loads, with a warning"
        )
        return err

    def _api(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        resp = self._send(method, f"{self.url}{path}", registry=True, what=what, **kwargs)
        # Redirects are not followed: a moved id's 308 is an answer (DatasetMoved, moved_to).
        if resp.status_code >= 300:
            raise _error_for(resp, what, self.url, registry=True)
        return resp

    # -----------------------------------------------------------------------------------------
    # The API calls

    def download(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        columns: list[str] | None = None,
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> DownloadResponse:
        """``POST /v1/datasets/{ns}/{name}/download``: the manifest and signed shard URLs.

        ``version``/``as_of`` pin a version (the registry chooses it by core's rules).
        """
        ds = DatasetId.parse(id)
        request = DownloadRequest(
            start=_bound(start, "start"),
            end=_bound(end, "end", is_end=True),
            columns=columns,
            version=version,
            as_of=_moment(as_of),
        )
        # The order check every transport makes, here rather than in the registry: start after
        # end is a ValueError, as on a store (the registry would answer an OpenDataError).
        parse_range(start, end, None)
        return self._download(ds, request)

    def _download(self, ds: DatasetId, request: DownloadRequest) -> DownloadResponse:
        resp = self._api(
            "POST",
            f"{_dataset_path(ds)}/download",
            what=f"{ds}: download",
            content=msgspec.json.encode(request),
            headers={"Content-Type": "application/json"},
        )
        body = _decode(resp, DownloadResponse, f"{ds}: download")
        self._check_format(ds, body.manifest)
        with self._lock:
            if len(self._signed) > _MAX_SIGNED:
                self._signed.clear()
                self._served.clear()
            if body.lifecycle is not msgspec.UNSET:
                self._served[str(ds)] = body.lifecycle
            for shard in body.shards:
                key = self._layout.resolve(ds, shard.path)
                self._signed[key] = _Signed(shard.url, body.expires_at, ds, request)
        return body

    def versions(self, id: str | DatasetId) -> list[PublishSummary]:
        """``GET /v1/datasets/{ns}/{name}/versions``: the kept versions, newest first."""
        ds = DatasetId.parse(id)
        resp = self._api("GET", f"{_dataset_path(ds)}/versions", what=f"{ds}: versions")
        return _decode(resp, VersionList, f"{ds}: versions").versions

    def version(self, id: str | DatasetId, version: str) -> Manifest:
        """``GET /v1/datasets/{ns}/{name}/versions/{version}``: one kept version's manifest.

        ``version`` is a publish id or a unique prefix (the registry applies core's rule). The
        manifest's shards are then signed by a download of that version when read.
        """
        ds = DatasetId.parse(id)
        path = f"{_dataset_path(ds)}/versions/{quote(version.strip(), safe='')}"
        resp = self._api("GET", path, what=f"{ds}: version {version.strip()[:80]}")
        manifest = _decode(resp, Manifest, f"{ds}: version")
        self._check_format(ds, manifest)
        self.pin(ds, manifest.publish_id, manifest.shards)
        return manifest

    def pin(self, id: str | DatasetId, publish_id: str, shards: Iterable[Shard]) -> None:
        """Sign ``shards``, when read, by a download of version ``publish_id``.

        For a version chosen elsewhere (another process's :meth:`download`, a Dask graph): a
        shard this transport has no link for is otherwise signed by a download of the current
        version, which does not list the shards of an older one.
        """
        ds = DatasetId.parse(id)
        with self._lock:
            if len(self._pins) > _MAX_SIGNED:
                self._pins.clear()
            for shard in shards:
                self._pins[self._layout.resolve(ds, shard.path)] = publish_id

    def resolve(
        self,
        id: str | DatasetId,
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> Manifest:
        """The manifest of the version asked for (default the current one), by core's rules.

        A ``version`` alone is one request; otherwise the kept versions are listed and the
        choice made as on a direct store (:func:`~opendata_core.versions.select_version`),
        then that version's manifest read: two requests, and no signed URL (no download
        budget is spent).
        """
        ds = DatasetId.parse(id)
        if version is not None and as_of is None:
            return self.version(ds, version)
        kept = list(reversed(self.versions(ds)))
        chosen = select_version(
            str(ds),
            [Version(v.publish_id, v.published_at, v.parent_publish_id) for v in kept],
            version=version,
            as_of=parse_as_of(as_of) if as_of is not None else None,
        )
        return self.version(ds, chosen.publish_id)

    def version_url(self, ds: DatasetId, publish_id: str) -> str:
        """The registry's public URL of one version (what a citation names)."""
        return f"{self.url}{_dataset_path(ds)}/versions/{quote(publish_id, safe='')}"

    @staticmethod
    def _check_format(ds: DatasetId, manifest: Manifest) -> None:
        found = manifest.format
        if _major(found) > _major(FORMAT_VERSION):
            raise UnsupportedFormatVersion(
                document=f"{ds}/manifest.json", found=found, supported=FORMAT_VERSION
            )

    def detail(self, id: str | DatasetId) -> DatasetDetail:
        """``GET /v1/datasets/{ns}/{name}``: metadata, manifest summary, README and health."""
        ds = DatasetId.parse(id)
        resp = self._api("GET", _dataset_path(ds), what=f"{ds}: info")
        return _decode(resp, DatasetDetail, f"{ds}: info")

    def served_lifecycle(self, id: str | DatasetId) -> tuple[Lifecycle | None] | None:
        """What the last download of ``id`` said of its ``lifecycle.json``, taken once.

        A 1-tuple (``(None,)``: it has none) — the same document :meth:`lifecycle` would fetch,
        so a load reads it from the download answer instead of a second request — or ``None``
        when no download of ``id`` answered one since it was last taken (or the registry is
        older than that field).
        """
        with self._lock:
            key = str(DatasetId.parse(id))
            return (self._served.pop(key),) if key in self._served else None

    def lifecycle(self, id: str | DatasetId) -> Lifecycle:
        """``GET /v1/datasets/{ns}/{name}/lifecycle``: the id's own ``lifecycle.json``.

        The client resolves moves and decides from this document exactly as it does from a
        bucket's (:mod:`opendata._lifecycle`). A moved or withdrawn id answered as such (HTTP 308
        ``dataset_moved``, 410 ``dataset_withdrawn``) becomes the same document; an id with no
        lifecycle (HTTP 404, also from a registry older than the endpoint) is ``NotFound``.
        """
        ds = DatasetId.parse(id)
        key = self._layout.lifecycle(ds)
        what = f"{ds}: lifecycle"
        resp = self._send(
            "GET", f"{self.url}{_dataset_path(ds)}/lifecycle", registry=True, what=what
        )
        if resp.status_code == 404:
            raise NotFound(key)
        if resp.status_code >= 400:
            err = _error_for(resp, what, self.url, registry=True)
            if isinstance(err, DatasetMoved):
                return Lifecycle(dataset_id=str(ds), status="moved", moved_to=err.moved_to)
            if isinstance(err, DatasetWithdrawn):
                return Lifecycle(
                    dataset_id=str(ds),
                    status="withdrawn",
                    reason=cast("WithdrawalReason", err.reason),
                    since=err.withdrawn_at,
                    citation=err.citation,
                    message=err.note,
                )
            raise err
        return decode_document(resp.content, Lifecycle, name=f"{ds}/lifecycle.json")

    def search(
        self,
        query: str = "",
        *,
        limit: int | None = None,
        **filters: str | None,
    ) -> Matches:
        """``GET /v1/datasets``: the registry's ranked search, paged until ``limit`` results.

        ``filters`` are the API's query parameters (``topic``, ``namespace``, ``license``,
        ``frequency``, ``geo``, ...); ``None`` values are left out. The registry's
        ``suggestion`` (a query that found nothing) is the result's.
        """
        params: dict[str, str | int] = {k: v for k, v in filters.items() if v is not None}
        if query:
            params["q"] = query
        # The largest page the caller's tier allows: a larger per_page is capped to it, and the
        # answer's per_page says what it was. With a limit, no more than the limit is asked for.
        params["per_page"] = min(limit, _MAX_PER_PAGE) if limit is not None else _MAX_PER_PAGE
        out: list[IndexEntry] = []
        page = 1
        suggestion = None
        while limit is None or len(out) < limit:
            resp = self._api("GET", "/v1/datasets", what="search", params={**params, "page": page})
            body = _decode(resp, SearchResults, "search")
            out.extend(hit.dataset for hit in body.datasets)
            suggestion = body.suggestion
            if not body.datasets or body.page * body.per_page >= body.total:
                break
            page += 1
        return Matches(out if limit is None else out[:limit], suggestion)

    # -----------------------------------------------------------------------------------------
    # Shards

    def _signed_for(self, key: str) -> _Signed:
        with self._lock:
            signed = self._signed.get(key)
        if signed is not None and signed.expires_at - _RENEW_MARGIN > datetime.now(UTC):
            return signed
        if signed is not None:
            return self._renew(key, signed)
        ds, _ = self._split(key)
        with self._lock:
            pinned = self._pins.get(key)
        self._download(ds, DownloadRequest(version=pinned))
        return self._lookup(key)

    def _lookup(self, key: str) -> _Signed:
        with self._lock:
            signed = self._signed.get(key)
        if signed is None:
            # The current version no longer lists this shard (a publish replaced it).
            raise NotFound(key)
        return signed

    def _renew(self, key: str, stale: _Signed) -> _Signed:
        """One new ``download`` call for ``stale``'s request, shared by concurrent callers."""
        with self._renewing:  # threads that hit the same expiry wait for the first one's call
            with self._lock:
                current = self._signed.get(key)
            if current is not None and current.url != stale.url:
                return current  # another thread renewed it meanwhile
            self._download(stale.dataset, stale.request)
        return self._lookup(key)

    def _fetch_shard(
        self, key: str, byte_range: tuple[int, int] | None = None
    ) -> tuple[bytes, str]:
        signed = self._signed_for(key)
        headers = {"Range": f"bytes={byte_range[0]}-{byte_range[1] - 1}"} if byte_range else {}
        for attempt in range(2):
            resp = self._send(
                "GET", signed.url, registry=False, what=f"download {key}", headers=headers
            )
            if resp.status_code in (200, 206):
                return resp.content, resp.headers.get("ETag", "").strip('"')
            if resp.status_code == 404:
                raise NotFound(key)
            if resp.status_code == 403 and attempt == 0:
                # A signed link lives minutes (the registry's tier sets it): one that expired
                # while waiting in a queue is renewed with a new download call.
                log.info("the signed link for %s was refused (HTTP 403): renewing it", key)
                signed = self._renew(key, signed)
                continue
            if resp.status_code == 403:
                raise _link_refused(resp, key, _origin(signed.url), self.url)
            raise _error_for(resp, f"download {key}", _origin(signed.url))
        raise AssertionError("unreachable")  # pragma: no cover

    # -----------------------------------------------------------------------------------------
    # The Store interface (read-only)

    def _split(self, key: str) -> tuple[DatasetId, str]:
        parts = key.split("/", 3)
        if len(parts) != 4 or parts[0] != "datasets":
            raise NotFound(key)
        return DatasetId.parse(f"{parts[1]}/{parts[2]}"), parts[3]

    def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> Sequence[bytes | memoryview]:
        """Byte ranges of a shard through its signed URL (HTTP ``Range``), fetched concurrently."""
        if not ranges:
            return []
        if len(ranges) == 1:
            return [self._fetch_shard(key, ranges[0])[0]]
        with ThreadPoolExecutor(max_workers=min(8, len(ranges))) as pool:
            return list(pool.map(lambda r: self._fetch_shard(key, r)[0], ranges))

    def get(self, key: str, *, max_bytes: int | None = None) -> tuple[bytes | memoryview, str]:
        """Answer a store key from the registry (see the module docstring for the mapping)."""
        if key == self._layout.index():
            resp = self._api("GET", "/v1/index.json", what="index.json")
            return resp.content, resp.headers.get("ETag", "").strip('"')
        ds, rest = self._split(key)
        if rest == "manifest.json":  # no download: reading a manifest spends no byte budget
            manifest = self.resolve(ds)
            return encode_document(manifest), manifest.publish_id
        if rest == "metadata.json":
            detail = self.detail(ds)
            return encode_document(detail.metadata), detail.manifest.publish_id
        if rest == "README.md":
            detail = self.detail(ds)
            return detail.readme.encode(), detail.manifest.publish_id
        if rest == "lifecycle.json":
            return encode_document(self.lifecycle(ds)), ""
        if rest.startswith("parts/"):
            data, etag = self._fetch_shard(key)
            if max_bytes is not None and len(data) > max_bytes:
                raise ObjectTooLarge(key, len(data))
            return data, etag
        raise NotFound(key)

    def read_only(self, what: str) -> OpenDataError:
        """The error for a direct write: only publishes go through the registry."""
        return OpenDataError(
            f"{what}: the registry ({self.url}) takes publishes only, not direct writes",
            hint=_PUBLISH_HINT,
        )

    def put(
        self, key: str, data: bytes, *, if_absent: bool = False, if_match: str | None = None
    ) -> str:
        """Refused (see :meth:`read_only`)."""
        raise self.read_only(f"cannot write {key}")

    def delete(self, key: str) -> None:
        """Refused (see :meth:`read_only`)."""
        raise self.read_only(f"cannot delete {key}")

    def exists(self, key: str) -> bool:
        """Whether the registry has ``key`` (manifest, metadata, README or lifecycle.json)."""
        try:
            self.get(key)
        except NotFound:
            return False
        except DatasetNotFound:
            return False
        return True

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Refused: a registry does not list its bucket (use ``search`` or ``index.json``)."""
        raise OpenDataError(
            f"cannot list {prefix!r} through the registry ({self.url})",
            hint="od.list() and od.search() read the registry's catalogue; garbage collection "
            "and index rebuilds run against the bucket (OPENDATA_STORE)",
        )

    def uri(self, key: str) -> str:
        """A shard's signed URL; a history entry's public URL (``…/versions/{publish_id}``)."""
        ds, rest = self._split(key)
        publish_id = entry_publish_id(rest, "versions/")
        if publish_id is not None:
            return self.version_url(ds, publish_id)
        return self._signed_for(key).url

    def sign(self, key: str, expires: timedelta) -> str:
        """The registry's signed URL; its expiry is the registry's (per tier), not ``expires``."""
        return self._signed_for(key).url


# ---------------------------------------------------------------------------------------------
# Helpers

_shared: dict[float, httpx.Client] = {}
_shared_lock = threading.Lock()


def _new_client(timeout: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    import httpx

    # No default Authorization header: signed URLs point at storage, which must never see the
    # API key; RegistryTransport._send adds it to registry requests only.
    return httpx.Client(
        headers={"User-Agent": _user_agent()},
        timeout=timeout,
        transport=transport,
        follow_redirects=False,
    )


def _shared_client(timeout: float) -> httpx.Client:
    """One connection pool per process: od.load builds a client per call, connections stay."""
    with _shared_lock:
        client = _shared.get(timeout)
        if client is None:
            client = _shared[timeout] = _new_client(timeout)
            if len(_shared) == 1:
                atexit.register(_close_shared)
        return client


def _close_shared() -> None:
    with _shared_lock:
        clients = list(_shared.values())
        _shared.clear()
    for client in clients:
        client.close()


def _major(version: str) -> int:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def _dataset_path(ds: DatasetId) -> str:
    return f"/v1/datasets/{quote(ds.namespace, safe='')}/{quote(ds.name, safe='')}"


def _origin(url: str) -> str:
    """Scheme, host and port only: a signed URL's query holds a signature, never print it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _retry_after(resp: httpx.Response) -> float:
    value = resp.headers.get("Retry-After", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                pass
            else:
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    err = _problem_error(resp)
    if isinstance(err, RateLimited) and err.retry_after is not None:
        return float(err.retry_after)
    return 1.0


def _rate_limited(resp: httpx.Response, wait: float, waited: float, what: str) -> RateLimited:
    """The error once waiting longer would break the budget: the registry's message, if any."""
    err = _problem_error(resp)
    message = err.message if isinstance(err, RateLimited) else f"{what}: rate limited (HTTP 429)"
    if waited:
        message += f" (still limited after waiting {waited:.0f} s)"
    limited = RateLimited(message, retry_after=round(wait, 1))
    limited.request_id = err.request_id if err is not None else None  # already in the message
    return with_request_id(limited, resp.headers.get(REQUEST_ID_HEADER))


def _problem_error(resp: httpx.Response) -> OpenDataError | None:
    """The typed error of a ProblemDetails body, or ``None`` when the body is not one."""
    try:
        problem = msgspec.json.decode(resp.content, type=ProblemDetails)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return error_from_problem(problem)


def _error_for(
    resp: httpx.Response, what: str, where: str, *, registry: bool = False
) -> OpenDataError:
    """The exception for an error answer: the registry's own when it sent a problem body.

    ``registry``: ``where`` is the registry (an answer without a body is named as its answer).
    Its message ends with the answer's request id, which the registry's log line carries too.
    """
    err = _typed_error(resp, what, where, registry=registry)
    return with_request_id(err, resp.headers.get(REQUEST_ID_HEADER))


def _link_refused(resp: httpx.Response, key: str, origin: str, registry: str) -> OpenDataError:
    """Storage refused a signed link that was just renewed: not the caller's credentials."""
    err = PermissionDenied(
        f"download {key}: {origin} refused the registry's signed link (HTTP 403) after the "
        "client renewed it: the first link had expired (links live minutes) or was refused, "
        "and the new one was refused too"
    )
    err.hint = (
        f"signed links need no credentials of yours; the registry {registry} signs links that "
        "its storage does not accept (its clock or storage keys): try again, and tell the "
        "registry's operator if it persists"
    )
    return with_request_id(err, resp.headers.get(REQUEST_ID_HEADER))


def _typed_error(
    resp: httpx.Response, what: str, where: str, *, registry: bool = False
) -> OpenDataError:
    err = _problem_error(resp)
    status = resp.status_code
    attempts = int(resp.extensions.get(_ATTEMPTS, 1))
    if err is not None:
        if isinstance(err, StoreUnavailable) and attempts > 1:  # 503 unavailable included
            err.message = f"{err.message} (HTTP {status}; gave up after {attempts} attempts)"
            err.args = (err.message,)
        return err
    if status == 401:
        return Unauthenticated(f"{what}: {where} asked for authentication (HTTP 401)")
    if status == 403:
        return PermissionDenied(f"{what}: {where} refused access (HTTP 403)")
    if status >= 500:
        tried = f" ({attempts} attempts)" if attempts > 1 else ""
        if registry:
            return ServiceUnavailable(
                "registry",
                f"{what}: the registry {where} (OPENDATA_REGISTRY) answered HTTP {status}{tried}",
            )
        return StoreUnavailable(where, f"{what}: {where} answered HTTP {status}{tried}")
    return OpenDataError(f"{what}: {where} answered HTTP {status}")


def _decode(resp: httpx.Response, kind: type[_T], what: str) -> _T:
    try:
        # The one decoder per type: users call od.* from threads (Dask's workers, a pool).
        return json_decoder(kind).decode(resp.content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise OpenDataError(
            f"{what}: the registry's answer is not a valid {kind.__name__}: {exc}",
            hint="the registry may run an incompatible version; upgrade opendata-client",
        ) from None
