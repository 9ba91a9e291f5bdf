"""Run a producer's ``main.py`` and publish what it returns (``od run``, ``od demo``).

One run, in order (any failure stops it, and nothing is published):

1. load ``opendata.yaml`` from the dataset folder;
2. open the store and read the last publish (for schema drift), unless ``dry_run``;
3. import ``main.py`` by file path and call ``main()`` inside the folder;
4. turn what it returned into one Arrow table (a pandas or polars DataFrame, a pyarrow Table, or
   an iterable of them; ``None`` when ``main()`` called ``od.push`` itself);
5. check it: rows, the time column, the primary key, schema drift;
6. push it with the metadata and provenance, and write a run record, for a success *and* for a
   failure (not with ``dry_run``).

Every failure is classified (``network``, ``parse``, ``validation``, ``upload``, ``permission``,
``unknown``) and gets an exit code (``opendata_cli._exit``): 1 when the producer failed
(``main.py`` raised or returned bad data), 3 when publishing failed. :func:`run_producer` never
raises for those: it returns a :class:`RunOutcome`, which the commands print.

Environment variables read here (and only here, in the CLI): ``OPENDATA_SOURCE_URL`` is set by
``od demo`` for the producers, the ``GITHUB_*`` variables of GitHub Actions give the provenance,
the annotations and the job summary.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.util
import inspect
import io
import os
import re
import secrets
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal

from opendata_cli._exit import ExitCode, for_exception

if TYPE_CHECKING:
    import pyarrow as pa

    from opendata import Client, PushResult
    from opendata_core.documents import ErrorClass, Field, Manifest, Provenance, RunRecord, Stats
    from opendata_core.metadata import DatasetMetadata

__all__ = [
    "SOURCE_URL_ENV",
    "RunOutcome",
    "github_report",
    "run_producer",
]

SOURCE_URL_ENV: Final = "OPENDATA_SOURCE_URL"
"""Replaces the real source's base URL in the example producers (``od demo``, tests)."""

EXIT_OK: Final = int(ExitCode.OK)
EXIT_PRODUCER: Final = int(ExitCode.FAILED)
"""``main.py`` failed, returned bad data, or a check failed."""
EXIT_PUBLISH: Final = int(ExitCode.STORE)
"""The store refused or failed the publish."""

_RUN_ID_RE: Final = re.compile(r"[a-z0-9]{1,32}")
_MESSAGE_MAX: Final = 500

_HINTS: Final[dict[str, str]] = {
    "network": "the source did not answer as expected; nothing was published. Try again later, "
    "or set OPENDATA_DEBUG=1 for the traceback",
    "parse": "main.py could not read what the source sent (did its format change?); nothing was "
    "published. Set OPENDATA_DEBUG=1 for the traceback",
    "unknown": "fix main.py and run it again (OPENDATA_DEBUG=1 shows the traceback); nothing was "
    "published",
}


# ---------------------------------------------------------------------------------------------
# The outcome


