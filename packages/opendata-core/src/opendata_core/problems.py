"""The error table: every OpenData error's stable ``code``, its HTTP status, and the JSON body.

A service (the registry) answers every error with one :class:`ProblemDetails` body; a client maps
the body back to the same typed exception (the way ``huggingface_hub`` maps server error codes to
typed client errors). The table below is the only place where codes and statuses are decided.

::

    code                        status  exception                 details
    invalid_dataset_id          400     InvalidDatasetId          value, rule
    bad_request                 400     OpenDataError (ValueError-like input problems)
    metadata_invalid            422     MetadataError             findings
    format_error                422     FormatError               document, field
    unsupported_format_version  422     UnsupportedFormatVersion  document, found, supported
    unauthenticated             401     Unauthenticated
    permission_denied           403     PermissionDenied          dataset_id
    dataset_not_found           404     DatasetNotFound           dataset_id, close_matches
    dataset_moved               308     DatasetMoved              dataset_id, moved_to (and a
                                                                  Location header)
    dataset_withdrawn           410     DatasetWithdrawn          dataset_id, reason,
                                                                  withdrawn_at, citation, note
    not_found                   404     OpenDataError (no such route or object)
    column_not_found            422     ColumnNotFound            dataset_id, column, available
    version_not_found           404     VersionNotFound           dataset_id, version, oldest_kept,
                                                                  matches
    range_outside_coverage      422     RangeOutsideCoverage      dataset_id, coverage
    schema_mismatch             422     SchemaMismatch            dataset_id, column
    invalid_data                422     InvalidData               dataset_id, column
    conflict                    409     ConflictError             dataset_id, publish_id,
                                                                  partition
    invalid_transition          409     InvalidTransition         dataset_id, status, action
    rate_limited                429     RateLimited               retry_after
    corrupt_data                502     CorruptDataError          dataset_id, key
    unavailable                 503     ServiceUnavailable        service, retry_after
    store_unavailable           503     StoreUnavailable          store
    internal                    500     OpenDataError

Example:
    >>> from opendata_core.errors import DatasetNotFound
    >>> body = problem_from_error(DatasetNotFound("ecb/fx", ["ecb/fx-rates"]))
    >>> body.code, body.status
    ('dataset_not_found', 404)
    >>> err = error_from_problem(body)
    >>> type(err).__name__, err.close_matches
    ('DatasetNotFound', ['ecb/fx-rates'])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import msgspec

from opendata_core._findings import Finding
from opendata_core.errors import (
    ColumnNotFound,
    ConflictError,
    CorruptDataError,
    DatasetMoved,
    DatasetNotFound,
    DatasetWithdrawn,
    FormatError,
    InvalidData,
    InvalidDatasetId,
    InvalidTransition,
    MetadataError,
    OpenDataError,
    PermissionDenied,
    RangeOutsideCoverage,
    RateLimited,
    SchemaMismatch,
    ServiceUnavailable,
    StoreUnavailable,
    Unauthenticated,
    UnsupportedFormatVersion,
    VersionNotFound,
)

__all__ = [
    "ERROR_CODES",
    "REQUEST_ID_HEADER",
    "ProblemDetails",
    "error_from_problem",
    "is_request_id",
    "problem_from_error",
    "status_of",
    "with_request_id",
]

REQUEST_ID_HEADER: Final = "X-Request-ID"
"""The header that carries a request's id, in the request (optional) and in every answer."""
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
_E = TypeVar("_E", bound=OpenDataError)


