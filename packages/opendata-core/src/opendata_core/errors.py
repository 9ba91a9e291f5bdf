"""Every error OpenData raises, in one tree.

Each class subclasses :class:`OpenDataError` *and* the builtin a caller would naturally catch, so
``except ValueError`` keeps working for code that does not know about OpenData. Errors carry
structured attributes (``dataset_id``, ``field``, ``line``, ...) next to a message that says what
went wrong, where, and how to fix it.

::

    OpenDataError                  builtin           meaning (attributes)
    ├── InvalidDatasetId           ValueError        an ID breaks a rule (.value .rule)
    ├── MetadataError              ValueError        opendata.yaml is invalid
    │                                                (.path .line .column .field .findings)
    ├── FormatError                ValueError        a JSON document is malformed (.document .field)
    │   └── UnsupportedFormatVersion                 written by a newer major (.found .supported)
    ├── DatasetNotFound            LookupError       no such dataset (.dataset_id .close_matches)
    ├── DatasetMoved               LookupError       the id moved (.dataset_id .moved_to); readers
    │                                                follow it with a DeprecationWarning
    ├── DatasetWithdrawn           LookupError       withdrawn, data no longer served (.dataset_id
    │                                                .reason .withdrawn_at .citation .note)
    ├── ColumnNotFound             LookupError       no such column (.column .available)
    ├── VersionNotFound            LookupError       no single kept version matches
    │                                                (.dataset_id .version .oldest_kept .matches)
    ├── RangeOutsideCoverage       ValueError        start/end outside the data (.coverage)
    ├── SchemaMismatch             ValueError        appended rows do not fit the schema (.column)
    ├── InvalidData                ValueError        data fails a check before publishing
    │                                                (.dataset_id .column)
    ├── InvalidTransition          ValueError        a lifecycle change its status does not allow
    │                                                (.dataset_id .status .action)
    ├── PermissionDenied           PermissionError   the store or registry said no (.dataset_id)
    │   └── Unauthenticated                          no valid API key or token was given
    ├── ConflictError              RuntimeError      another publish won the race (.dataset_id)
    ├── CorruptDataError           OSError           bytes do not match their checksum (.key)
    ├── StoreUnavailable           ConnectionError   the store failed after retries (.store .reason)
    │   └── ServiceUnavailable                       the registry or a service it needs (database,
    │                                                Redis) is briefly down (.service .retry_after)
    └── RateLimited                ConnectionError   the registry said 429 (.retry_after)

Each error's stable ``code`` and HTTP status live in one table, :mod:`opendata_core.problems`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opendata_core._findings import Finding

__all__ = [
    "ColumnNotFound",
    "ConflictError",
    "CorruptDataError",
    "DatasetMoved",
    "DatasetNotFound",
    "DatasetWithdrawn",
    "FormatError",
    "InvalidData",
    "InvalidDatasetId",
    "InvalidTransition",
    "MetadataError",
    "OpenDataError",
    "PermissionDenied",
    "RangeOutsideCoverage",
    "RateLimited",
    "SchemaMismatch",
    "ServiceUnavailable",
    "StoreUnavailable",
    "Unauthenticated",
    "UnsupportedFormatVersion",
    "VersionNotFound",
    "first_line",
    "shorten",
]

SHOWN_CHARACTERS: Final = 120
"""How much of an input an error message echoes (a 100,000-character id is not shown whole)."""
MESSAGE_CHARACTERS: Final = 2000
"""The longest error message; anything longer is cut (a safety net behind :func:`shorten`)."""


def shorten(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``str(value)``, cut to ``limit`` characters with the count of what was left out.

    Every error message that echoes user input passes it through here.

    Example:
        >>> shorten("x" * 200, 10)
        'xxxxxxxxx… (200 characters)'
        >>> shorten("ecb/rates")
        'ecb/rates'
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, else its type's name.

    A library's error can be a page long; messages quote its first line.

    Example:
        >>> first_line(OSError("Generic S3 error: 503" + chr(10) + "retries exhausted"))
        'Generic S3 error: 503'
        >>> first_line(TimeoutError())
        'TimeoutError'
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class OpenDataError(Exception):
    """Base class of every error raised by OpenData packages.

    Attributes:
        hint: A short suggestion of how to fix the problem, or ``None``; written for Python
            callers (``od.Client(store=...)``).
        shell_hint: The same advice as shell commands (``od demo``), for command-line tools;
            ``None`` when ``hint`` fits both.
        request_id: The id of the service answer this error came from (its ``X-Request-ID``,
            also at the end of the message), or ``None``; operators find the request by it.
    """

    hint: str | None = None
    shell_hint: str | None = None
    request_id: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = shorten(message, MESSAGE_CHARACTERS)  # whatever was echoed into it
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross processes (a Dask worker's CorruptDataError reaches the caller pickled).
        # Each subclass takes its own arguments, so unpickling rebuilds the instance from its
        # attributes instead of calling __init__ with the message.
        return (_restore, (type(self), self.args), self.__dict__)


def _restore(cls: type[OpenDataError], args: tuple[Any, ...]) -> OpenDataError:
    err = cls.__new__(cls)
    err.args = args
    return err


class InvalidDatasetId(OpenDataError, ValueError):
    """A dataset ID breaks one of the naming rules (see :meth:`DatasetId.parse`)."""

    def __init__(self, value: object, rule: str) -> None:
        self.value = value
        self.rule = rule
        super().__init__(
            f"invalid dataset id {shorten(repr(value))}: {rule}",
            hint="IDs look like 'namespace/name', e.g. 'ecb/euro-fx-rates'",
        )


class MetadataError(OpenDataError, ValueError):
    """An ``opendata.yaml`` file is invalid.

    The attributes describe the first error; ``findings`` lists every error found, each with its
    own location, so a tool can print them all at once.
    """

    def __init__(self, findings: Sequence[Finding]) -> None:
        if not findings:
            raise ValueError("MetadataError needs at least one finding")
        self.findings = list(findings)
        first = self.findings[0]
        self.path = first.path
        self.line = first.line
        self.column = first.column
        self.field = first.field
        message = str(first)
        if len(self.findings) > 1:
            message += f" (and {len(self.findings) - 1} more error(s))"
        super().__init__(message, hint=first.hint)

    @property
    def problems(self) -> list[Finding]:
        """Deprecated name of :attr:`findings`."""
        from opendata_core.deprecation import renamed

        renamed("MetadataError.problems", "MetadataError.findings")
        return self.findings


class FormatError(OpenDataError, ValueError):
    """A JSON document (manifest, metadata, index, run record) cannot be decoded."""

    def __init__(self, message: str, *, document: str, field: str | None = None) -> None:
        self.document = document
        self.field = field
        super().__init__(message)


class UnsupportedFormatVersion(FormatError):
    """A document was written with a newer major format than this library understands."""

    def __init__(self, *, document: str, found: str, supported: str) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            f"{document}: format {found} is newer than the supported {supported}; "
            "upgrade opendata-client (pip install -U opendata-client)",
            document=document,
            field="format",
        )
        self.hint = "pip install -U opendata-client opendata-cli"


class DatasetNotFound(OpenDataError, LookupError):
    """No dataset with this ID exists in the store or registry.

    Without close matches the message names the store searched (``store``) and, when it holds no
    dataset at all (``store_size == 0``, e.g. on a fresh machine), says how to get data:
    ``demo_command`` is the shell command that publishes the example datasets into that very
    store (``od demo --no-serve``; ``None`` when it cannot, e.g. for a bucket or a registry).
    """

    def __init__(
        self,
        dataset_id: str,
        close_matches: Sequence[str] = (),
        *,
        store: str | None = None,
        store_size: int | None = None,
        demo_command: str | None = None,
    ) -> None:
        self.dataset_id = dataset_id
        self.close_matches = list(close_matches)
        self.store = store
        message = f"dataset {dataset_id!r} not found"
        hint = shell = None
        elsewhere = (
            "od.Client(store='s3://bucket/prefix') or the OPENDATA_STORE environment variable"
        )
        shell_elsewhere = (
            "`od get --store s3://bucket/prefix ...` or `export OPENDATA_STORE=s3://bucket/prefix`"
        )
        if self.close_matches:
            message += "; did you mean " + " or ".join(repr(m) for m in self.close_matches) + "?"
        elif store_size == 0:
            message += f": the store {store} holds no datasets" if store else ": no datasets"
            if demo_command:
                hint = (
                    f"publish the example datasets into it: run `{demo_command}` in a shell "
                    f"(offline, no keys needed), or read another store: {elsewhere}"
                )
                shell = (
                    f"run `{demo_command}` to publish the example datasets into it, or read "
                    f"another store: {shell_elsewhere}"
                )
            else:
                hint = f"publish into it (od.push), or read another store: {elsewhere}"
                shell = (
                    "publish into it (`od push`, `od run`), or read another store: "
                    + shell_elsewhere
                )
        else:
            if store:
                message += f" in the store {store}"
            hint = "search it with od.search('words'), or read another store: od.Client(store=...)"
            shell = (
                "search it with `od search WORDS`, or read another store: --store or OPENDATA_STORE"
            )
        super().__init__(message, hint=hint)
        self.shell_hint = shell


class DatasetMoved(OpenDataError, LookupError):
    """The dataset moved to another id (renamed, or transferred to another namespace).

    Readers follow it: ``od.load("old/id")`` loads ``moved_to`` and warns once with a
    :class:`DeprecationWarning`; the registry answers it as HTTP 308 with ``Location``. The old
    id stays reserved: no other dataset can take it (spec §10.3).
    """

    def __init__(self, dataset_id: str, moved_to: str) -> None:
        self.dataset_id = dataset_id
        self.moved_to = moved_to
        super().__init__(
            f"{dataset_id} moved to {moved_to}",
            hint=f"use the new id {moved_to!r}; the old one keeps working, with a warning",
        )


class DatasetWithdrawn(OpenDataError, LookupError):
    """The dataset was withdrawn: its data is no longer served, its metadata and citation are.

    ``reason`` is ``legal``, ``licence``, ``privacy`` or ``producer-request``; ``citation``
    cites the last version (for a paper that used it); ``note`` is the operator's explanation.
    """

    def __init__(
        self,
        dataset_id: str,
        reason: str,
        *,
        withdrawn_at: datetime | None = None,
        citation: str | None = None,
        note: str | None = None,
    ) -> None:
        self.dataset_id = dataset_id
        self.reason = reason
        self.withdrawn_at = withdrawn_at
        self.citation = citation
        self.note = note
        when = f" on {withdrawn_at:%Y-%m-%d}" if withdrawn_at else ""
        why = f" ({reason}{': ' + shorten(note, 300) if note else ''})"
        message = f"{dataset_id} was withdrawn{when}{why}; its data is no longer served"
        if citation:
            message += f". Its last version is cited as: {shorten(citation, 600)}"
        super().__init__(
            message,
            hint="cite the last version as above; the publisher or the registry's operator can "
            "say whether a replacement exists",
        )


class ColumnNotFound(OpenDataError, LookupError):
    """A requested column is not in the dataset's schema."""

    def __init__(self, dataset_id: str, column: str, available: Sequence[str]) -> None:
        self.dataset_id = dataset_id
        self.column = column
        self.available = list(available)
        super().__init__(
            f"{dataset_id}: no column {shorten(repr(column))}; "
            f"columns are: {shorten(', '.join(self.available), 500)}"
        )

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class VersionNotFound(OpenDataError, LookupError):
    """No single kept version matches the ``version`` or ``as_of`` a reader asked for.

    ``oldest_kept`` is the oldest version still kept (retention removed anything older);
    ``matches`` lists the versions an ambiguous prefix matches. Raised by
    :func:`opendata_core.versions.select_version`, which writes the message.
    """

    def __init__(
        self,
        dataset_id: str,
        message: str,
        *,
        version: str | None = None,
        oldest_kept: str | None = None,
        matches: Sequence[str] = (),
    ) -> None:
        self.dataset_id = dataset_id
        self.version = version
        self.oldest_kept = oldest_kept
        self.matches = list(matches)
        super().__init__(
            message,
            hint=f"list the kept versions with od.Client().versions({dataset_id!r}) "
            f"or `od versions {dataset_id}`",
        )