@dataclass
class RunOutcome:
    """What one run did: printed by ``od run``/``od demo`` and recorded in the run record."""

    folder: Path
    dry_run: bool
    started_at: datetime
    run_id: str
    dataset_id: str | None = None
    status: Literal["success", "failure"] = "success"
    error_class: ErrorClass | None = None
    message: str | None = None
    hint: str | None = None
    exit_code: int = EXIT_OK
    finished_at: datetime | None = None
    main_seconds: float | None = None
    rows: int | None = None
    columns: list[str] = field(default_factory=list)
    min_time: str | None = None
    max_time: str | None = None
    schema_hash: str | None = None
    schema_changed: bool = False
    result: PushResult | None = None
    publish_id: str | None = None
    stats: Stats | None = None
    self_published: bool = False
    store: str | None = None
    record_key: str | None = None
    warnings: list[str] = field(default_factory=list)
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "success"

    @property
    def coverage(self) -> str | None:
        """``min .. max`` of the time column, if there is one."""
        if self.min_time is None or self.max_time is None:
            return None
        return f"{self.min_time} .. {self.max_time}"

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready data (``--json``)."""
        r = self.result
        return {
            "dataset_id": self.dataset_id,
            "path": str(self.folder),
            "status": self.status,
            "dry_run": self.dry_run,
            "published": r is not None or self.self_published,
            "exit_code": self.exit_code,
            "error_class": self.error_class,
            "message": self.message,
            "hint": self.hint,
            "run_id": self.run_id,
            "started_at": _iso_z(self.started_at),
            "finished_at": _iso_z(self.finished_at) if self.finished_at else None,
            "main_seconds": round(self.main_seconds, 3) if self.main_seconds is not None else None,
            "rows": self.rows,
            "columns": self.columns,
            "min_time": self.min_time,
            "max_time": self.max_time,
            "bytes": self.stats.bytes if self.stats else None,
            "schema_hash": self.schema_hash,
            "schema_changed": self.schema_changed,
            "unchanged": r is not None and r.unchanged,
            "publish_id": self.publish_id,
            "shards_written": r.shards_written if r else None,
            "shards_reused": r.shards_reused if r else None,
            "store": self.store,
            "run_record": self.record_key,
            "warnings": self.warnings,
        }


class _Failure(Exception):
    """Internal: stops a run with a classified, one-line message."""

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        hint: str | None = None,
        exit_code: int = EXIT_PRODUCER,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class: ErrorClass = error_class
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
        self.cause = cause


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Environment (GitHub Actions)


@dataclass(frozen=True)
class _CI:
    github_actions: bool
    sha: str | None
    run_url: str | None
    run_id: str | None
    step_summary: str | None


def _ci() -> _CI:
    env = os.environ
    server, repository, run = (
        env.get("GITHUB_SERVER_URL"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    run_url = (
        f"{server.rstrip('/')}/{repository}/actions/runs/{run}"
        if server and repository and run
        else None
    )
    run_id = None
    if run:
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        run_id = run if attempt in ("", "1") else f"{run}a{attempt}"
        if not _RUN_ID_RE.fullmatch(run_id):
            run_id = None
    return _CI(
        github_actions=env.get("GITHUB_ACTIONS") == "true",
        sha=env.get("GITHUB_SHA") or None,
        run_url=run_url,
        run_id=run_id,
        step_summary=env.get("GITHUB_STEP_SUMMARY") or None,
    )


# ---------------------------------------------------------------------------------------------
# Classifying failures


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

    Store failures (``StoreUnavailable``, ``ConflictError``, ``CorruptDataError``) are ``upload``
    and ``PermissionDenied`` is ``permission`` (exit 3); an HTTP or connection error is
    ``network``, a ``ValueError``/``KeyError`` (pandas' parser errors included) is ``parse``
    (exit 1). The exception's causes are consulted when the exception itself says nothing.

    Example:
        >>> classify(KeyError("Date"))
        ('parse', 1)
    """
    from opendata_core.errors import OpenDataError, PermissionDenied

    for e in _chain(exc):
        if for_exception(e) is ExitCode.STORE:
            return ("permission" if isinstance(e, PermissionDenied) else "upload"), EXIT_PUBLISH
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


# ---------------------------------------------------------------------------------------------
# Steps


def _folder(path: Path) -> Path:
    path = path.expanduser()
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        path = path.parent
    return path.resolve()


