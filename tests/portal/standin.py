"""A stand-in registry serving tests.portal.samples over HTTP: for developing the browser tests
before the real registry is merged. Not used by the committed end-to-end tests."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, get

from tests.portal import samples


@get("/{path:path}")
async def anything(request: Request[Any, Any, Any], path: str) -> Response[bytes]:
    import msgspec

    routes = samples.default_routes()
    body = routes.get(path)
    if body is None:
        return Response(
            b'{"code":"dataset_not_found","message":"no","status":404}', status_code=404
        )
    return Response(msgspec.json.encode(body), media_type="application/json")


def app() -> Litestar:
    return Litestar([anything])
