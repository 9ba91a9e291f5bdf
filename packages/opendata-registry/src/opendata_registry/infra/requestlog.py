"""Request ids and the access log: every answer carries ``X-Request-ID``, every request one line.

:class:`RequestLog` wraps the whole application (outside routing, so a 404 for an unknown path,
an error answer and the direct download path of
:mod:`opendata_registry.domain.downloads.direct` are all covered).
The id is the request's own ``X-Request-ID`` when that is a safe token (1-128 of ``A-Z a-z 0-9 .
_ -``, :func:`~opendata_core.problems.is_request_id`), else 32 hex digits: a random prefix drawn
once per process (again in a forked child) and a counter, unique across workers and replicas
without a random draw per request. Every error body carries it too
(:func:`~opendata_registry.infra.errors.handle_exception`), and the client shows it in its messages.

The access log is the ``opendata_registry.access`` logger: one JSON object per request, e.g.::

    {"time":"2026-12-07T03:41:07.000412Z","method":"POST",
     "route":"/v1/datasets/{namespace}/{name}/download","status":200,"duration_ms":1.84,
     "key_prefix":"od_live_4Fh2Qa","subject":"key:12","request_id":"5b0c…"}

``route`` is the route *template* (``null`` when no route matched), never the path the client
sent, and nothing from the query string, the headers or the body is logged: a signed URL's
signature, an API key, a producer or OIDC token cannot reach the log. ``key_prefix`` is the
public prefix that ``opendata-registry keys list`` shows; ``subject`` is what limits count
against (``key:<id>``, ``producer:<id>``, ``repo:<id>``, ``ip:<address>``).
``OPENDATA_REGISTRY_ACCESS_LOG=0`` turns the lines off (the ids stay).
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec
from litestar.enums import ScopeType

from opendata_core.problems import is_request_id
from opendata_registry.infra.identity import Caller

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ACCESS_LOGGER", "RequestLog", "request_id"]

ACCESS_LOGGER: Final = "opendata_registry.access"
"""The logger of the access lines (INFO, JSON message)."""
_HEADER: Final = b"x-request-id"
_STATE_KEY: Final = "request_id"
_ENCODER: Final = msgspec.json.Encoder()
log = logging.getLogger(ACCESS_LOGGER)


class _Ids:
    """Request ids: a random 64-bit prefix per process and a 64-bit counter, as 32 hex digits."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.count = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.count):016x}"


_IDS: Final = _Ids()
os.register_at_fork(after_in_child=_IDS.reset)  # forked workers must not repeat the parent's ids


class _Line(msgspec.Struct):
    time: datetime
    method: str
    route: str | None
    status: int | None
    duration_ms: float
    key_prefix: str | None
    subject: str | None
    request_id: str


def request_id(scope: Scope) -> str:
    """The id of the request in ``scope`` (taken from its header or generated, once)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    found = state.get(_STATE_KEY)
    if found is None:
        found = state[_STATE_KEY] = _incoming(scope) or _IDS.next()
    return str(found)


def _incoming(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == _HEADER:
            text = bytes(value).decode("latin-1")
            return text if is_request_id(text) else None
    return None


class RequestLog:
    """ASGI middleware: adds ``X-Request-ID`` to every answer and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer through the wrapped app, with the header added and the line logged after."""
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        header = (_HEADER, rid.encode())
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info(_line(scope, status, started, rid))


def _line(scope: Scope, status: int | None, started: float, rid: str) -> str:
    caller = scope.get("state", {}).get("caller")
    known = caller if isinstance(caller, Caller) else None
    line = _Line(
        time=datetime.now(UTC),
        method=str(scope.get("method", "")),
        route=scope.get("path_template") or None,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        key_prefix=known.key_prefix if known else None,
        subject=known.subject if known else None,
        request_id=rid,
    )
    return _ENCODER.encode(line).decode()
