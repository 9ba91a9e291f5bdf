"""The exit codes of every ``od`` command, defined here and only here.

``od --help`` lists them (the epilog is built from :data:`MEANINGS`), and so does the generated
CLI reference. 2 is click's own code for a usage error, so no other failure may use it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = ["MEANINGS", "ExitCode", "epilog", "for_exception"]


class ExitCode(IntEnum):
    """What an ``od`` command's exit status means."""

    OK = 0
    FAILED = 1
    USAGE = 2
    STORE = 3


MEANINGS: Final[dict[ExitCode, str]] = {
    ExitCode.OK: "success; also when the reader of a pipe stopped early (od list | head)",
    ExitCode.FAILED: "the command failed: bad input or data, an invalid opendata.yaml, main.py "
    "raised or returned bad data, a dataset or file not found",
    ExitCode.USAGE: "usage error: an unknown command or option, a missing or invalid argument "
    "(click's code)",
    ExitCode.STORE: "the store failed or refused: unreachable, permission denied, another "
    "publish won, corrupt data; a publish that fails this way published nothing",
}


def for_exception(exc: BaseException) -> ExitCode:
    """``STORE`` for errors of the store itself, else ``FAILED``.

    Example:
        >>> for_exception(ValueError("bad date"))
        <ExitCode.FAILED: 1>
    """
    from opendata_core.errors import (
        ConflictError,
        CorruptDataError,
        PermissionDenied,
        StoreUnavailable,
    )

    if isinstance(exc, PermissionDenied | StoreUnavailable | ConflictError | CorruptDataError):
        return ExitCode.STORE
    return ExitCode.FAILED


def epilog() -> str:
    """The "Exit codes" paragraph of ``od --help``."""
    import textwrap

    lines = [
        textwrap.fill(f"{int(code)}  {text}", 90, subsequent_indent="   ")
        for code, text in MEANINGS.items()
    ]
    # \b keeps click from re-wrapping the list into one paragraph.
    return "Exit codes:\n\n\b\n" + "\n".join(lines)
