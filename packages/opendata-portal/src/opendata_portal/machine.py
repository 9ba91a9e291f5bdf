"""Routes for machines: Croissant, the DCAT catalogue, sitemaps, robots.txt, shard redirects.

::

    GET /{ns}/{name}/croissant.json            Croissant 1.1 (application/ld+json)
    GET /{ns}/{name}/-/parts/{sha256}.parquet  302 to a fresh signed URL of that shard
    GET /{ns}/{name}/-/download.parquet        302 to the one shard, or to the download page
    GET /{ns}/{name}/-/export.csv|.parquet     302 to the registry's signed one-file export
                                               (?start, ?end, ?version), or the download page
    GET /catalog.jsonld?page=N                 DCAT-AP 3 catalogue page (JSON-LD)
    GET /catalog.ttl?page=N                    the same page as Turtle
    GET /sitemap.xml[?page=N]                  sitemap index, or one sitemap of dataset pages
    GET /robots.txt

The portal never carries a data byte: shard links redirect to the registry's signed URLs.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from opendata_core.api import SearchResults
from opendata_portal import context as ctx
from opendata_portal import discover
from opendata_portal.cite import version_citation
from opendata_portal.rdf import to_jsonld, to_turtle
from opendata_portal.search import SearchInputError

__all__ = ["MACHINE_ROUTES"]

CATALOG_PAGE: Final = 100
"""Datasets per DCAT catalogue page (the registry may grant fewer: the links follow its size)."""
SITEMAP_PAGE: Final = 1000
"""Dataset pages per sitemap (the protocol allows 50,000; the registry caps a page at 1,000)."""
_CACHE: Final = {"Cache-Control": "public, max-age=300"}


def _page(request: Request[Any, Any, State]) -> int:
    raw = request.query_params.get("page", "1").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise SearchInputError("page", raw, "use a whole number from 1")
    return int(raw)


@get("/{ns:str}/{name:str}/croissant.json", name="croissant")
async def croissant_file(
    ns: FromPath[str], name: FromPath[str], request: Request[Any, Any, State]
) -> Response[bytes]:
    """The dataset's current version described in Croissant 1.1."""
    dataset_id = str(ctx.dataset_id(ns, name))
    registry, base = ctx.registry(request.app.state), ctx.base_url(request)
    detail, download = await asyncio.gather(
        registry.dataset(dataset_id), registry.download(dataset_id)
    )
    doc = discover.croissant(
        detail,
        download,
        base,
        citation=version_citation(detail.metadata.dataset, detail.manifest, registry),
    )
    return Response(
        msgspec.json.encode(doc), media_type="application/ld+json", headers=dict(_CACHE)
    )


@get("/{ns:str}/{name:str}/-/parts/{file:str}", name="shard")
async def shard_redirect(
    ns: FromPath[str], name: FromPath[str], file: FromPath[str], request: Request[Any, Any, State]
) -> Redirect:
    """One shard of the current version: a redirect to a fresh signed URL (never the bytes)."""
    dataset_id = str(ctx.dataset_id(ns, name))
    sha256 = file.removesuffix(".parquet")
    download = await ctx.registry(request.app.state).download(dataset_id)
    for shard in download.shards:
        if shard.sha256 == sha256:
            return Redirect(shard.url, status_code=302, headers={"Cache-Control": "no-store"})
    raise NotFoundException(
        f"{dataset_id} has no shard {file!r} in its current version; "
        f"its Croissant file lists the current shards: /{dataset_id}/croissant.json"
    )


@get("/{ns:str}/{name:str}/-/download.parquet", name="download_parquet")
async def download_parquet(
    ns: FromPath[str], name: FromPath[str], request: Request[Any, Any, State]
) -> Redirect:
    """The dataset as Parquet: its one shard, or the download page that lists several."""
    dataset_id = str(ctx.dataset_id(ns, name))
    download = await ctx.registry(request.app.state).download(dataset_id)
    if len(download.shards) == 1:
        return Redirect(
            download.shards[0].url, status_code=302, headers={"Cache-Control": "no-store"}
        )
    return Redirect(f"/{dataset_id}/download", status_code=302)


def _range(request: Request[Any, Any, State], name: str) -> str | None:
    return request.query_params.get(name, "").strip()[:40] or None


