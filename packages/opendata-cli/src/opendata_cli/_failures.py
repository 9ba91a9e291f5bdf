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


def _url_without_scheme(exc: BaseException) -> str | None:
    """The URL of an error that says a URL has no scheme (or one nothing can fetch), else None.

    ``httpx.get("example.org/data.csv")`` raises an ``httpx`` error, which would otherwise be
    taken for the network failing; the bug is in main.py, and retrying cannot fix it.
    """
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        with contextlib.suppress(RuntimeError):  # .request is unset for some errors
            return str(exc.request.url)
        return ""
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(
        exc, requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema
    ):
        request = getattr(exc, "request", None)
        return str(getattr(request, "url", "") or "")
    if type(exc) is ValueError and str(exc).startswith("unknown url type: "):  # urllib
        return str(exc).removeprefix("unknown url type: ").strip("'")
    return None


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
        if _url_without_scheme(e) is not None:
            return "unknown", EXIT_PRODUCER  # a bug in main.py, not the network
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


def _installed_modules() -> list[str]:
    """The top-level modules this interpreter can import (standard library included)."""
    import pkgutil

    names = {m.name for m in pkgutil.iter_modules()}
    return sorted(names | set(sys.builtin_module_names) | set(sys.stdlib_module_names))


def _required(folder: Path) -> list[str]:
    """The names requirements.txt lists, as import names are usually spelled."""
    import re

    try:
        lines = (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found = (re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line) for line in lines)
    return [m[1].lower().replace("-", "_") for m in found if m]


def _missing_module(exc: ModuleNotFoundError, folder: Path, where: str) -> _Failure:
    """An import of main.py that failed: the close match of an installed module, if any.

    Never ``pip install <what main.py wrote>``: a misspelt name may be someone else's package.
    """
    import difflib

    missing = (exc.name or "").split(".")[0]
    candidates = sorted({*_installed_modules(), *_required(folder)} - {missing})
    close = difflib.get_close_matches(missing, candidates, n=1, cutoff=0.75)
    if close:
        hint = f"did you mean {close[0]!r}? Fix the import in {where}"
    else:
        hint = (
            f"check the spelling of {missing!r}; if it is right, install the package that "
            "provides it (its name on PyPI may differ) and list that in requirements.txt"
        )
    return _Failure(
        "unknown",
        f"{where}: imports {missing or 'a module'!r}, which is not installed",
        hint=hint,
        cause=exc,
    )


def _producer_failure(exc: BaseException, folder: Path, what: str = "main()") -> _Failure:
    where = _where(exc.__traceback__, folder) or what
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return _missing_module(exc, folder, where)
    error_class, exit_code = classify(exc)
    hint = (
        getattr(exc, "hint", None)
        if error_class in ("upload", "permission", "validation")
        else None
    )
    url = next((u for e in _chain(exc) if (u := _url_without_scheme(e)) is not None), None)
    if url is not None:
        shown = f"{url!r} " if url else ""
        hint = (
            f"the URL {shown}has no http:// or https:// at its start: main.py must give the "
            "full address (e.g. https://example.org/data.csv); retrying will not help"
        )
    return _Failure(
        error_class,
        f"{where}: {_describe(exc)}",
        hint=hint or _HINTS.get(error_class),
        exit_code=exit_code,
        cause=exc,
    )
