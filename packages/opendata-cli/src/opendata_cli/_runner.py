"""Run a producer's ``main.py`` and publish what it returns (``od run``, ``od demo``).

One run, in order (any failure stops it, and nothing is published):

1. load ``opendata.yaml`` from the dataset folder;
2. open the store and read the last publish (for schema drift), unless ``dry_run``;
3. import ``main.py`` by file path and call ``main()`` inside the folder;
4. take what it returned: a pandas or polars DataFrame, a pyarrow Table, a list of them, or a
   stream the push reads batch by batch (a polars LazyFrame, a pyarrow RecordBatchReader or
   dataset, a generator of frames); ``None`` when ``main()`` called ``od.push`` itself;
5. check it: rows, the time column, the primary key, schema drift;
6. push it with the metadata and provenance, and write a run record, for a success *and* for a
   failure (not with ``dry_run``).

Every failure is classified (``network``, ``parse``, ``validation``, ``upload``, ``permission``,
``unknown``) and gets an exit code (``opendata_cli._exit``): 1 when the producer failed
(``main.py`` raised or returned bad data), 3 when publishing failed. :func:`run_producer` never
raises for those: it returns a :class:`RunOutcome`, which the commands print.

The run's parts live in their own modules: ``_outcome`` (RunOutcome), ``_failures``
(classification), ``_producer`` (folder, opendata.yaml, main.py, what main() returns) and
``_github`` (the ``GITHUB_*`` environment, annotations, job summary). ``OPENDATA_SOURCE_URL`` is
set by ``od demo`` for the producers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from opendata_cli._failures import _describe, _first_line, _producer_failure, classify
from opendata_cli._github import _CI, _ci, github_report, step_summary
from opendata_cli._outcome import EXIT_PUBLISH, RunOutcome, _Failure
from opendata_cli._producer import _collect, _env, _folder, _import_main, _inside, _load_metadata

if TYPE_CHECKING:
    from opendata import Client, PushResult
    from opendata_core.documents import Manifest, Provenance, RunRecord
    from opendata_core.metadata import DatasetMetadata

__all__ = [
    "SOURCE_URL_ENV",
    "RunOutcome",
    "classify",
    "debug_enabled",
    "github_report",
    "run_producer",
    "step_summary",
]

SOURCE_URL_ENV: Final = "OPENDATA_SOURCE_URL"
"""Replaces the real source's base URL in the example producers (``od demo``, tests)."""


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


def run_producer(
    path: str | os.PathLike[str] = ".",
    *,
    dry_run: bool = False,
    store: str | None = None,
    quiet_stdout: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    allow_schema_change: bool = False,
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
        allow_schema_change: Publish even when the schema differs from the last publish (else
            such a run fails with ``validation``).

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
        _produce_and_publish(
            outcome, meta, client, previous, provenance, quiet_stdout, allow_schema_change
        )
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
        outcome.store = client.store_url
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
            hint=getattr(exc, "hint", None) or _store_hint(store),
            exit_code=EXIT_PUBLISH,
            cause=exc,
        ) from None
    return client, previous


def _store_hint(store: str | None) -> str:
    """What to check when the store could not be opened: the setting that chose it."""
    import opendata

    settings = opendata.settings(config_file=False)
    if store is None and not settings.store_env and settings.registry:
        return f"check OPENDATA_REGISTRY ({settings.registry}) and that the registry is up"
    return "check OPENDATA_STORE and, for a bucket, the AWS_* settings"


def _produce_and_publish(
    outcome: RunOutcome,
    meta: DatasetMetadata,
    client: Client | None,
    previous: Manifest | None,
    provenance: Provenance,
    quiet_stdout: bool,
    allow_schema_change: bool = False,
) -> None:
    from opendata import Client
    from opendata_core.documents import diff_schemas

    folder = outcome.folder
    with contextlib.ExitStack() as outer:
        scratch: str | None = None
        if outcome.dry_run:
            # A main() that pushes by itself must not publish during a dry run.
            scratch = outer.enter_context(tempfile.TemporaryDirectory(prefix="od-dry-run-"))

        def producing() -> contextlib.ExitStack:
            """How the producer's code runs: main(), and later the stream it returned."""
            stack = contextlib.ExitStack()
            if scratch is not None:
                stack.enter_context(_env(OPENDATA_STORE=scratch))
            if quiet_stdout:
                stack.enter_context(contextlib.redirect_stdout(sys.stderr))
            stack.enter_context(_inside(folder))
            return stack

        with producing():
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
            data = _collect(value, folder, producing)
            outcome.main_seconds = time.perf_counter() - started
            if data is None:
                _self_published(outcome, client, before, scratch)
                return
        if client is None:  # a dry run that could not open the store: check against an empty one
            client = Client(outer.enter_context(tempfile.TemporaryDirectory(prefix="od-dry-run-")))
        result = _push(
            client,
            data,
            meta,
            provenance,
            dry_run=outcome.dry_run,
            allow_schema_change=allow_schema_change,
        )
    outcome.rows = result.rows
    outcome.columns = [f.name for f in result.schema]
    outcome.schema_hash = result.schema_hash
    outcome.min_time, outcome.max_time = result.min_time, result.max_time
    drift = None
    if previous is not None and previous.schema_hash != result.schema_hash:
        drift = str(diff_schemas(previous.schema, result.schema))
    if outcome.dry_run:
        if drift:
            outcome.schema_changed = True
            outcome.warnings.append(f"the schema differs from the last publish: {drift}")
        return
    outcome.result = result
    outcome.warnings.extend(result.warnings)  # steps after the commit: the publish stands
    outcome.publish_id = result.publish_id
    outcome.stats = result.stats
    outcome.schema_changed = result.schema_changed
    if result.schema_changed:
        outcome.warnings.append(
            f"the schema changed since the last publish: {drift or 'see the manifest'}"
        )


def _push(
    client: Client,
    data: Any,
    meta: DatasetMetadata,
    provenance: Provenance,
    *,
    dry_run: bool,
    allow_schema_change: bool = False,
) -> PushResult:
    """``client.push`` (converts and checks, then publishes), its failures classified."""
    from opendata import ColumnNotFound, InvalidData, SchemaMismatch
    from opendata_core.metadata import MetadataWarning

    try:
        with warnings.catch_warnings(), _quiet_log("opendata"):
            warnings.simplefilter("ignore", MetadataWarning)  # reported when the yaml was read
            # Failures after the commit come back in result.warnings (printed once, below).
            return client.push(
                data,
                meta.id,
                metadata=meta,
                provenance=provenance,
                dry_run=dry_run,
                allow_schema_change=allow_schema_change,
            )
    except _Failure:  # what main() returned failed while the push read it (a stream)
        raise
    except (InvalidData, ColumnNotFound) as exc:  # the checks every publish passes
        raise _Failure("validation", exc.message, hint=exc.hint, cause=exc) from None
    except SchemaMismatch as exc:  # the schema-drift gate (or an append that does not fit)
        hint = exc.hint or "if the change is intended: od run --allow-schema-change"
        raise _Failure("validation", exc.message, hint=hint, cause=exc) from None
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
    try:
        outcome.record_key = client.record_run(_record(outcome, provenance))
    except Exception as exc:
        outcome.warnings.append(f"could not write the run record: {_first_line(str(exc))}")


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


def debug_enabled() -> bool:
    """``OPENDATA_DEBUG=1``: show tracebacks (read by the client's settings, the one place)."""
    from opendata import settings

    return settings(config_file=False).debug
