"""``POST /v1/datasets/{ns}/{name}/download``: the route handler behind the direct path."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from opendata_core.api import DownloadRequest, DownloadResponse
from opendata_registry.domain.downloads.direct import DIRECT, answer_download
from opendata_registry.domain.downloads.guards import check_download
from opendata_registry.domain.downloads.services import DownloadService
from opendata_registry.infra.errors import error_responses
from opendata_registry.infra.params import Name, Namespace

__all__ = ["DownloadController"]


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