class ProblemDetails(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The JSON body of every error answer: a stable ``code``, a message and a hint.

    ``details`` holds the error's structured attributes (``close_matches``, ``coverage``, ...), so
    the client can rebuild the same typed exception. ``request_id`` is the answer's
    ``X-Request-ID``, the key to the service's log line (absent from older services).
    """

    code: str
    message: str
    status: int = 500
    hint: str | None = None
    details: dict[str, Any] = {}
    request_id: str | None = None


def is_request_id(value: str) -> bool:
    """Whether ``value`` is a safe request id: 1-128 of ``A-Z a-z 0-9 . _ -``.

    Example:
        >>> is_request_id("4f1c2e9a-trace.1"), is_request_id("a b"), is_request_id("")
        (True, False, False)
    """
    return _REQUEST_ID.fullmatch(value) is not None


def with_request_id(err: _E, request_id: str | None) -> _E:
    """``err`` carrying ``request_id``, shown at the end of its message as huggingface_hub does.

    Nothing changes when ``request_id`` is missing or unsafe, or ``err`` already carries one.

    Example:
        >>> str(with_request_id(OpenDataError("no such dataset"), "abc123"))
        'no such dataset (Request ID: abc123)'
    """
    if request_id is None or err.request_id is not None or not is_request_id(request_id):
        return err
    err.request_id = request_id
    err.message = f"{err.message} (Request ID: {request_id})"
    err.args = (err.message,)
    return err


ERROR_CODES: Final[dict[str, tuple[type[OpenDataError], int]]] = {
    # Subclasses come before their bases: problem_from_error takes the first match.
    "unsupported_format_version": (UnsupportedFormatVersion, 422),
    "format_error": (FormatError, 422),
    "invalid_dataset_id": (InvalidDatasetId, 400),
    "metadata_invalid": (MetadataError, 422),
    "unauthenticated": (Unauthenticated, 401),
    "permission_denied": (PermissionDenied, 403),
    "dataset_not_found": (DatasetNotFound, 404),
    "dataset_moved": (DatasetMoved, 308),
    "dataset_withdrawn": (DatasetWithdrawn, 410),
    "column_not_found": (ColumnNotFound, 422),
    "version_not_found": (VersionNotFound, 404),
    "range_outside_coverage": (RangeOutsideCoverage, 422),
    "schema_mismatch": (SchemaMismatch, 422),
    "invalid_data": (InvalidData, 422),
    "conflict": (ConflictError, 409),
    "invalid_transition": (InvalidTransition, 409),
    "rate_limited": (RateLimited, 429),
    "corrupt_data": (CorruptDataError, 502),
    "unavailable": (ServiceUnavailable, 503),
    "store_unavailable": (StoreUnavailable, 503),
}
"""``code`` → (exception class, HTTP status). Codes never change once released."""

_GENERIC: Final[dict[str, int]] = {"bad_request": 400, "not_found": 404, "internal": 500}

_DETAILS: Final[dict[type[OpenDataError], tuple[str, ...]]] = {
    InvalidDatasetId: ("value", "rule"),
    FormatError: ("document", "field"),
    UnsupportedFormatVersion: ("document", "found", "supported"),
    PermissionDenied: ("dataset_id",),
    DatasetNotFound: ("dataset_id", "close_matches"),
    DatasetMoved: ("dataset_id", "moved_to"),
    DatasetWithdrawn: ("dataset_id", "reason", "withdrawn_at", "citation", "note"),
    ColumnNotFound: ("dataset_id", "column", "available"),
    VersionNotFound: ("dataset_id", "version", "oldest_kept", "matches"),
    RangeOutsideCoverage: ("dataset_id", "coverage"),
    SchemaMismatch: ("dataset_id", "column"),
    InvalidData: ("dataset_id", "column"),
    ConflictError: ("dataset_id", "publish_id", "partition"),
    InvalidTransition: ("dataset_id", "status", "action"),
    RateLimited: ("retry_after",),
    CorruptDataError: ("dataset_id", "key"),
    ServiceUnavailable: ("service", "retry_after"),
    StoreUnavailable: ("store",),
}


def status_of(code: str) -> int:
    """The HTTP status for ``code`` (500 for an unknown code)."""
    if code in ERROR_CODES:
        return ERROR_CODES[code][1]
    return _GENERIC.get(code, 500)


def problem_from_error(exc: BaseException) -> ProblemDetails:
    """The body a service sends for ``exc``; anything not an OpenData error is ``internal``.

    An internal error's message never includes the exception text (it may hold secrets).
    """
    if isinstance(exc, OpenDataError):
        for code, (cls, status) in ERROR_CODES.items():
            if isinstance(exc, cls):
                details: dict[str, Any] = {}
                for name in _DETAILS.get(cls, ()):
                    value = getattr(exc, name, None)
                    if value is not None:
                        details[name] = list(value) if isinstance(value, tuple) else value
                if isinstance(exc, MetadataError):
                    details["findings"] = msgspec.to_builtins(exc.findings)
                    # The key of clients before the Problem -> Finding rename; drop next release.
                    details["problems"] = details["findings"]
                return ProblemDetails(
                    code=code, message=exc.message, status=status, hint=exc.hint, details=details
                )
        generic = getattr(exc, "code", None)
        generic = generic if isinstance(generic, str) and generic in _GENERIC else "bad_request"
        return ProblemDetails(
            code=generic, message=exc.message, status=_GENERIC[generic], hint=exc.hint
        )
    return ProblemDetails(
        code="internal", message="internal server error", status=500, hint="try again later"
    )


def _rebuild(cls: type[OpenDataError], p: ProblemDetails) -> OpenDataError:
    d = p.details
    makers: dict[type[OpenDataError], Callable[[], OpenDataError]] = {
        InvalidDatasetId: lambda: InvalidDatasetId(d.get("value", ""), d.get("rule", p.message)),
        MetadataError: lambda: MetadataError(
            msgspec.convert(d.get("findings", d.get("problems", [])), list[Finding])
            or [Finding(path="opendata.yaml", line=None, column=None, field="", message=p.message)]
        ),
        UnsupportedFormatVersion: lambda: UnsupportedFormatVersion(
            document=d.get("document", "document"),
            found=d.get("found", "?"),
            supported=d.get("supported", "?"),
        ),
        FormatError: lambda: FormatError(
            p.message, document=d.get("document", "document"), field=d.get("field")
        ),
        Unauthenticated: lambda: Unauthenticated(p.message),
        PermissionDenied: lambda: PermissionDenied(p.message, dataset_id=d.get("dataset_id")),
        DatasetNotFound: lambda: DatasetNotFound(
            d.get("dataset_id", ""), d.get("close_matches", [])
        ),
        DatasetMoved: lambda: DatasetMoved(d.get("dataset_id", ""), d.get("moved_to", "")),
        DatasetWithdrawn: lambda: DatasetWithdrawn(
            d.get("dataset_id", ""),
            d.get("reason", ""),
            withdrawn_at=_datetime(d.get("withdrawn_at")),
            citation=d.get("citation"),
            note=d.get("note"),
        ),
        ColumnNotFound: lambda: ColumnNotFound(
            d.get("dataset_id", ""), d.get("column", ""), d.get("available", [])
        ),
        VersionNotFound: lambda: VersionNotFound(
            d.get("dataset_id", ""),
            p.message,
            version=d.get("version"),
            oldest_kept=d.get("oldest_kept"),
            matches=d.get("matches", []),
        ),
        RangeOutsideCoverage: lambda: RangeOutsideCoverage(
            d.get("dataset_id", ""), "", tuple(d["coverage"]) if d.get("coverage") else None
        ),
        SchemaMismatch: lambda: SchemaMismatch(d.get("dataset_id", ""), d.get("column"), p.message),
        InvalidData: lambda: InvalidData(
            p.message, dataset_id=d.get("dataset_id", ""), column=d.get("column"), hint=p.hint
        ),
        ConflictError: lambda: ConflictError(
            d.get("dataset_id", ""),
            p.message,
            publish_id=d.get("publish_id"),
            partition=d.get("partition"),
        ),
        InvalidTransition: lambda: InvalidTransition(
            d.get("dataset_id", ""),
            p.message,
            status=d.get("status", ""),
            action=d.get("action", ""),
            hint=p.hint,
        ),
        RateLimited: lambda: RateLimited(p.message, retry_after=d.get("retry_after")),
        CorruptDataError: lambda: CorruptDataError(
            d.get("dataset_id", ""), d.get("key", ""), p.message
        ),
        ServiceUnavailable: lambda: ServiceUnavailable(
            d.get("service", "the registry"), p.message, retry_after=d.get("retry_after")
        ),
        StoreUnavailable: lambda: StoreUnavailable(d.get("store", ""), p.message),
    }
    return makers[cls]()


def _datetime(value: object) -> datetime | None:
    """A ``details`` timestamp (RFC 3339 text) back as a datetime; ``None`` if absent or bad."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def error_from_problem(problem: ProblemDetails) -> OpenDataError:
    """The typed exception for a service's error body (the inverse of :func:`problem_from_error`).

    The message and hint are the server's; unknown codes give a plain :class:`OpenDataError`.
    The body's ``request_id`` ends the message (see :func:`with_request_id`).
    """
    entry = ERROR_CODES.get(problem.code)
    if entry is None:
        return OpenDataError(problem.message, hint=problem.hint)
    try:
        err = _rebuild(entry[0], problem)
    except (TypeError, ValueError, msgspec.ValidationError):
        err = OpenDataError(problem.message, hint=problem.hint)
    err.message = problem.message
    err.args = (problem.message,)
    if problem.hint is not None:
        err.hint = problem.hint
    return with_request_id(err, problem.request_id)
