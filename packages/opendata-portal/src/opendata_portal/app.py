"""``create_app(settings)``: the portal's Litestar application.

Routes (``/-/`` is never a namespace: a GitHub owner cannot start with a hyphen)::

    GET /                          search (keyword, filters, sort, pages)
    GET /{ns}                      a publisher's datasets and their health
    GET /{ns}/{name}               a dataset
    GET /{ns}/{name}/history.svg   the dataset's history chart (pygal)
    GET /{ns}/{name}/cite          citations of one kept version (APA, BibTeX, CITATION.cff)
    GET /-/publish                 "publish your data": od init → od run → od deploy
    GET /-/about/trust             what the trust levels and statuses mean (core's terms)
    GET /-/static/...              stylesheet and scripts (no CDN)
    GET /-/healthz                 liveness

Every page is built from the registry's API alone (:mod:`opendata_portal.registry`). A moved
dataset's pages answer 301 to the same page of the id it moved to (the registry's 308
``dataset_moved``); a withdrawn one's answer 410 with its tombstone: reason, date, citation.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx
from litestar import Litestar, Request, Response, get
from litestar.datastructures import MutableScopeHeaders, State
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import Message, Scope

from opendata_core.api import FACETS, SearchResults
from opendata_core.errors import (
    DatasetMoved,
    DatasetNotFound,
    DatasetWithdrawn,
    InvalidDatasetId,
    OpenDataError,
    RateLimited,
    VersionNotFound,
)
from opendata_core.ids import DatasetId
from opendata_portal import context as ctx
from opendata_portal.blocks import BlockCache
from opendata_portal.chart import history_svg
from opendata_portal.cite import cite_page, version_citation, version_citations
from opendata_portal.columns import HEIGHT as COLUMN_CHART_HEIGHT
from opendata_portal.columns import WIDTH as COLUMN_CHART_WIDTH
from opendata_portal.discover import dataset_jsonld
from opendata_portal.downloads import download_page
from opendata_portal.machine import MACHINE_ROUTES
from opendata_portal.pages import STATIC_DIR, Pages
from opendata_portal.registry import (
    REGISTRY_WAIT,
    RegistryClient,
    RegistryUnavailable,
    dataset_path,
)
from opendata_portal.render import script_json
from opendata_portal.search import SearchInputError, SearchQuery
from opendata_portal.settings import Settings

__all__ = ["SECURITY_HEADERS", "create_app"]

# No image from another host: a README's images are links (render.py), so a producer never sees
# who reads their page.
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# pygal writes its stylesheet inside the SVG; the chart is shown through <img>, which never runs
# scripts, so this one resource may use inline styles and nothing else.
_SVG_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
_FACET_LABELS: Final = {
    "topic": "Topic",
    "namespace": "Publisher",
    "license": "Licence",
    "frequency": "Frequency",
    "geo": "Geography",
}
_UPDATED_PRESETS: Final = (("1 day", 1), ("7 days", 7), ("30 days", 30), ("1 year", 365))


async def _start_timer(request: Request[Any, Any, State]) -> None:
    request.scope["state"]["portal_started"] = time.perf_counter()
    REGISTRY_WAIT.set([])


async def _security_headers(message: Message, scope: Scope) -> None:
    """Add the security headers to every HTTP response (pages, static files, errors).

    Pages also get ``Server-Timing``: ``app`` is the whole server-side time, ``registry`` the
    longest single registry call (a page makes its calls concurrently).
    """
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        for name, value in SECURITY_HEADERS.items():
            if name not in headers:
                headers[name] = value
        started = scope.get("state", {}).get("portal_started")
        if started is not None:
            waits = REGISTRY_WAIT.get() or []
            headers["Server-Timing"] = (
                f"app;dur={(time.perf_counter() - started) * 1000:.2f}, "
                f'registry;dur={max(waits, default=0.0) * 1000:.2f};desc="{len(waits)} calls"'
            )


@get("/", name="search")
async def search_page(request: Request[Any, Any, State], state: State) -> Response[str]:
    """The home page: search with filters, counts per value, chips, sort and pages."""
    query, input_error = SearchQuery.parse_lenient(dict(request.query_params.items()))
    registry, settings = ctx.registry(state), ctx.settings(state)
    params = query.registry_params(settings.per_page)
    results = await registry.search(params)
    suggestions: SearchResults | None = None
    if results.total == 0:
        # The empty state offers a few datasets to look at instead.
        suggestions = await registry.search({"sort": "updated", "per_page": "5"})
    facets = []
    for name in FACETS:
        selected = getattr(query, name)
        values = [
            (fc.value, fc.count, query.url(**{name: None if fc.value == selected else fc.value}))
            for fc in results.facets.get(name, [])
        ]
        if selected and selected not in {v for v, _, _ in values}:
            values.insert(0, (selected, 0, query.without(name)))
        facets.append((name, _FACET_LABELS[name], selected, values))
    last_page = max(1, -(-results.total // max(1, results.per_page)))
    now = datetime.now(UTC)
    trust_counts = {fc.value: fc.count for fc in results.facets.get("trust", [])}
    return ctx.pages(state).render(
        "search.html",
        trust_facet=query.trust_facet(trust_counts),
        status_code=400 if input_error else 200,
        input_error=input_error,
        query=query,
        results=results,
        suggestions=suggestions,
        facets=facets,
        updated_presets=[
            (label, (now - timedelta(days=days)).strftime("%Y-%m-%d"))
            for label, days in _UPDATED_PRESETS
        ],
        page_url=lambda n: query.url(page=n),
        now=now,
        last_page=last_page,
        json_url=registry.public("/v1/datasets", params),
    )


@get("/-/publish", name="publish")
async def publish_page(state: State) -> Response[str]:
    """How to publish a dataset: ``od init`` → ``od run`` → ``od deploy``."""
    return ctx.pages(state).render(
        "publish.html", registry_url=ctx.settings(state).public_registry_url
    )


@get("/-/about/trust", name="about_trust")
async def about_trust_page(state: State) -> Response[str]:
    """What each trust level, status and withdrawal reason means (core's terms, spec §10)."""
    return ctx.pages(state).render("about_trust.html")


@get("/-/healthz", name="healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the portal process answers (it does not call the registry)."""
    return {"status": "ok"}


@get("/{ns:str}", name="publisher")
async def publisher_page(
    ns: FromPath[str], request: Request[Any, Any, State], state: State
) -> Response[Any]:
    """A publisher's datasets with their health at a glance."""
    canonical = DatasetId.parse(f"{ns}/x").namespace
    if canonical != ns:
        return Redirect(f"/{canonical}", status_code=301)
    params_in = {"sort": "name", **dict(request.query_params), "namespace": ns}
    query = SearchQuery.parse(params_in)
    registry = ctx.registry(state)
    params = query.registry_params(50)  # the anonymous tier's page size
    results = await registry.search(params)
    if results.total == 0:
        everyone = await registry.search({"per_page": "1"})
        known = [fc.value for fc in everyone.facets.get("namespace", [])]
        raise PublisherNotFound(ns, difflib.get_close_matches(ns, known, n=5, cutoff=0.6))
    last_page = max(1, -(-results.total // max(1, results.per_page)))
    return ctx.pages(state).render(
        "publisher.html",
        ns=ns,
        results=results,
        query=query,
        last_page=last_page,
        page_url=lambda n: f"/{ns}?page={n}",
        json_url=registry.public("/v1/datasets", params),
    )


@get("/{ns:str}/{name:str}", name="dataset")
async def dataset_page(
    ns: FromPath[str], name: FromPath[str], request: Request[Any, Any, State], state: State
) -> Response[Any]:
    """A dataset: README, preview, schema, history, health, and how to use it."""
    dataset_id = ctx.dataset_id(ns, name)
    if str(dataset_id) != f"{ns}/{name}":
        return Redirect(f"/{dataset_id}", status_code=301)
    registry, settings = ctx.registry(state), ctx.settings(state)
    detail, history, runs = await asyncio.gather(
        registry.dataset(str(dataset_id)),
        registry.history(str(dataset_id)),
        registry.runs(str(dataset_id), per_page=20),
        return_exceptions=True,
    )
    if isinstance(detail, DatasetNotFound) and not detail.close_matches:
        detail.close_matches = await _similar_ids(registry, dataset_id)
    if isinstance(detail, BaseException):
        raise detail
    api = dataset_path(str(dataset_id))
    base = ctx.base_url(request)
    cite = version_citation(detail.metadata.dataset, detail.manifest, registry)
    blocks = ctx.blocks(state).get(detail)
    return ctx.pages(state).render(
        "dataset.html",
        table=blocks.table,
        column_stats=blocks.column_stats,
        stats_stale=blocks.stats_stale,
        chart_width=COLUMN_CHART_WIDTH,
        chart_height=COLUMN_CHART_HEIGHT,
        jsonld=script_json(dataset_jsonld(detail, base, citation=cite)),
        citations=version_citations(detail.metadata.dataset, detail.manifest, registry),
        d=detail,
        meta=detail.metadata.dataset,
        history=None if isinstance(history, BaseException) else history,
        history_error=str(history) if isinstance(history, BaseException) else None,
        runs=None if isinstance(runs, BaseException) else runs,
        null_counts=detail.metadata.stats.null_counts,
        readme=blocks.readme,
        registry_url=settings.public_registry_url,
        json_url=registry.public(api),
        runs_url=registry.public(api + "/runs"),
        history_url=registry.public(api + "/history"),
        life=getattr(detail, "lifecycle", None),  # None from a registry without lifecycles
    )


async def _similar_ids(registry: RegistryClient, dataset_id: DatasetId) -> list[str]:
    """Ids a search for the missing id's words finds (when the registry knew no close match)."""
    words = re.sub(r"[-_./]+", " ", str(dataset_id)).strip()
    try:
        found = await registry.search({"q": words, "per_page": "5"})
    except OpenDataError:
        return []
    return [hit.dataset.id for hit in found.datasets]


class PublisherNotFound(OpenDataError, LookupError):
    """No dataset is published under this namespace."""

    def __init__(self, namespace: str, close_matches: list[str]) -> None:
        super().__init__(f"no datasets are published under {namespace!r}")
        self.namespace = namespace
        self.close_matches = close_matches


@get("/{ns:str}/{name:str}/history.svg", name="history_chart")
async def history_chart(
    ns: FromPath[str], name: FromPath[str], request: Request[Any, Any, State], state: State
) -> Response[bytes]:
    """The history chart as an SVG image (drawn by pygal); ``?size=small`` for phones."""
    dataset_id = ctx.dataset_id(ns, name)
    history = await ctx.registry(state).history(str(dataset_id))
    small = request.query_params.get("size") == "small"
    svg = await asyncio.to_thread(
        history_svg, history.publishes, title=f"{dataset_id}: rows per publish", small=small
    )
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": _SVG_CSP, "Cache-Control": "public, max-age=60"},
    )


def _handle(request: Request[Any, Any, State], exc: Exception) -> Response[str]:
    """Every error as a page that says what happened and what to do."""
    pages = ctx.pages(request.app.state)
    status, title, hint = 500, "Something went wrong", None
    message = "the portal could not build this page"
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    path = request.url.path.strip("/")
    if isinstance(exc, DatasetMoved) and exc.moved_to:
        return _moved(request, exc)
    if isinstance(exc, DatasetWithdrawn):
        from opendata_core.lifecycle import REASON_TERMS

        return pages.render(
            "tombstone.html",
            status_code=410,
            dataset_id=exc.dataset_id,
            reason=exc.reason,
            reason_term=REASON_TERMS.get(exc.reason),  # type: ignore[call-overload]
            withdrawn_at=exc.withdrawn_at,
            note=exc.note,
            citation=exc.citation,
        )
    if isinstance(exc, DatasetNotFound):
        status, title, message = 404, "Dataset not found", f"No dataset {exc.dataset_id!r} here."
        extra["close_matches"] = [f"/{m}" for m in exc.close_matches]
        extra["search_for"] = re.sub(r"[-_./]+", " ", exc.dataset_id)
    elif isinstance(exc, PublisherNotFound):
        status, title, message = 404, "Publisher not found", exc.message
        extra["close_matches"] = [f"/{m}" for m in exc.close_matches]
        extra["search_for"] = exc.namespace
    elif isinstance(exc, InvalidDatasetId):
        status, title, message = 404, "Not a dataset address", exc.message
        extra["search_for"] = re.sub(r"[-_./]+", " ", path)
    elif isinstance(exc, VersionNotFound):
        status, title, message, hint = 404, "Version not found", exc.message, exc.hint
    elif isinstance(exc, SearchInputError):
        status, title, message, hint = 400, "That search cannot be run", exc.message, exc.hint
    elif isinstance(exc, RateLimited):
        status, title, message = 503, "The registry is busy", exc.message
        if exc.retry_after:
            headers["Retry-After"] = str(int(exc.retry_after))
    elif isinstance(exc, RegistryUnavailable):
        status, title, message, hint = 503, "The registry is not answering", exc.message, exc.hint
    elif isinstance(exc, OpenDataError):
        status, title, message, hint = 502, "The registry sent an error", exc.message, exc.hint
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        title = "Page not found" if status == 404 else "Request not accepted"
        message = exc.detail
        if status == 404:
            extra["search_for"] = re.sub(r"[-_./]+", " ", path)
    response = pages.render(
        "error.html", status_code=status, title=title, message=message, hint=hint, **extra
    )
    response.headers.update(headers)
    return response


def _moved(request: Request[Any, Any, State], exc: DatasetMoved) -> Response[Any]:
    """301 to the same page of the id the dataset moved to (its query string kept)."""
    old, new = f"/{exc.dataset_id}", f"/{DatasetId.parse(exc.moved_to)}"
    path = request.url.path
    target = new + path[len(old) :] if path == old or path.startswith(old + "/") else new
    if request.url.query:
        target += f"?{request.url.query}"
    return Redirect(target, status_code=301)


def create_app(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> Litestar:
    """Build the portal.

    Args:
        settings: from :meth:`Settings.from_env` when not given.
        transport: an httpx transport for the registry client (tests inject faults with it).
    """
    settings = settings or Settings.from_env()
    registry = RegistryClient(settings, transport=transport)

    async def close_registry() -> None:
        await registry.aclose()

    return Litestar(
        route_handlers=[
            search_page,
            publish_page,
            about_trust_page,
            healthz,
            publisher_page,
            dataset_page,
            history_chart,
            download_page,
            cite_page,
            *MACHINE_ROUTES,
            create_static_files_router(
                path="/-/static", directories=[STATIC_DIR], name="static", include_in_schema=False
            ),
        ],
        state=State(
            {"settings": settings, "registry": registry, "pages": Pages(), "blocks": BlockCache()}
        ),
        before_request=_start_timer,
        before_send=[_security_headers],
        exception_handlers={Exception: _handle},
        on_shutdown=[close_registry],
        openapi_config=None,
        debug=False,
    )
