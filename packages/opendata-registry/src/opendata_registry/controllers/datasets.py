"""``/v1/datasets``: search, detail, runs, history and download."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.params import Parameter

from opendata_core.api import (
    DatasetDetail,
    DownloadRequest,
    DownloadResponse,
    HistoryPage,
    RunsPage,
    SearchResults,
)
from opendata_core.errors import OpenDataError
from opendata_registry.services.catalogue import CatalogueService, SearchQuery
from opendata_registry.services.downloads import DownloadService
from opendata_registry.services.keys import Caller
from opendata_registry.settings import Settings

__all__ = ["DatasetController"]

Page = Annotated[int, Parameter(ge=1, le=1_000_000, description="1-based page number")]
PerPage = Annotated[
    int | None,
    Parameter(ge=1, le=100_000, description="results per page (at most the tier's page size)"),
]
Text = Annotated[str | None, Parameter(max_length=200)]


def _per_page(per_page: int | None, caller: Caller, settings: Settings) -> int:
    tier = settings.tier(caller.tier)
    if per_page is None:
        return min(20, tier.max_page_size)
    if per_page > tier.max_page_size:
        raise OpenDataError(
            f"per_page={per_page} is above the {tier.name} tier's page size of "
            f"{tier.max_page_size}",
            hint=f"ask for per_page={tier.max_page_size} or less, and use page= to go on",
        )
    return per_page


class DatasetController(Controller):
    """Datasets: find them, read about them, download them."""

    path = "/v1/datasets"
    tags = ["datasets"]  # noqa: RUF012 - Litestar's declared type

    @get("/", summary="Search datasets", description="Full-text search with filters and facets.")
    async def search(
        self,
        catalogue: CatalogueService,
        caller: Caller,
        q: Annotated[str, Parameter(max_length=200)] = "",
        topic: Text = None,
        namespace: Text = None,
        license: Text = None,
        frequency: Text = None,
        geo: Text = None,
        updated_since: date | None = None,
        covers_from: date | None = None,
        covers_to: date | None = None,
        sort: Literal["relevance", "updated", "name"] | None = None,
        page: Page = 1,
        per_page: PerPage = None,
    ) -> SearchResults:
        """Datasets matching ``q`` and the filters, with counts per facet value."""
        query = SearchQuery(
            q=q,
            topic=topic,
            namespace=namespace,
            license=license,
            frequency=frequency,
            geo=geo,
            updated_since=updated_since,
            covers_from=covers_from,
            covers_to=covers_to,
            sort=sort,
            page=page,
            per_page=_per_page(per_page, caller, catalogue.settings),
        )
        return await catalogue.search(query)

    @get("/{namespace:str}/{name:str}", summary="A dataset's page")
    async def detail(self, catalogue: CatalogueService, namespace: str, name: str) -> DatasetDetail:
        """Metadata, current publish, README, preview and health."""
        return await catalogue.detail(f"{namespace}/{name}")

    @get("/{namespace:str}/{name:str}/runs", summary="Run history")
    async def runs(
        self,
        catalogue: CatalogueService,
        caller: Caller,
        namespace: str,
        name: str,
        page: Page = 1,
        per_page: PerPage = None,
    ) -> RunsPage:
        """The producer's runs, newest first."""
        size = _per_page(per_page, caller, catalogue.settings)
        return await catalogue.runs(f"{namespace}/{name}", page=page, per_page=size)

    @get("/{namespace:str}/{name:str}/history", summary="Publish history")
    async def history(self, catalogue: CatalogueService, namespace: str, name: str) -> HistoryPage:
        """Every publish seen, oldest first (row counts and schema changes over time)."""
        return await catalogue.history(f"{namespace}/{name}")

    @post("/{namespace:str}/{name:str}/download", summary="Signed download URLs", status_code=200)
    async def download(
        self,
        request: Request[Any, Any, Any],
        downloads: DownloadService,
        caller: Caller,
        namespace: str,
        name: str,
        data: DownloadRequest,
    ) -> DownloadResponse:
        """The manifest and short-lived signed GET URLs for the shards overlapping [start, end]."""
        base_url = str(request.base_url).rstrip("/")
        return await downloads.download(f"{namespace}/{name}", data, caller, base_url)