def _load_metadata(folder: Path, outcome: RunOutcome) -> DatasetMetadata:
    from opendata_core.errors import MetadataError
    from opendata_core.metadata import load_metadata

    yaml_path = folder / "opendata.yaml"
    if not yaml_path.is_file():
        hint = (
            f"{folder} does not exist"
            if not folder.is_dir()
            else "run `od init` to create one, or pass the dataset's folder: od run PATH"
        )
        raise _Failure("validation", f"no opendata.yaml in {folder}", hint=hint)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta = load_metadata(yaml_path)
        except MetadataError as exc:
            raise _Failure(
                "validation",
                str(exc),
                hint="`od validate` lists every problem",
                cause=exc,
            ) from None
    outcome.warnings.extend(str(w.message) for w in caught)
    return meta


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Run producer code the way ``python main.py`` would: from its folder, importable siblings."""
    previous = Path.cwd()
    loaded = set(sys.modules)
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))
        # Forget the producer's own modules (helpers.py, ...): the next producer run in this
        # process (od demo) may have a different module of the same name.
        for name in set(sys.modules) - loaded:
            file = getattr(sys.modules[name], "__file__", None)
            if file and Path(file).resolve().is_relative_to(folder):
                del sys.modules[name]


def _import_main(folder: Path) -> Callable[[], Any]:
    path = folder / "main.py"
    if not path.is_file():
        raise _Failure(
            "validation",
            f"no main.py in {folder}",
            hint="create it with a main() that returns a DataFrame (`od init` writes an example)",
        )
    name = "_opendata_producer_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise _Failure("unknown", f"cannot import {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise _Failure(
            "unknown",
            f"main.py:{exc.lineno}: SyntaxError: {exc.msg}",
            hint="fix the syntax error (`python main.py` shows it too)",
            cause=exc,
        ) from None
    except ModuleNotFoundError as exc:
        missing = exc.name or "a module"
        raise _Failure(
            "unknown",
            f"main.py imports {missing!r}, which is not installed",
            hint=f"pip install {missing.split('.')[0]} (and list it in requirements.txt)",
            cause=exc,
        ) from None
    except Exception as exc:
        raise _producer_failure(exc, folder, "main.py") from None
    finally:
        sys.modules.pop(name, None)
    func = getattr(module, "main", None)
    if not callable(func):
        raise _Failure(
            "validation",
            "main.py does not define main()",
            hint="add `def main():` that downloads the data and returns a DataFrame",
        )
    try:
        required = [
            p.name
            for p in inspect.signature(func).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        required = []
    if required:
        raise _Failure(
            "validation",
            f"main() must take no arguments, but it needs {', '.join(required)}",
            hint="give the parameters defaults, or read settings from the environment",
        )
    return func  # type: ignore[no-any-return]


def _is_frame(value: object) -> bool:
    module = type(value).__module__.split(".")[0]
    if module in ("pandas", "polars"):
        return hasattr(value, "columns")
    if module == "pyarrow":
        return type(value).__name__ in ("Table", "RecordBatch")
    return hasattr(value, "__arrow_c_stream__")


def _frame_to_table(value: Any) -> pa.Table:
    import pyarrow as pa

    module = type(value).__module__.split(".")[0]
    try:
        if module == "pandas":
            import pandas as pd

            frame = value
            if not isinstance(frame.index, pd.RangeIndex) and any(
                n is not None for n in frame.index.names
            ):
                # A named index (often the date after set_index) is data: keep it as columns.
                frame = frame.reset_index()
            return pa.Table.from_pandas(frame, preserve_index=False)
        if module == "polars":
            if hasattr(value, "collect") and not hasattr(value, "to_arrow"):
                value = value.collect()  # a LazyFrame
            return value.to_arrow()
        if isinstance(value, pa.RecordBatch):
            return pa.Table.from_batches([value])
        if isinstance(value, pa.Table):
            return value
        return pa.table(value)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise _Failure(
            "validation",
            f"what main() returned cannot be stored: {_first_line(str(exc))}",
            hint="give every column one type, e.g. df['x'] = pd.to_numeric(df['x'])",
            cause=exc,
        ) from None


def _what(value: object) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")


def _to_table(value: Any, folder: Path) -> pa.Table | None:
    """One table from what ``main()`` returned; ``None`` stays ``None``."""
    import pyarrow as pa

    if value is None:
        return None
    if _is_frame(value):
        return _frame_to_table(value)
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise _Failure(
            "validation",
            f"main() returned a {_what(value)}",
            hint="return a pandas or polars DataFrame, a pyarrow Table, or a list or generator "
            "of them",
        )
    tables: list[pa.Table] = []
    iterator = iter(value)
    while True:
        try:
            piece = next(iterator)
        except StopIteration:
            break
        except Exception as exc:  # raised by the producer's generator: a producer failure
            raise _producer_failure(exc, folder) from None
        if not _is_frame(piece):
            raise _Failure(
                "validation",
                f"main() returned an iterable whose item {len(tables) + 1} is a {_what(piece)}",
                hint="yield pandas or polars DataFrames or pyarrow Tables",
            )
        tables.append(_frame_to_table(piece))
    if not tables:
        return pa.table({})  # an empty iterable: 0 rows, reported by the checks
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _Failure(
            "validation",
            f"the {len(tables)} tables main() returned do not share one schema: "
            f"{_first_line(str(exc))}",
            hint="make every piece have the same columns and types",
            cause=exc,
        ) from None


def _value_text(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return repr(value)


def _check(table: pa.Table, meta: DatasetMetadata) -> None:
    """The checks that keep bad data out of a publish; each failure is one line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = table.column_names
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise _Failure(
            "validation",
            f"main() returned duplicate column name(s): {', '.join(duplicated)}",
            hint="give every column a distinct name",
        )
    if table.num_rows == 0:
        raise _Failure(
            "validation",
            "main() returned 0 rows; nothing was published",
            hint="check what the source sent (`python main.py` prints the table)",
        )
    tc = meta.time_column
    if tc is not None:
        if tc not in names:
            close = difflib.get_close_matches(tc, names, n=1)
            raise _Failure(
                "validation",
                f"the time column {tc!r} (time_column in opendata.yaml) is not in the data; "
                f"the columns are: {', '.join(names)}",
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + "name the column in main.py as in opendata.yaml, or fix time_column",
            )
        ttype = table.schema.field(tc).type
        if not (pa.types.is_date(ttype) or pa.types.is_timestamp(ttype)):
            raise _Failure(
                "validation",
                f"the time column {tc!r} has type {ttype}, not a date or timestamp",
                hint=f"convert it in main.py, e.g. df[{tc!r}] = pd.to_datetime(df[{tc!r}])",
            )
        nulls = table.column(tc).null_count
        if nulls:
            raise _Failure(
                "validation",
                f"the time column {tc!r} has {nulls:,} empty value(s)",
                hint="drop or fix those rows in main.py",
            )
    keys = list(meta.primary_key)
    if keys:
        missing = [k for k in keys if k not in names]
        if missing:
            raise _Failure(
                "validation",
                f"primary_key column(s) {', '.join(map(repr, missing))} from opendata.yaml are not "
                f"in the data; the columns are: {', '.join(names)}",
                hint="return those columns from main(), or fix primary_key in opendata.yaml",
            )
        for k in keys:
            if table.column(k).null_count:
                raise _Failure(
                    "validation",
                    f"primary key column {k!r} has {table.column(k).null_count:,} empty value(s)",
                    hint="every row needs a complete key: drop or fix those rows in main.py",
                )
        counts = table.select(keys).group_by(keys, use_threads=False).aggregate([([], "count_all")])
        dups = counts.filter(pc.greater(counts.column("count_all"), 1))
        if dups.num_rows:
            extra = pc.sum(dups.column("count_all")).as_py() - dups.num_rows
            first = dups.slice(0, 1).to_pylist()[0]
            example = ", ".join(f"{k}={_value_text(first[k])}" for k in keys)
            label = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
            raise _Failure(
                "validation",
                f"primary key {label} is not unique: {extra:,} duplicate row(s) over "
                f"{dups.num_rows:,} key(s), e.g. {example} appears {first['count_all']} times",
                hint="drop the duplicates in main.py (e.g. df.drop_duplicates(...)), or fix "
                "primary_key in opendata.yaml",
            )