@get(["/{ns:str}/{name:str}/-/export.csv", "/{ns:str}/{name:str}/-/export.parquet"], name="export")
async def export_redirect(
    ns: FromPath[str], name: FromPath[str], request: Request[Any, Any, State]
) -> Redirect:
    """The rows (``?start``, ``?end``, ``?version``) as one CSV or Parquet file the registry makes.

    A redirect to the registry's signed export link; past its bound, to the download page,
    which says why and lists the Parquet files instead.
    """
    fmt = request.url.path.rsplit(".", 1)[1]
    dataset_id = str(ctx.dataset_id(ns, name))
    start, end = _range(request, "start"), _range(request, "end")
    version = _range(request, "version")
    download = await ctx.registry(request.app.state).download(
        dataset_id, start=start, end=end, version=version
    )
    link = download.exports.get(fmt)
    if link is None:
        query = urlencode({k: v for k, v in {"start": start, "end": end}.items() if v})
        return Redirect(f"/{dataset_id}/download" + (f"?{query}" if query else ""), status_code=302)
    return Redirect(link, status_code=302, headers={"Cache-Control": "no-store"})


async def _catalogue_page(request: Request[Any, Any, State], per_page: int) -> SearchResults:
    params = {"sort": "name", "page": str(_page(request)), "per_page": str(per_page)}
    return await ctx.registry(request.app.state).search(params)


def _last_page(results: SearchResults) -> int:
    return max(1, -(-results.total // max(1, results.per_page)))


async def _catalog(request: Request[Any, Any, State], ext: str) -> list[Any]:
    results = await _catalogue_page(request, CATALOG_PAGE)
    last = _last_page(results)
    if results.page > last:
        raise NotFoundException(f"the catalogue has {last} page(s); page {results.page} is past it")
    return discover.catalog_nodes(
        [hit.dataset for hit in results.datasets],
        ctx.base_url(request),
        page=results.page,
        last_page=last,
        total=results.total,
        ext=ext,
    )


@get("/catalog.jsonld", name="catalog_jsonld")
async def catalog_jsonld(request: Request[Any, Any, State]) -> Response[bytes]:
    """One page of the DCAT-AP 3 catalogue as JSON-LD (Hydra links to the other pages)."""
    nodes = await _catalog(request, "jsonld")
    body = msgspec.json.encode(to_jsonld(nodes, discover.CATALOG_PREFIXES))
    return Response(body, media_type="application/ld+json", headers=dict(_CACHE))


@get("/catalog.ttl", name="catalog_ttl")
async def catalog_ttl(request: Request[Any, Any, State]) -> Response[str]:
    """One page of the DCAT-AP 3 catalogue as Turtle."""
    nodes = await _catalog(request, "ttl")
    return Response(
        to_turtle(nodes, discover.CATALOG_PREFIXES),
        media_type="text/turtle; charset=utf-8",
        headers=dict(_CACHE),
    )


@get("/sitemap.xml", name="sitemap")
async def sitemap(request: Request[Any, Any, State]) -> Response[str]:
    """Without ``page``: the sitemap index; with it: that page's dataset URLs."""
    base = ctx.base_url(request)
    results = await _catalogue_page(request, SITEMAP_PAGE)
    if "page" not in request.query_params:
        # The children's size is the one the registry grants the portal (its tier's cap).
        body = discover.sitemap_index(base, _last_page(results))
    else:
        if results.page > _last_page(results):
            raise NotFoundException(f"there is no sitemap page {results.page}")
        body = discover.sitemap_urls(
            base, [hit.dataset for hit in results.datasets], home=results.page == 1
        )
    return Response(body, media_type="application/xml", headers=dict(_CACHE))


@get("/robots.txt", name="robots")
async def robots(request: Request[Any, Any, State]) -> Response[str]:
    """Everything may be crawled; the sitemap says where the dataset pages are."""
    return Response(
        discover.robots_txt(ctx.base_url(request)), media_type="text/plain", headers=dict(_CACHE)
    )


MACHINE_ROUTES: Final = [
    croissant_file,
    shard_redirect,
    download_parquet,
    export_redirect,
    catalog_jsonld,
    catalog_ttl,
    sitemap,
    robots,
]
