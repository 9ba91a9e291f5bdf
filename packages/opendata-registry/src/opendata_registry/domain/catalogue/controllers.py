"""``/v1/datasets``: search, detail, runs, history, versions; ``/v1/index.json``: the catalogue."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, HeaderParameter, PathParameter, QueryParameter

from opendata_core.api import (
    DatasetDetail,
    HistoryPage,
    LifecycleEvents,
    RunsPage,
    SearchResults,
    Sort,
    VersionList,
)
from opendata_core.documents import Manifest, encode_document
from opendata_core.errors import OpenDataError
from opendata_core.lifecycle import TrustLevel
from opendata_registry.domain.catalogue.services import CatalogueService, SearchQuery
from opendata_registry.domain.catalogue.versions import VersionService
from opendata_registry.infra.errors import error_responses
from opendata_registry.infra.identity import Caller
from opendata_registry.infra.params import Name, Namespace
from opendata_registry.infra.settings import Settings

__all__ = ["DatasetController", "IndexController", "VersionController"]

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


def _per_page(per_page: int | None, caller: Caller, settings: Settings) -> int:
    """The page size: at most the tier's (a larger ask is capped, as the response shows)."""
    limit = settings.tier(caller.tier).max_page_size
    return min(per_page or 20, limit)


class DatasetController(Controller):
    """Datasets: find them and read about them."""

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
        sort: FromQuery[Sort | None] = None,
        page: Page = 1,
        per_page: PerPage = None,
        trust: Annotated[
            TrustLevel | None,
            QueryParameter(description="the least trust level in force (spec §10.1)"),
        ] = None,
        verified: Annotated[
            bool | None,
            QueryParameter(description="true: verified-publisher or higher (trust=…)"),
        ] = None,
    ) -> SearchResults:
        """Datasets matching ``q`` and the filters, with counts per facet value.

        Withdrawn datasets are never hits (their ids answer 410); ``trust`` keeps the datasets
        trusted at that level or higher, ``verified=true`` those verified at all.
        """
        if verified and trust is None:
            trust = "verified-publisher"
        elif verified is False:
            if trust is not None:
                raise OpenDataError(
                    f"verified=false and trust={trust} contradict each other",
                    hint="give one of them: trust=LEVEL keeps that level and higher",
                )
            trust = None
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
            trust=trust,
        )
        return await catalogue.search(query)

    @get(
        "/{namespace:str}/{name:str}",
        summary="A dataset's page",
        responses=error_responses(308, 401, 404, 410, 422, 429, 503),
    )
    async def detail(
        self, catalogue: NamedDependency[CatalogueService], namespace: Namespace, name: Name
    ) -> DatasetDetail:
        """Metadata, current publish, README, preview and health."""
        return await catalogue.detail(f"{namespace}/{name}")

    @get(
        "/{namespace:str}/{name:str}/events",
        summary="Lifecycle audit trail",
        responses=error_responses(308, 401, 404, 429, 503),
    )
    async def events(
        self, catalogue: NamedDependency[CatalogueService], namespace: Namespace, name: Name
    ) -> LifecycleEvents:
        """Who changed the dataset's status or trust, when, what and why (oldest first).

        Answered for a withdrawn dataset too; a moved id answers 308 ``dataset_moved``.
        """
        return await catalogue.events(f"{namespace}/{name}")

    @get(
        "/{namespace:str}/{name:str}/lifecycle",
        summary="lifecycle.json",
        media_type="application/json",
        responses=error_responses(401, 404, 429, 503),
    )
    async def lifecycle(
        self, catalogue: NamedDependency[CatalogueService], namespace: Namespace, name: Name
    ) -> Response[Any]:
        """The id's ``lifecycle.json`` as in the bucket (spec §10.5), a moved id's too.

        404 ``not_found`` when the dataset has none (it is active, not verified, unless its
        ``opendata.yaml`` declares ``deprecated``): what a reader of the bucket finds.
        """
        ds = f"{namespace}/{name}"
        doc = await catalogue.lifecycle(ds)
        if doc is None:
            raise _NoLifecycle(
                f"{ds} has no lifecycle.json: it is active and not verified",
                hint="the dataset's page (GET /v1/datasets/{ns}/{name}) has its status in force",
            )
        return Response(content=encode_document(doc), media_type="application/json")

    @get(
        "/{namespace:str}/{name:str}/runs",
        summary="Run history",
        responses=error_responses(308, 401, 404, 410, 429, 503),
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
        responses=error_responses(308, 401, 404, 410, 429, 503),
    )
    async def history(
        self, catalogue: NamedDependency[CatalogueService], namespace: Namespace, name: Name
    ) -> HistoryPage:
        """Every publish seen, oldest first (row counts and schema changes over time)."""
        return await catalogue.history(f"{namespace}/{name}")


class _NoLifecycle(OpenDataError):
    """No ``lifecycle.json`` at an id that is a dataset (404 ``not_found``)."""

    code = "not_found"


class IndexController(Controller):
    """The whole catalogue in one document, for static readers and caches."""

    path = "/v1/index.json"
    tags = ["catalogue"]  # noqa: RUF012 - Litestar's declared type

    @get(
        "/",
        summary="index.json",
        media_type="application/json",
        responses=error_responses(401, 422, 429, 503),
    )
    async def index(
        self,
        catalogue: NamedDependency[CatalogueService],
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
    ) -> Response[Any]:
        """The index; ``If-None-Match`` with the current ETag gives 304."""
        body = encode_document(await catalogue.index())
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
        if if_none_match and etag in {t.strip() for t in if_none_match.split(",")} | (
            {etag} if if_none_match.strip() == "*" else set()
        ):
            return Response(content=b"", status_code=304, headers=headers)
        return Response(content=body, media_type="application/json", headers=headers)


# Not bounded here: core's select_manifest answers every value (VersionNotFound, or a prefix
# too short) with the message a direct reader gets, and shortens what it echoes.
Version = Annotated[
    str,
    PathParameter(description="a publish id, or a unique prefix of one of at least 8 characters"),
]


class VersionController(Controller):
    """A dataset's history: what can be loaded with ``version=`` or ``as_of=`` (spec §8)."""

    path = "/v1/datasets"
    tags = ["datasets"]  # noqa: RUF012 - Litestar's declared type

    @get(
        "/{namespace:str}/{name:str}/versions",
        summary="Kept versions",
        responses=error_responses(308, 401, 404, 410, 429, 503),
    )
    async def versions(
        self, versions: NamedDependency[VersionService], namespace: Namespace, name: Name
    ) -> VersionList:
        """The versions a reader can pin, newest first (the chain of history entries)."""
        return await versions.versions(f"{namespace}/{name}")

    @get(
        "/{namespace:str}/{name:str}/versions/{version:str}",
        summary="One version's manifest",
        responses=error_responses(308, 401, 404, 410, 429, 503),
    )
    async def version(
        self,
        versions: NamedDependency[VersionService],
        namespace: Namespace,
        name: Name,
        version: Version,
    ) -> Manifest:
        """The manifest of one kept version: its shards, schema, stats and provenance."""
        return await versions.resolve(f"{namespace}/{name}", version)
