"""``/v1/index.json``: the spec §5.5 index document, with an ETag (304 when unchanged)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import HeaderParameter

from opendata_core.documents import encode_document
from opendata_registry.domain.catalogue.services import CatalogueService
from opendata_registry.infra.errors import error_responses

__all__ = ["IndexController"]


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