class RangeOutsideCoverage(OpenDataError, ValueError):
    """The requested ``[start, end]`` does not overlap the dataset's time coverage."""

    def __init__(self, dataset_id: str, requested: str, coverage: tuple[str, str] | None) -> None:
        self.dataset_id = dataset_id
        self.coverage = coverage
        from opendata_core.timerange import coverage_text

        cov = coverage_text(*coverage) if coverage else "no rows"
        super().__init__(
            f"{dataset_id}: requested range {shorten(requested)} is outside the data's "
            f"coverage ({cov})",
            hint="choose start/end inside the coverage, or omit them to load everything",
        )


class SchemaMismatch(OpenDataError, ValueError):
    """Data pushed with ``mode="append"`` does not fit the published schema."""

    def __init__(self, dataset_id: str, column: str | None, detail: str) -> None:
        self.dataset_id = dataset_id
        self.column = column
        super().__init__(
            f"{dataset_id}: {detail}",
            hint="make the new rows match the published columns, or push with mode='replace'",
        )


class InvalidData(OpenDataError, ValueError):
    """Data fails a check before publishing (0 rows, null or duplicate keys, a bad time column).

    ``od.push`` and ``od run`` run the same checks, so what one refuses the other refuses too.
    """

    def __init__(
        self,
        message: str,
        *,
        dataset_id: str,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.dataset_id = dataset_id
        self.column = column
        super().__init__(message, hint=hint)


class InvalidTransition(OpenDataError, ValueError):
    """A lifecycle change that the dataset's status does not allow (spec §10.2).

    Raised by :func:`opendata_core.lifecycle.transition`, which writes the message (what the
    status allows instead) and the hint.
    """

    def __init__(
        self,
        dataset_id: str,
        message: str,
        *,
        status: str,
        action: str,
        hint: str | None = None,
    ) -> None:
        self.dataset_id = dataset_id
        self.status = status
        self.action = action
        super().__init__(message, hint=hint)


class PermissionDenied(OpenDataError, PermissionError):
    """The store or registry refused access.

    The hint comes from where it was refused (a store's keys, a registry's API key, a publishing
    policy): there is no default, because advice for one of them misleads for the others.
    """

    def __init__(
        self, message: str, *, dataset_id: str | None = None, hint: str | None = None
    ) -> None:
        self.dataset_id = dataset_id
        super().__init__(message, hint=hint)


class ConflictError(OpenDataError, RuntimeError):
    """Another publish of the same dataset committed first; nothing of ours was committed."""

    def __init__(
        self,
        dataset_id: str,
        message: str | None = None,
        *,
        publish_id: str | None = None,
        partition: str | None = None,
    ) -> None:
        self.dataset_id = dataset_id
        self.publish_id = publish_id
        """The ``publish_id`` that is current now, when known."""
        self.partition = partition
        """The partition both publishes wrote (an append the registry could not rebase)."""
        super().__init__(
            message or f"{dataset_id}: another publish committed first; nothing was changed",
            hint="re-run the push: mode='append' retries on its own, 'replace' overwrites",
        )


class CorruptDataError(OpenDataError, OSError):
    """Downloaded bytes do not match the checksum recorded in the manifest (after a retry)."""

    def __init__(self, dataset_id: str, key: str, detail: str) -> None:
        self.dataset_id = dataset_id
        self.key = key
        super().__init__(
            f"{dataset_id}: {key} is corrupt: {detail}",
            hint="the published data is damaged; ask the producer to re-publish",
        )


class StoreUnavailable(OpenDataError, ConnectionError):
    """The object store could not be reached or kept failing after its retries."""

    def __init__(
        self, store: str, detail: str, *, hint: str | None = None, reason: str | None = None
    ) -> None:
        self.store = store
        self.reason = reason
        """``"timeout"``, ``"unreachable"``, ``"no-bucket"`` or ``None`` (other failures)."""
        super().__init__(
            f"store {store} unavailable: {detail}",
            hint=hint or "check the endpoint and your network, then try again",
        )


class ServiceUnavailable(StoreUnavailable):
    """The registry, or a service it needs (database, Redis, store), is briefly down (HTTP 503).

    A :class:`StoreUnavailable`, so code that retries a store outage retries this too. The
    message names the service, never its address (that goes to the registry's log).
    """

    def __init__(
        self, service: str, message: str | None = None, *, retry_after: float | None = None
    ) -> None:
        self.service = service
        self.retry_after = retry_after
        """Seconds to wait before trying again, when the registry said."""
        wait = f"in {retry_after:g} s" if retry_after is not None else "in a few seconds"
        super().__init__(service, "", hint=f"try again {wait}", reason="unavailable")
        self.message = shorten(message or f"{service} is unavailable", MESSAGE_CHARACTERS)
        self.args = (self.message,)


class Unauthenticated(PermissionDenied):
    """No valid API key or token was given (HTTP 401), or it was revoked or expired."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(
            message,
            hint=hint or "set OPENDATA_API_KEY to a valid key (keys are shown once when created)",
        )


class RateLimited(OpenDataError, ConnectionError):
    """The registry refused a request because a rate limit or quota was reached (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        """Seconds to wait before trying again, when the registry said."""
        super().__init__(
            message,
            hint=(
                f"wait {retry_after:g} s and try again"
                if retry_after is not None
                else "wait a minute and try again"
            )
            + ", or use an API key of a higher tier (OPENDATA_API_KEY)",
        )
