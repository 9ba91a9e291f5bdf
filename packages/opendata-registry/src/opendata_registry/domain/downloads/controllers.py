"""The download routes: signed shard URLs, and the signed one-file exports.

``POST /v1/datasets/{ns}/{name}/download`` is the route handler behind the direct path;
``GET …/export.csv`` and ``…/export.parquet`` answer the export links (export.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.response import Stream

from opendata_core.api import DownloadRequest, DownloadResponse
from opendata_registry.domain.catalogue.versions import VersionService
from opendata_registry.domain.downloads import export
from opendata_registry.domain.downloads.direct import DIRECT, answer_download
from opendata_registry.domain.downloads.guards import check_download
from opendata_registry.domain.downloads.services import DownloadService
from opendata_registry.infra.errors import error_responses
from opendata_registry.infra.params import Name, Namespace
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.signing import UrlSigner
from opendata_registry.infra.store import RegistryStore

__all__ = ["DownloadController", "ExportController"]


class DownloadController(Controller):
    """Datasets: download them."""

    path = "/v1/datasets"
    tags = ["datasets"]  # noqa: RUF012 - Litestar's declared type

    @post(
        "/{namespace:str}/{name:str}/download",
        summary="Signed download URLs",
        status_code=200,
        responses=error_responses(308, 401, 403, 404, 410, 422, 429, 503),
        opt={DIRECT: True},
        guards=[check_download],
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        downloads: NamedDependency[DownloadService],
        namespace: Namespace,
        name: Name,
        data: JSONBody[DownloadRequest],
    ) -> DownloadResponse:
        """The manifest and short-lived signed GET URLs for the shards overlapping [start, end]."""
        # The hottest call: a body that decodes is answered by the direct path (direct.py) with
        # the same function and the same guards; this handler answers the rest, so that its
        # validation errors are Litestar's.
        return await answer_download(downloads, request.scope, f"{namespace}/{name}", data)


class ExportController(Controller):
    """Datasets: one signed CSV or Parquet file of a version's rows in a range (export.py)."""

    path = "/v1/datasets"
    tags = ["datasets"]  # noqa: RUF012 - Litestar's declared type

    @get(
        ["/{namespace:str}/{name:str}/export.csv", "/{namespace:str}/{name:str}/export.parquet"],
        summary="The rows as one CSV or Parquet file (a signed link from a download answer)",
        responses=error_responses(403, 404, 422, 429),
    )
    async def export(
        self,
        request: Request[Any, Any, Any],
        versions: NamedDependency[VersionService],
        store: NamedDependency[RegistryStore],
        settings: NamedDependency[Settings],
        signer: NamedDependency[UrlSigner],
        namespace: Namespace,
        name: Name,
        version: FromQuery[str],
        expires: FromQuery[str | None] = None,
        signature: FromQuery[str | None] = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """The version's rows in [start, end] as CSV (streamed) or one Parquet file (zstd)."""
        fmt: export.ExportFormat = "csv" if request.url.path.endswith(".csv") else "parquet"
        manifest = await versions.resolve(
            f"{namespace}/{name}",
            version,
            generation=await versions.registry.hot.for_request(request.scope),
        )
        selection = export.open_export(
            signer,
            store,
            settings,
            manifest,
            fmt,
            start=start,
            end=end,
            expires=expires,
            signature=signature,
        )
        headers = {
            "Content-Disposition": f'attachment; filename="{selection.filename}.{fmt}"',
            "Cache-Control": "private, no-store",
        }
        parts = export.tables(store, settings, selection)
        if fmt == "parquet":
            data = await export.parquet_file(parts, manifest)
            return Response(data, media_type=export.EXPORT_FORMATS[fmt], headers=headers)
        # The first shard is read before the answer starts, so that a store or checksum
        # failure of a one-shard export is an error status, not a cut-off file.
        first = await anext(parts, None)

        async def body() -> AsyncIterator[bytes]:
            # Writing CSV is CPU work: in a worker thread, so other requests keep being answered.
            header = True
            if first is not None:
                yield await anyio.to_thread.run_sync(export.csv_bytes, first, True)
                header = False
            async for table in parts:
                yield await anyio.to_thread.run_sync(export.csv_bytes, table, header)
                header = False
            if header:  # no shard at all: the header line alone
                yield export.csv_header(manifest)

        return Stream(body(), media_type=export.EXPORT_FORMATS[fmt], headers=headers)
