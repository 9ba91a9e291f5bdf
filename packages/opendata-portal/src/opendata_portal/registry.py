"""The portal's only data source: the registry's HTTP API v1, decoded into core's wire Structs.

One :class:`RegistryClient` (one pooled ``httpx.AsyncClient``) lives as long as the app. Error
answers are core's :class:`~opendata_core.problems.ProblemDetails` bodies and come back as the
same typed exceptions the client raises (``DatasetNotFound`` with close matches, ...).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TypeVar
from urllib.parse import quote, urlencode

import httpx
import msgspec

from opendata_core.api import (
    API_VERSION,
    DatasetDetail,
    DownloadRequest,
    DownloadResponse,
    HistoryPage,
    RunsPage,
    SearchResults,
    VersionList,
)
from opendata_core.errors import FormatError, OpenDataError
from opendata_core.problems import ProblemDetails, error_from_problem
from opendata_portal.settings import Settings

__all__ = ["REGISTRY_WAIT", "RegistryClient", "RegistryUnavailable"]

T = TypeVar("T")

REGISTRY_WAIT: ContextVar[list[float] | None] = ContextVar("registry_wait", default=None)
"""Seconds each registry call of the current request took (for the ``Server-Timing`` header)."""


class RegistryUnavailable(OpenDataError, ConnectionError):
    """The registry did not answer (refused, timed out) or answered something unreadable."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(
            f"the registry at {url} did not answer: {detail}",
            hint="check that the registry is running and OPENDATA_PORTAL_REGISTRY_URL points to it",
        )
        self.url = url


def dataset_path(dataset_id: str) -> str:
    """``ns/name`` → the API path of that dataset (each part percent-encoded)."""
    ns, _, name = dataset_id.partition("/")
    return f"/{API_VERSION}/datasets/{quote(ns, safe='')}/{quote(name, safe='')}"


class RegistryClient:
    """Typed access to the registry's read endpoints.

    Args:
        settings: where the registry is, the timeout and the optional API key.
        transport: an httpx transport to use instead of the network (tests inject faults).
    """

    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        # identity: the portal sits next to the registry, where gzip costs both processes more
        # CPU (~1 ms a dataset page, measured) than the bytes it saves take to send.
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "User-Agent": "opendata-portal",
        }
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self.base_url = settings.registry_url
        self.public_url = settings.public_registry_url
        self._http = httpx.AsyncClient(
            base_url=settings.registry_url,
            headers=headers,
            timeout=settings.timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def public(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """The visitor-facing URL of an API path (the page's "JSON" link)."""
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.public_url}{path}{query}"

    async def _get(self, path: str, kind: type[T], params: Mapping[str, str] | None = None) -> T:
        return await self._call("GET", path, kind, params=params)

    async def _call(
        self,
        method: str,
        path: str,
        kind: type[T],
        *,
        params: Mapping[str, str] | None = None,
        body: msgspec.Struct | None = None,
    ) -> T:
        started = time.perf_counter()
        content = None if body is None else msgspec.json.encode(body)
        headers = None if body is None else {"Content-Type": "application/json"}
        try:
            response = await self._http.request(
                method, path, params=dict(params or {}), content=content, headers=headers
            )
        except httpx.TimeoutException:
            raise RegistryUnavailable(self.base_url, "timed out") from None
        except httpx.TransportError as exc:
            raise RegistryUnavailable(self.base_url, type(exc).__name__) from None
        finally:
            waits = REGISTRY_WAIT.get()
            if waits is not None:
                waits.append(time.perf_counter() - started)
        if response.status_code >= 300:  # a moved id's 308 is an answer (DatasetMoved)
            try:
                problem = msgspec.json.decode(response.content, type=ProblemDetails)
            except (msgspec.DecodeError, msgspec.ValidationError):
                raise RegistryUnavailable(
                    self.base_url, f"HTTP {response.status_code} from {path}"
                ) from None
            raise error_from_problem(problem)
        try:
            return msgspec.json.decode(response.content, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise FormatError(
                f"the registry's answer to {path} is not a valid {kind.__name__}: {exc}",
                document=kind.__name__,
            ) from None

    async def search(self, params: Mapping[str, str]) -> SearchResults:
        """``GET /v1/datasets`` with the given query parameters."""
        return await self._get(f"/{API_VERSION}/datasets", SearchResults, params)

    async def dataset(self, dataset_id: str) -> DatasetDetail:
        """``GET /v1/datasets/{ns}/{name}``."""
        return await self._get(dataset_path(dataset_id), DatasetDetail)

    async def history(self, dataset_id: str) -> HistoryPage:
        """``GET /v1/datasets/{ns}/{name}/history`` (publishes, oldest first)."""
        return await self._get(dataset_path(dataset_id) + "/history", HistoryPage)

    async def versions(self, dataset_id: str) -> VersionList:
        """``GET /v1/datasets/{ns}/{name}/versions`` (the kept versions, newest first)."""
        return await self._get(dataset_path(dataset_id) + "/versions", VersionList)

    async def download(
        self,
        dataset_id: str,
        *,
        start: str | None = None,
        end: str | None = None,
        version: str | None = None,
    ) -> DownloadResponse:
        """``POST /v1/datasets/{ns}/{name}/download``: the manifest and signed shard URLs.

        The answer also carries signed links of the same rows as one CSV or Parquet file made by
        the registry (``exports``), or why there are none (``export_refused``).

        The registry counts this as a download of the signed shards: only a visitor's download
        (or a description that must list the shards' checksums) asks for it.
        """
        return await self._call(
            "POST",
            dataset_path(dataset_id) + "/download",
            DownloadResponse,
            body=DownloadRequest(start=start, end=end, version=version),
        )

    async def runs(self, dataset_id: str, *, per_page: int = 20) -> RunsPage:
        """``GET /v1/datasets/{ns}/{name}/runs`` (newest first)."""
        return await self._get(
            dataset_path(dataset_id) + "/runs", RunsPage, {"per_page": str(per_page)}
        )
