"""``/v1/datasets``: search, detail, runs, history and download."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from opendata_core.api import (
    DatasetDetail,
    DownloadRequest,
    DownloadResponse,
    HistoryPage,
    RunsPage,
    SearchResults,
)
from opendata_registry.domain.catalogue.services import CatalogueService, SearchQuery
from opendata_registry.domain.downloads.direct import DIRECT, answer_download
from opendata_registry.infra.errors import error_responses
from opendata_registry.infra.identity import Caller
from opendata_registry.infra.settings import Settings

__all__ = ["DatasetController"]

Page = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="1-based page number")]
PerPage = Annotated[
    int | None,
    QueryParameter(
        ge=1,
        le=100_000,
        description="results per page; capped at the tier's page size (see per_page in the answer)",
    ),
]
Text = Annotated[str | None, QueryParameter(max_length=200)]
# The ID rules (core's DatasetId) are documented for clients and fuzzers but checked by core,
# whose error names the rule that failed (Litestar's would only quote the pattern).
Namespace = Annotated[
    str,
    PathParameter(
        description="the publisher, e.g. 'ecb' (GitHub owner rules)",
        schema_extra={"pattern": r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$", "maxLength": 39},
    ),
]
Name = Annotated[
    str,
    PathParameter(
        description="the dataset's name, e.g. 'euro-fx-rates'",
        schema_extra={"pattern": r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$", "maxLength": 100},
    ),
]


def _per_page(per_page: int | None, caller: Caller, settings: Settings) -> int:
    """The page size: at most the tier's (a larger ask is capped, as the response shows)."""
    limit = settings.tier(caller.tier).max_page_size
    return min(per_page or 20, limit)


class DatasetController(Controller):
    """Datasets: find them, read about them, download them."""

    path = "/v1/datasets"
    tags = ["datasets"]  # noqa: RUF012 - Litestar's declared type

    @get(
        "/",
        summary="Search datasets",
        description="Full-text search with filters and facets.",
        responses=error_responses(401, 429, 503),
    )
    async def search(
        self,
        catalogue: NamedDependency[CatalogueService],
        caller: NamedDependency[Caller],
        q: Annotated[str, QueryParameter(max_length=200)] = "",
        topic: Text = None,
        namespace: Text = None,
        license: Text = None,
        frequency: Text = None,
        geo: Text = None,
        updated_since: FromQuery[date | None] = None,
        covers_from: FromQuery[date | None] = None,
        covers_to: FromQuery[date | None] = None,
        sort: FromQuery[Literal["relevance", "updated", "name"] | None] = None,
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

    @get(
        "/{namespace:str}/{name:str}",
        summary="A dataset's page",
        responses=error_responses(401, 404, 422, 429, 503),
    )
    async def detail(
        self, catalogue: NamedDependency[CatalogueService], namespace: Namespace, name: Name
    ) -> DatasetDetail:
        """Metadata, current publish, README, preview and health."""
        return await catalogue.detail(f"{namespace}/{name}")

    @get(
        "/{namespace:str}/{name:str}/runs",
        summary="Run history",
        responses=error_responses(401, 404, 429, 503),
    )
    async def runs(
        self,
        catalogue: NamedDependency[CatalogueService],
        caller: NamedDependency[Caller],
        namespace: Namespace,
        name: Name,
        page: Page = 1,
        per_page: PerPage = None,
    ) -> RunsPage:
        """The producer's runs, newest first."""
        size = _per_page(per_page, caller, catalogue.settings)
        return await catalogue.runs(f"{namespace}/{name}", page=page, per_page=size)

    @get(
        "/{namespace:str}/{name:str}/history",
        summary="Publish history",
        responses=error_responses(401, 404, 429, 503),
    )
    async def history(
        self, catalogue: NamedDependency[CatalogueService], namespace: Namespace, name: Name
    ) -> HistoryPage:
        """Every publish seen, oldest first (row counts and schema changes over time)."""
        return await catalogue.history(f"{namespace}/{name}")

    @post(
        "/{namespace:str}/{name:str}/download",
        summary="Signed download URLs",
        status_code=200,
        responses=error_responses(401, 403, 404, 422, 429, 503),
        opt={DIRECT: True},
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        namespace: Namespace,
        name: Name,
        data: JSONBody[DownloadRequest],
    ) -> DownloadResponse:
        """The manifest and short-lived signed GET URLs for the shards overlapping [start, end]."""
        # The hottest call: a body that decodes is answered by the direct path (direct.py) with
        # the same function; this handler answers the rest, so that its validation errors are
        # Litestar's. No injected dependencies, and a database session only on a cache miss.
        return await answer_download(request.scope, f"{namespace}/{name}", data)