def _schema_diff(old: list[Field], new: list[Field]) -> str:
    before = {f.name: f.type for f in old}
    after = {f.name: f.type for f in new}
    parts = []
    if added := [n for n in after if n not in before]:
        parts.append("added " + ", ".join(added))
    if removed := [n for n in before if n not in after]:
        parts.append("removed " + ", ".join(removed))
    if retyped := [
        f"{n} {before[n]} → {after[n]}" for n in after if n in before and before[n] != after[n]
    ]:
        parts.append("retyped " + ", ".join(retyped))
    if not parts:
        parts.append("columns re-ordered or nullability changed")
    return "; ".join(parts)


def _last_publish(client: Client, dataset_id: str) -> Manifest | None:
    from opendata_core.errors import DatasetNotFound

    try:
        manifest = client.manifest(dataset_id)
    except DatasetNotFound:
        return None
    return manifest


@contextlib.contextmanager
def _quiet_log(name: str) -> Iterator[None]:
    """Keep a library logger's records from reaching stderr (Python's last-resort handler)."""
    import logging

    logger = logging.getLogger(name)
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextlib.contextmanager
def _env(**values: str | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---------------------------------------------------------------------------------------------
# The run


def run_producer(
    path: str | os.PathLike[str] = ".",
    *,
    dry_run: bool = False,
    store: str | None = None,
    quiet_stdout: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> RunOutcome:
    """Run ``main.py`` in ``path`` and publish what ``main()`` returns.

    Args:
        path: The dataset folder (or its ``opendata.yaml``).
        dry_run: Run and check, but publish nothing and write no run record. A ``main()`` that
            calls ``od.push`` itself publishes into a throw-away store.
        store: The store to publish to (default: ``OPENDATA_STORE``, else the local store).
        quiet_stdout: Send what the producer prints to stderr (keeps ``--json`` output clean).
        progress: Called as ``progress(phase, done, total)`` while the store transfers data
            (``od run`` draws a progress bar with it).

    Returns:
        The outcome; failures are in it (``status``, ``error_class``, ``exit_code``), never
        raised.

    Example:
        >>> outcome = run_producer("examples/iso-country-codes", dry_run=True)  # doctest: +SKIP
        >>> outcome.rows  # doctest: +SKIP
        249
    """
    ci = _ci()
    outcome = RunOutcome(
        folder=_folder(Path(path)),
        dry_run=dry_run,
        started_at=datetime.now(UTC),
        run_id=ci.run_id or secrets.token_hex(8),
    )
    client: Client | None = None
    provenance: Provenance | None = None
    try:
        meta = _load_metadata(outcome.folder, outcome)
        outcome.dataset_id = meta.id
        provenance = _provenance(meta, ci)
        client, previous = _open_store(outcome, store, progress)
        _produce_and_publish(outcome, meta, client, previous, provenance, quiet_stdout)
    except _Failure as failure:
        outcome.status = "failure"
        outcome.error_class = failure.error_class
        outcome.message = failure.message
        outcome.hint = failure.hint
        outcome.exit_code = failure.exit_code
        outcome.exception = failure.cause or failure
    outcome.finished_at = datetime.now(UTC)
    if not dry_run and outcome.dataset_id is not None:
        if client is not None:
            _write_record(client, outcome, provenance)
        else:
            _write_record_locally(outcome, provenance)
    return outcome


def _provenance(meta: DatasetMetadata, ci: _CI) -> Provenance:
    from opendata_core.documents import Provenance

    return Provenance(repo=meta.repo or None, commit=ci.sha, run_url=ci.run_url)


def _open_store(
    outcome: RunOutcome, store: str | None, progress: Callable[[str, int, int], None] | None
) -> tuple[Client | None, Manifest | None]:
    """The client and the last publish; in a dry run, problems here are only warnings."""
    from opendata import Client

    assert outcome.dataset_id is not None
    try:
        client = Client(store, progress=progress)
        outcome.store = client.store.url
        previous = _last_publish(client, outcome.dataset_id)
    except Exception as exc:
        if outcome.dry_run:
            outcome.warnings.append(
                f"could not read the last publish ({_describe(exc)}); schema drift not checked"
            )
            return None, None
        error_class, _ = classify(exc)
        if error_class not in ("upload", "permission"):
            error_class = "upload"
        raise _Failure(
            error_class,
            f"cannot open the store: {_first_line(str(exc))}",
            hint=getattr(exc, "hint", None) or "check OPENDATA_STORE and the AWS_* settings",
            exit_code=EXIT_PUBLISH,
            cause=exc,
        ) from None
    return client, previous


def _produce_and_publish(
    outcome: RunOutcome,
    meta: DatasetMetadata,
    client: Client | None,
    previous: Manifest | None,
    provenance: Provenance,
    quiet_stdout: bool,
) -> None:
    from opendata_core.documents import schema_hash
    from opendata_core.metadata import MetadataWarning

    folder = outcome.folder
    scratch: str | None = None
    with contextlib.ExitStack() as stack:
        if outcome.dry_run:
            # A main() that pushes by itself must not publish during a dry run.
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="od-dry-run-"))
            stack.enter_context(_env(OPENDATA_STORE=scratch))
        if quiet_stdout:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        stack.enter_context(_inside(folder))
        func = _import_main(folder)
        before = previous.publish_id if previous else None
        started = time.perf_counter()
        try:
            value = func()
        except (Exception, SystemExit) as exc:
            if isinstance(exc, SystemExit):
                exc = RuntimeError(f"main() called sys.exit({exc.code!r})").with_traceback(
                    exc.__traceback__
                )
            raise _producer_failure(exc, folder) from None
        table = _to_table(value, folder)
        outcome.main_seconds = time.perf_counter() - started
        if table is None:
            _self_published(outcome, client, before, scratch)
            return
    outcome.rows = table.num_rows
    outcome.columns = list(table.column_names)
    _check(table, meta)
    from opendata._arrow import min_max, schema_fields

    if meta.time_column in table.column_names:
        outcome.min_time, outcome.max_time = min_max(table.column(meta.time_column))
    fields = schema_fields(table.schema)
    outcome.schema_hash = schema_hash(fields)
    drift = None
    if previous is not None and previous.schema_hash != outcome.schema_hash:
        drift = _schema_diff(previous.schema, fields)
    if outcome.dry_run:
        if drift:
            outcome.schema_changed = True
            outcome.warnings.append(f"the schema differs from the last publish: {drift}")
        return
    assert client is not None
    try:
        with warnings.catch_warnings(), _quiet_log("opendata"):
            warnings.simplefilter("ignore", MetadataWarning)  # reported when the yaml was read
            # Failures after the commit come back in result.warnings (printed once, below).
            result = client.push(table, meta.id, metadata=meta, provenance=provenance)
    except Exception as exc:
        error_class, _ = classify(exc)
        if error_class not in ("upload", "permission"):
            error_class = "upload" if isinstance(exc, OSError) else "unknown"
        hint = getattr(exc, "hint", None) or "nothing was published; the last version is intact"
        raise _Failure(
            error_class,
            f"publishing failed: {_describe(exc)}",
            hint=hint,
            exit_code=EXIT_PUBLISH,
            cause=exc,
        ) from None
    outcome.result = result
    outcome.warnings.extend(result.warnings)  # steps after the commit: the publish stands
    outcome.publish_id = result.publish_id
    outcome.schema_hash = result.schema_hash
    outcome.min_time, outcome.max_time = result.min_time, result.max_time
    outcome.stats = result.stats
    outcome.schema_changed = result.schema_changed
    if result.schema_changed:
        outcome.warnings.append(
            f"the schema changed since the last publish: {drift or 'see the manifest'}"
        )


