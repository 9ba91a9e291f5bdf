"""``GET /{ns}/{name}/download``: the Parquet files of a dataset or of a time range, as links.

The registry signs exactly the shards that overlap ``[start, end]``; the page links to those
signed URLs (valid for the registry's expiry, said on the page), so the bytes go straight from
storage to the visitor. The portal never proxies them.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from opendata_core.errors import OpenDataError
from opendata_portal import context as ctx

__all__ = ["download_page"]


@get("/{ns:str}/{name:str}/download", name="download")
async def download_page(
    ns: FromPath[str], name: FromPath[str], request: Request[Any, Any, State]
) -> Response[str]:
    """The shards to download, for the whole dataset or the time range asked for."""
    dataset_id = str(ctx.dataset_id(ns, name))
    start = request.query_params.get("start", "").strip()[:40] or None
    end = request.query_params.get("end", "").strip()[:40] or None
    registry = ctx.registry(request.app.state)
    detail = await registry.dataset(dataset_id)
    problem: str | None = None
    download = None
    try:
        download = await registry.download(dataset_id, start=start, end=end)
    except OpenDataError as exc:
        if start is None and end is None:
            raise
        problem = exc.message  # a bad or uncovered range: the form stays, with the reason
    return ctx.pages(request.app.state).render(
        "download.html",
        status_code=400 if problem else 200,
        d=detail,
        download=download,
        start=start or "",
        end=end or "",
        problem=problem,
    )
