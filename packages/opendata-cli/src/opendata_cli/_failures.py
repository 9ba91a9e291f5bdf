"""Classifying a run's failure (network, parse, validation, upload, permission, unknown)."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

from opendata_cli._exit import ExitCode, for_exception

if TYPE_CHECKING:
    from opendata_core.documents import ErrorClass

from opendata_cli._outcome import EXIT_PRODUCER, EXIT_PUBLISH, _Failure

_HINTS: Final[dict[str, str]] = {
    "network": "the source did not answer as expected; nothing was published. Try again later, "
    "or set OPENDATA_DEBUG=1 for the traceback",
    "parse": "main.py could not read what the source sent (did its format change?); nothing was "
    "published. Set OPENDATA_DEBUG=1 for the traceback",
    "unknown": "fix main.py and run it again (OPENDATA_DEBUG=1 shows the traceback); nothing was "
    "published",
}
_MESSAGE_MAX: Final = 500


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_network(exc: BaseException) -> bool:
    import socket
    import ssl
    import urllib.error

    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        return True
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.exceptions.RequestException):
        return True
    return isinstance(
        exc, urllib.error.URLError | ConnectionError | TimeoutError | socket.gaierror | ssl.SSLError
    )


def _is_parse(exc: BaseException) -> bool:
    import csv
    import zipfile

    return isinstance(exc, ValueError | KeyError | IndexError | zipfile.BadZipFile | csv.Error)


def classify(exc: BaseException) -> tuple[ErrorClass, int]:
    """The error class and exit code of an exception raised by a producer or by a push.

    Store failures (``StoreUnavailable``, ``ConflictError``, ``CorruptDataError``) are ``upload``,
    except a store that cannot be reached or timed out (``network``), and ``PermissionDenied`` is
    ``permission`` (all exit 3); an HTTP or connection error in the producer is
    ``network``, a ``ValueError``/``KeyError`` (pandas' parser errors included) is ``parse``
    (exit 1). The exception's causes are consulted when the exception itself says nothing.

    Example:
        >>> classify(KeyError("Date"))
        ('parse', 1)
    """
    from opendata_core.errors import OpenDataError, PermissionDenied, StoreUnavailable

    for e in _chain(exc):
        if for_exception(e) is ExitCode.STORE:
            if isinstance(e, PermissionDenied):
                return "permission", EXIT_PUBLISH
            if isinstance(e, StoreUnavailable) and e.reason in ("timeout", "unreachable"):
                return "network", EXIT_PUBLISH
            return "upload", EXIT_PUBLISH
        if isinstance(e, OpenDataError):
            return "validation", EXIT_PRODUCER
        if _is_network(e):
            return "network", EXIT_PRODUCER
        if _is_parse(e):
            return "parse", EXIT_PRODUCER
    return "unknown", EXIT_PRODUCER


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= _MESSAGE_MAX else line[: _MESSAGE_MAX - 1] + "…"


def _describe(exc: BaseException) -> str:
    """``Type: first line``, with the request for HTTP errors."""
    httpx = sys.modules.get("httpx")
    name = type(exc).__name__
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return (
            f"{name}: {exc.request.method} {exc.request.url}: "
            f"{response.status_code} {response.reason_phrase}"
        )
    if httpx is not None and isinstance(exc, httpx.RequestError):
        with contextlib.suppress(RuntimeError):  # .request is unset for some errors
            detail = _first_line(str(exc)) or "no details"
            return f"{name}: {exc.request.method} {exc.request.url}: {detail}"
    detail = _first_line(str(exc))
    if isinstance(exc, KeyError) and exc.args:
        detail = f"missing key {exc.args[0]!r}"
    return f"{name}: {detail}" if detail else name


def _where(tb: TracebackType | None, folder: Path) -> str | None:
    """``main.py:42``: the innermost frame inside the dataset folder."""
    found = None
    for frame, line in traceback.walk_tb(tb):
        try:
            relative = Path(frame.f_code.co_filename).resolve().relative_to(folder)
        except ValueError:
            continue
        # A virtual environment inside the repository (.venv/...) is library code, not theirs.
        if not any(p.startswith(".") or p == "site-packages" for p in relative.parts):
            found = f"{relative.as_posix()}:{line}"
    return found


def _producer_failure(exc: BaseException, folder: Path, what: str = "main()") -> _Failure:
    error_class, exit_code = classify(exc)
    where = _where(exc.__traceback__, folder) or what
    hint = getattr(exc, "hint", None) if error_class in ("upload", "permission") else None
    return _Failure(
        error_class,
        f"{where}: {_describe(exc)}",
        hint=hint or _HINTS.get(error_class),
        exit_code=exit_code,
        cause=exc,
    )