def _self_published(
    outcome: RunOutcome, client: Client | None, before: str | None, scratch: str | None
) -> None:
    """``main()`` returned ``None``: it must have published by itself (``od.push``)."""
    from opendata import Client

    assert outcome.dataset_id is not None
    target = client
    if scratch is not None:
        target, before = Client(scratch), None
    manifest = _last_publish(target, outcome.dataset_id) if target is not None else None
    if manifest is None or manifest.publish_id == before:
        raise _Failure(
            "validation",
            "main() returned None and published nothing",
            hint="return the DataFrame from main() (od run publishes it), or call "
            "od.push(df, ...) inside main()",
        )
    outcome.self_published = not outcome.dry_run
    outcome.rows = manifest.row_count
    outcome.columns = [f.name for f in manifest.schema]
    outcome.min_time, outcome.max_time = manifest.min_time, manifest.max_time
    outcome.schema_hash = manifest.schema_hash
    if not outcome.dry_run:
        outcome.stats = manifest.stats()
        outcome.publish_id = manifest.publish_id
    else:
        outcome.warnings.append(
            "main() called od.push itself; the dry run sent it to a scratch store"
        )


def _write_record_locally(outcome: RunOutcome, provenance: Provenance | None) -> None:
    """The store could not be opened: keep the run record in the dataset folder, and show it.

    It goes to ``.opendata/`` in the folder (the store's layout) and, in GitHub Actions, into a
    warning annotation (the run's page is where a failed CI run is read).
    """
    from opendata import LocalStore
    from opendata_core.documents import encode_document
    from opendata_core.ids import DatasetId
    from opendata_core.layout import Layout

    assert outcome.dataset_id is not None
    record = encode_document(_record(outcome, provenance))
    key = Layout().run_record(
        DatasetId.parse(outcome.dataset_id), outcome.started_at, outcome.run_id
    )
    local = LocalStore(outcome.folder / ".opendata")
    try:
        local.put(key, record)
    except Exception as exc:
        outcome.warnings.append(f"could not write the run record: {_first_line(str(exc))}")
        return
    outcome.record_key = str(local.local_path(key))
    outcome.warnings.append(
        f"the store could not be opened, so the run record was kept in {outcome.record_key}: "
        + record.decode()
    )


