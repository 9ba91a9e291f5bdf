"""One exception handler: every error answer is a :class:`~opendata_core.problems.ProblemDetails`.

OpenData errors take their code and status from core's table (``problem_from_error``); Litestar's
own errors (no route 404, 405, bad parameters 400, ...) get the generic codes; anything else is an
``internal`` 500 whose message never includes the exception text (it may hold secrets), while the
traceback goes to the log. Every body carries the request's id
(:mod:`opendata_registry.infra.requestlog`): the answer's ``X-Request-ID`` and the access log's.

A dependency that does not answer is a 503 with ``Retry-After``, never a 500: the store
(``store_unavailable``), and the database, Redis or another service (``unavailable``). A 503's
body carries its code and a generic message only; the detail (the store's endpoint, bucket and
prefix, the exception) goes to the log.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from opendata_core.errors import (
    DatasetMoved,
    OpenDataError,
    RateLimited,
    ServiceUnavailable,
    StoreUnavailable,
)
from opendata_core.problems import ProblemDetails, problem_from_error
from opendata_registry.infra.requestlog import request_id

__all__ = ["PROBLEM_MEDIA_TYPE", "handle_exception", "moved_location", "problem_response"]

log = logging.getLogger("opendata_registry")

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"

_GENERIC_BY_STATUS: Final = {
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    409: "conflict",
    429: "rate_limited",
}

UNAVAILABLE_RETRY_AFTER: Final = 2
"""``Retry-After`` (seconds) of a 503 that does not know better."""


def problem_response(
    problem: ProblemDetails, headers: dict[str, str] | None = None
) -> Response[Any]:
    """The HTTP response carrying ``problem``."""
    return Response(
        content=problem,
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _validation_message(exc: ValidationException) -> tuple[str, str | None]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for item in extra:
        if isinstance(item, dict):
            key = item.get("key")
            message = item.get("message", "is invalid")
            source = getattr(item.get("source"), "value", item.get("source"))
            where = f"{source} parameter {key!r}" if key and source else (repr(key) if key else "")
            parts.append(f"{where}: {message}".strip(": "))
    detail = "; ".join(parts) if parts else str(exc.detail)
    return f"invalid request: {detail}", "see /schema/openapi.json for the accepted parameters"


def _http_problem(exc: HTTPException, request: Request[Any, Any, Any]) -> ProblemDetails:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        message, hint = _validation_message(exc)
        return ProblemDetails(code="bad_request", message=message, status=400, hint=hint)
    if status == 404:
        return ProblemDetails(
            code="not_found",
            message=f"no such endpoint: {request.method} {request.url.path}",
            status=404,
            hint="the API is described at /schema/openapi.json",
        )
    if status == 405:
        return ProblemDetails(
            code="bad_request",
            message=f"method {request.method} is not allowed on {request.url.path}",
            status=405,
            hint="the API is described at /schema/openapi.json",
        )
    if status >= 500:
        return ProblemDetails(code="internal", message="internal server error", status=status)
    code = _GENERIC_BY_STATUS.get(status, "bad_request")
    return ProblemDetails(code=code, message=str(exc.detail), status=status)


def _connection_lost(exc: Exception) -> ServiceUnavailable | None:
    """The 503 for a database or Redis that does not answer (the drivers' own errors)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return ServiceUnavailable("database", "the registry's database is unavailable")
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return ServiceUnavailable("redis", "a service the registry needs is unavailable")
    if isinstance(exc, ConnectionError | TimeoutError) and not isinstance(exc, OpenDataError):
        # A driver's raw socket error (asyncpg's refused connect is not wrapped by SQLAlchemy):
        # named by the library it came out of.
        if _raised_in(exc, ("sqlalchemy.", "asyncpg.", "aiosqlite.")):
            return ServiceUnavailable("database", "the registry's database is unavailable")
        return ServiceUnavailable("the registry", "a service the registry needs is unavailable")
    return None


def _raised_in(exc: BaseException, modules: tuple[str, ...]) -> bool:
    """Whether ``exc`` passed through code of one of ``modules`` (prefixes of module names)."""
    import traceback

    return any(
        str(frame.f_globals.get("__name__", "")).startswith(modules)
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def _unavailable(
    exc: StoreUnavailable, request: Request[Any, Any, Any]
) -> tuple[ProblemDetails, dict[str, str]]:
    """A 503's body (code and a generic message) and ``Retry-After``; the detail is logged.

    A :class:`ServiceUnavailable` names a service, never an address, and its outage is logged
    where it is noticed, once (the limiter, readiness), not once per refused request.
    """
    if isinstance(exc, ServiceUnavailable):
        problem = problem_from_error(exc)
        wait = exc.retry_after
    else:
        log.warning(  # the request id ties the client's answer to this detail
            "503 on %s %s (request id %s): %s",
            request.method,
            request.url.path,
            request_id(request.scope),
            exc,
        )
        problem = ProblemDetails(
            code="store_unavailable",
            message="the registry's store is unavailable; try again shortly",
            status=503,
            hint="try again in a few seconds",
        )
        wait = None
    retry_after = max(1, round(wait)) if wait is not None else UNAVAILABLE_RETRY_AFTER
    return problem, {"Retry-After": str(retry_after)}


def moved_location(request: Request[Any, Any, Any], exc: DatasetMoved) -> str:
    """The same call on the id the dataset moved to (a 308's ``Location``)."""
    path = request.url.path
    old = f"/v1/datasets/{exc.dataset_id}"
    if path == old or path.startswith(old + "/"):
        path = f"/v1/datasets/{exc.moved_to}" + path[len(old) :]
    query = request.url.query
    return path + (f"?{query}" if query else "")


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Turn any exception into a ProblemDetails response."""
    headers: dict[str, str] = {}
    lost = None if isinstance(exc, HTTPException) else _connection_lost(exc)
    if lost is not None:
        log.warning("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
        exc = lost
    if isinstance(exc, HTTPException):
        problem = _http_problem(exc, request)
        headers.update(exc.headers or {})
    elif isinstance(exc, StoreUnavailable):
        problem, retry = _unavailable(exc, request)
        headers.update(retry)
    else:
        problem = problem_from_error(exc)
        if problem.code == "internal":
            log.exception(
                "internal error on %s %s (request id %s)",
                request.method,
                request.url.path,
                request_id(request.scope),
            )
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        if isinstance(exc, DatasetMoved):
            headers["Location"] = moved_location(request, exc)
    limit_headers = request.scope.get("state", {}).get("ratelimit_headers")
    if limit_headers:
        headers.update(limit_headers)
    problem.request_id = request_id(request.scope)
    return problem_response(problem, headers or None)


_DESCRIPTIONS: Final = {
    308: "The dataset moved (dataset_moved): details.moved_to is its id now, Location the same "
    "call on it; the old id stays reserved",
    400: "Bad request: a parameter or the body is invalid (the message names it)",
    401: "The API key is malformed, unknown or revoked",
    403: "Not allowed, or a signed URL that is invalid or expired",
    404: "No such dataset (with close matches) or object",
    405: "Method not allowed",
    409: "Another publish committed first (details.publish_id is the live one)",
    410: "The dataset was withdrawn (dataset_withdrawn): details has the reason, the date, the "
    "operator's note and the citation of its last version",
    416: "The requested byte range is outside the object",
    422: "Valid syntax, but not for this dataset (column, range, version, document)",
    429: "A rate limit or the daily download budget was reached (see Retry-After)",
    503: "A dependency (store, database, Redis) does not answer; retry after Retry-After",
}


def error_responses(*statuses: int) -> dict[int, Any]:
    """OpenAPI entries documenting ProblemDetails answers for ``statuses`` (and 400)."""
    from litestar.openapi.datastructures import ResponseSpec

    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            media_type=PROBLEM_MEDIA_TYPE,
            description=_DESCRIPTIONS[status],
            generate_examples=False,
        )
        for status in sorted({400, *statuses})
    }
