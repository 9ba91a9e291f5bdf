"""Citations on the portal: the current version on the dataset page, any kept version on its own.

``GET /{ns}/{name}/cite?version=<publish_id>`` shows APA, BibTeX and CITATION.cff text of one
version (default the current one) and lists the kept versions to cite instead. The text is
core's (:func:`opendata_core.versions.citation`), naming the registry's public URL of that
version: exactly what ``od info ID --cite --version … --format …`` prints through the registry.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from opendata_core.api import PublishSummary
from opendata_core.errors import OpenDataError, VersionNotFound
from opendata_core.metadata import DatasetMetadata
from opendata_core.versions import CitationStyle, Version, citation, select_version
from opendata_portal import context as ctx
from opendata_portal.registry import RegistryClient, dataset_path

__all__ = ["PAGE_STYLES", "cite_page", "version_citation", "version_citations"]

PAGE_STYLES: Final[tuple[tuple[CitationStyle, str], ...]] = (
    ("apa", "APA"),
    ("bibtex", "BibTeX"),
    ("cff", "CITATION.cff"),
)
"""The styles a page shows, with their labels (``text`` is the JSON-LD's and Croissant's)."""


def version_citation(
    meta: DatasetMetadata,
    version: PublishSummary,
    registry: RegistryClient,
    style: CitationStyle = "text",
) -> str:
    """A citation of ``version``, naming the registry's public URL of it (as ``od`` does)."""
    url = registry.public(f"{dataset_path(meta.id)}/versions/{version.publish_id}")
    return citation(meta, version, url, style=style)


def version_citations(
    meta: DatasetMetadata, version: PublishSummary, registry: RegistryClient
) -> list[tuple[str, str, str]]:
    """``(style, label, text)`` for every style a page shows."""
    return [
        (style, label, version_citation(meta, version, registry, style))
        for style, label in PAGE_STYLES
    ]


@get("/{ns:str}/{name:str}/cite", name="cite")
async def cite_page(
    ns: FromPath[str], name: FromPath[str], request: Request[Any, Any, State]
) -> Response[str]:
    """Citations of one kept version (``?version=``, default the current one)."""
    dataset_id = str(ctx.dataset_id(ns, name))
    registry = ctx.registry(request.app.state)
    wanted = request.query_params.get("version", "").strip()[:80]
    detail, kept = await asyncio.gather(registry.dataset(dataset_id), registry.versions(dataset_id))
    versions = kept.versions  # newest first
    version = detail.manifest
    if wanted:
        # Core's rule, as od applies it: a full publish id or a unique prefix of 8 or more.
        oldest_first = [
            Version(v.publish_id, v.published_at, v.parent_publish_id) for v in versions
        ]
        try:
            chosen = select_version(dataset_id, oldest_first[::-1], version=wanted)
        except VersionNotFound:
            raise
        except OpenDataError as exc:  # too short: a page that is not there either (404)
            raise VersionNotFound(dataset_id, exc.message, version=wanted) from None
        version = next(v for v in versions if v.publish_id == chosen.publish_id)
    return ctx.pages(request.app.state).render(
        "cite.html",
        d=detail,
        version=version,
        current=version.publish_id == detail.manifest.publish_id,
        citations=version_citations(detail.metadata.dataset, version, registry),
        versions=versions,
        version_url=registry.public(f"{dataset_path(dataset_id)}/versions/{version.publish_id}"),
    )