def _write_record(client: Client, outcome: RunOutcome, provenance: Provenance | None) -> None:
    from opendata_core.documents import encode_document
    from opendata_core.ids import DatasetId

    assert outcome.dataset_id is not None
    record = _record(outcome, provenance)
    ds = DatasetId.parse(outcome.dataset_id)
    key = client.layout.run_record(ds, outcome.started_at, outcome.run_id)
    try:
        client.store.put(key, encode_document(record))
    except Exception as exc:
        outcome.warnings.append(f"could not write the run record: {_first_line(str(exc))}")
        return
    outcome.record_key = key


def _record(outcome: RunOutcome, provenance: Provenance | None) -> RunRecord:
    from opendata_core.documents import Provenance, RunRecord

    assert outcome.dataset_id is not None
    assert outcome.finished_at is not None
    return RunRecord(
        dataset_id=outcome.dataset_id,
        run_id=outcome.run_id,
        status=outcome.status,
        error_class=outcome.error_class,
        message=outcome.message,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        stats=outcome.stats,
        publish_id=outcome.publish_id,
        schema_changed=outcome.schema_changed,
        unchanged=outcome.result is not None and outcome.result.unchanged,
        provenance=provenance or Provenance(),
    )


# ---------------------------------------------------------------------------------------------
# GitHub Actions


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_report(outcome: RunOutcome, echo: Callable[[str], None]) -> None:
    """In GitHub Actions: annotations through ``echo`` and a Markdown job summary.

    Does nothing outside GitHub Actions (``GITHUB_ACTIONS`` is not ``true``).
    """
    ci = _ci()
    if not ci.github_actions:
        return
    name = outcome.dataset_id or str(outcome.folder)
    for w in outcome.warnings:
        echo(f"::warning title={_escape_property('od run: ' + name)}::{_escape_data(w)}")
    if outcome.ok:
        title = f"{'Checked' if outcome.dry_run else 'Published'} {name}"
        body = f"{outcome.rows or 0:,} rows" + (f", {outcome.coverage}" if outcome.coverage else "")
        echo(f"::notice title={_escape_property(title)}::{_escape_data(body)}")
    else:
        title = f"od run failed ({outcome.error_class}): {name}"
        body = outcome.message or "failed"
        if outcome.hint:
            body += f"\n{outcome.hint}"
        echo(f"::error title={_escape_property(title)}::{_escape_data(body)}")
    if ci.step_summary:
        try:
            with open(ci.step_summary, "a", encoding="utf-8") as fh:
                fh.write(step_summary(outcome))
        except OSError as exc:
            echo(f"::warning::could not write the job summary: {_escape_data(str(exc))}")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def step_summary(outcome: RunOutcome) -> str:
    """The Markdown block appended to ``$GITHUB_STEP_SUMMARY``."""
    name = outcome.dataset_id or str(outcome.folder)
    out = io.StringIO()
    if outcome.ok:
        verb = "Dry run of" if outcome.dry_run else "Published"
        out.write(f"### ✅ {verb} `{name}`\n\n| | |\n|---|---|\n")
        rows: list[tuple[str, str]] = [("rows", f"{outcome.rows or 0:,}")]
        if outcome.stats is not None:
            rows.append(("bytes", f"{outcome.stats.bytes:,}"))
        rows.append(("coverage", outcome.coverage or "—"))
        if outcome.schema_hash:
            rows.append(("schema hash", f"`{outcome.schema_hash[:16]}`"))
        rows.append(("schema changed", "**yes**" if outcome.schema_changed else "no"))
        if outcome.result is not None:
            rows.append(("shards written", str(outcome.result.shards_written)))
            rows.append(("shards reused", str(outcome.result.shards_reused)))
            rows.append(("publish id", f"`{outcome.result.publish_id}`"))
        if outcome.main_seconds is not None:
            rows.append(("main() took", f"{outcome.main_seconds:.1f} s"))
        for k, v in rows:
            out.write(f"| {k} | {_md(v)} |\n")
    else:
        out.write(f"### ❌ `{name}`: failed ({outcome.error_class})\n\n")
        out.write(f"{_md(outcome.message or '')}\n\n")
        if outcome.hint:
            out.write(f"*{_md(outcome.hint)}*\n\n")
        out.write("Nothing was published; the last version stays as it was.\n")
    for w in outcome.warnings:
        out.write(f"\n> ⚠️ {_md(w)}\n")
    out.write("\n")
    return out.getvalue()


def debug_enabled() -> bool:
    """``OPENDATA_DEBUG=1``: show tracebacks."""
    return os.environ.get("OPENDATA_DEBUG") == "1"
