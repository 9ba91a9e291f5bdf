"""Headers every registry answer gets, added in one place: the app's ``before_send`` hook.

Also :func:`base_url`, where a request says the registry is reached (its ``Host``).

``before_send`` sees every message the app sends — handler answers, error answers (routing 404s
and 405s too), the direct download path, signed file streams — so nothing can miss these.

- ``X-Content-Type-Options: nosniff``: a browser must not guess a type other than the one sent
  (a shard or an error body is never a script or a page).
- ``Allow`` on an ``OPTIONS`` answer lists every method of the path. Litestar 2 builds the
  ``OPTIONS`` handler of a path before all its methods are registered, so its ``Allow`` missed
  some (``OPTIONS /files/{key}`` without ``PUT``; litestar-org/litestar#4169); the route table
  is complete, and the hook answers from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from litestar.connection import ASGIConnection
from litestar.routes import HTTPRoute

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import Message, Scope

__all__ = ["add_answer_headers", "base_url"]

_NOSNIFF: Final = (b"x-content-type-options", b"nosniff")


def _allowed(app: Litestar, path_template: str) -> bytes | None:
    """``"GET, OPTIONS, PUT"`` for a route's path template (from the app's route table)."""
    table: dict[str, bytes] | None = app.state.get("_allow_by_path")
    if table is None:
        table = {
            route.path_format: ", ".join(sorted(route.methods)).encode()
            for route in app.routes
            if isinstance(route, HTTPRoute)
        }
        app.state["_allow_by_path"] = table
    return table.get(path_template)


async def add_answer_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: ``nosniff`` on every answer, a complete ``Allow`` on ``OPTIONS``."""
    if message["type"] != "http.response.start":
        return
    headers = [
        (bytes(k), bytes(v))
        for k, v in message.get("headers", [])
        if bytes(k).lower() != b"x-content-type-options"
    ]
    headers.append(_NOSNIFF)
    if scope.get("method") == "OPTIONS" and message["status"] < 300:
        allow = _allowed(scope["litestar_app"], scope.get("path_template", ""))
        if allow is not None:
            headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
            headers.append((b"allow", allow))
    message["headers"] = headers


def base_url(scope: Scope) -> str:
    """The URL this registry is reached at for a request (scheme, host, root path; no slash)."""
    return str(ASGIConnection(scope).base_url).rstrip("/")
