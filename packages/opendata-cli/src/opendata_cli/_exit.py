"""The exit codes of every ``od`` command, defined here and only here.

``od --help`` lists them (the epilog is built from :data:`MEANINGS`), and so does the generated
CLI reference. 2 is click's own code for a usage error, so no other failure may use it.

A command that fails raises: an error of the library, or :class:`CommandFailed` for a refusal of
its own. :func:`describe` is the one table from exception to message, hint and exit code (the
model is huggingface_hub's ``cli/_errors.py``); the ``od`` group's handler prints what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from typing import Any, Final

__all__ = [
    "MEANINGS",
    "CommandFailed",
    "ExitCode",
    "Failure",
    "describe",
    "epilog",
    "for_exception",
]


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


class CommandFailed(Exception):
    """A command stops with ``code``; ``message`` (if any) and ``hint`` go to stderr.

    ``message=None`` when the command already printed why (``od validate``'s problems).
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        hint: str | None = None,
        code: ExitCode = ExitCode.FAILED,
    ) -> None:
        super().__init__(message or "")
        self.message = message
        self.hint = hint
        self.code = code


@dataclass(frozen=True)
class Failure:
    """What ``od`` prints for an exception (``error: <message>``, ``hint: <hint>``), its exit."""

    message: str | None
    hint: str | None
    code: ExitCode


_BUG_HINT: Final = (
    "this is a bug in od; please report it with the output of the same command run with "
    "OPENDATA_DEBUG=1"
)


@cache
def _table() -> tuple[tuple[type[BaseException], Callable[[Any, str], Failure]], ...]:
    # Built on first use: opendata_core is not imported by ``od --help``. First match wins.
    from opendata_core.errors import OpenDataError

    return (
        (CommandFailed, lambda e, _: Failure(e.message, e.hint, e.code)),
        (OpenDataError, lambda e, _: Failure(str(e), e.shell_hint or e.hint, for_exception(e))),
        # Bad input that reached a library (a date that does not parse): one line, and a hint
        # that helps with the input.
        (
            ValueError,
            lambda e, command: Failure(
                str(e), f"`od {command} --help` lists what each option accepts", ExitCode.FAILED
            ),
        ),
        (TypeError, lambda e, _: Failure(str(e), _BUG_HINT, ExitCode.FAILED)),
        # An OSError names the file and what went wrong with it: no hint needed.
        (OSError, lambda e, _: Failure(str(e), None, ExitCode.FAILED)),
    )


def describe(exc: BaseException, command: str = "COMMAND") -> Failure | None:
    """The message, hint and exit code of ``exc``; ``None`` for an exception not in the table.

    Example:
        >>> describe(CommandFailed("no", hint="try again"))
        Failure(message='no', hint='try again', code=<ExitCode.FAILED: 1>)
        >>> describe(KeyError("x")) is None
        True
    """
    for kind, make in _table():
        if isinstance(exc, kind):
            return make(exc, command)
    return None


def epilog() -> str:
    """The "Exit codes" paragraph of ``od --help``."""
    import textwrap

    lines = [
        textwrap.fill(f"{int(code)}  {text}", 90, subsequent_indent="   ")
        for code, text in MEANINGS.items()
    ]
    # \b keeps click from re-wrapping the list into one paragraph.
    return "Exit codes:\n\n\b\n" + "\n".join(lines)
