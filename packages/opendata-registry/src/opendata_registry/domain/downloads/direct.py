"""The direct download path: ``POST …/download`` answered without Litestar's handler machinery.

``download`` is the registry's hottest call, and under granian Litestar's per-request handler
machinery (the ``Request``, the signature model that decodes the body and path parameters, the
``Response`` and its headers, the route's own middleware) cost more CPU than everything the
registry does for a download: key check, rate limit, shard plan, signing (docs/benchmarks.md;
decision 0006). This middleware answers a download whose body decodes, after Litestar has routed
the request and after :class:`~opendata_registry.domain.keys.middleware.AccessMiddleware` has
identified and counted the caller, exactly as for every other request. It calls
:func:`answer_download`, which the route handler returns too, and encodes the same
:class:`~opendata_core.api.DownloadResponse`.

Before it answers, it runs the route's guards: exactly the list Litestar runs before the handler
(:func:`~opendata_registry.domain.downloads.guards.run_guards`), so a guard added to the route
cannot be skipped; a refusal is answered as the handler's would be.

What it leaves to Litestar, so that those answers stay Litestar's own:

- a route not marked with :data:`DIRECT` (everything but ``download``);
- a body that does not decode as a ``DownloadRequest`` (malformed, wrong types, too large): the
  messages it has read are replayed to the route handler, whose validation error names the
  field;
- compression: the answer goes through Litestar's ``CompressionMiddleware`` with the app's own
  ``compression_config``;
- error answers of the service (unknown dataset, column, range, budget): rendered by the app's
  exception handler (:func:`~opendata_registry.infra.errors.handle_exception`) and sent through the
  access middleware's ``send``, which adds the rate-limit headers and counts the failure.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import SerializationException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware.compression import CompressionMiddleware

from opendata_core.api import DownloadRequest, DownloadResponse
from opendata_registry.domain.downloads.guards import run_guards
from opendata_registry.domain.downloads.services import DownloadService
from opendata_registry.infra.bodies import decode_json_body
from opendata_registry.infra.errors import handle_exception
from opendata_registry.infra.headers import base_url
from opendata_registry.infra.identity import caller_of

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

__all__ = ["DIRECT", "DirectDownload", "answer_download"]

DIRECT: Final = "direct_download"
"""The ``opt`` key that marks the route handler this middleware answers for."""
_REQUEST: Final = "direct_download_request"
"""Where the decoded body waits in the request's state for :func:`_answer`."""
_ENCODER: Final = msgspec.json.Encoder()
_JSON: Final = (b"content-type", b"application/json")


class DirectDownload:
    """ASGI middleware: answers a marked route's valid requests itself (see the module doc)."""

    def __init__(self, app: ASGIApp, downloads: DownloadService) -> None:
        self.app = app
        self.downloads = downloads
        self._compressed: ASGIApp | None = None
        """:meth:`_answer` inside Litestar's compression middleware (built on first use)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a marked route's request whose body decodes; hand anything else on."""
        handler = scope.get("route_handler")
        if not isinstance(handler, HTTPRouteHandler) or not handler.opt.get(DIRECT):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive, handler.resolve_request_max_body_size())
        data = _decode(body)
        if data is None:  # the handler's own validation names the field (after its guards)
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            await run_guards(handler, ASGIConnection(scope, receive, send))
        except Exception as exc:
            await _refuse(scope, receive, send, exc)
            return
        scope["state"][_REQUEST] = data
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._compressed_answer(scope)(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await _refuse(scope, receive, send, exc)

    def _compressed_answer(self, scope: Scope) -> ASGIApp:
        if self._compressed is None:
            config = scope["litestar_app"].compression_config
            answer = self._answer
            self._compressed = answer if config is None else CompressionMiddleware(answer, config)
        return self._compressed

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The download itself, encoded as the route handler's return value would be."""
        params = scope["path_params"]
        dataset_id = f"{params['namespace']}/{params['name']}"
        data: DownloadRequest = scope["state"].pop(_REQUEST)
        answer = await answer_download(self.downloads, scope, dataset_id, data)
        payload = _ENCODER.encode(answer)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [_JSON, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload, "more_body": False})


async def answer_download(
    downloads: DownloadService, scope: Scope, dataset_id: str, data: DownloadRequest
) -> DownloadResponse:
    """The answer to a download request (the route handler's and the direct path's)."""
    generation = await downloads.registry.hot.for_request(scope)
    caller = caller_of(scope)
    return await downloads.download(dataset_id, data, caller, base_url(scope), generation)


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """The error answer the app's exception handler gives for ``exc``."""
    request: Request[Any, Any, Any] = Request(scope, receive)
    response = handle_exception(request, exc)
    await response.to_asgi_response(None, request)(scope, receive, send)


async def _read_body(
    receive: Receive, limit: int | None
) -> tuple[list[ReceiveMessage], bytes | None]:
    """The messages read, and the whole body or ``None`` if it did not complete.

    ``None`` after a disconnect or past ``limit`` bytes: the handler then answers as it would.
    """
    messages: list[ReceiveMessage] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return messages, None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _decode(body: bytes | None) -> DownloadRequest | None:
    """The body as the handler's Struct, or ``None`` if it is incomplete or does not decode.

    The same bounded decode as the handler's
    (:func:`~opendata_registry.infra.bodies.decode_json_body`), so a body too deep for one is too
    deep for the other.
    """
    if body is None:
        return None
    try:
        return decode_json_body(body, DownloadRequest)
    except SerializationException:
        return None


def _replay(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` again, then whatever the client sends next."""
    pending = deque(messages)

    async def replay() -> Any:
        return pending.popleft() if pending else await receive()

    return replay
