"""Run records posted by producers (failures too), with provenance from the publish token."""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Final, Protocol

from opendata_core.api import RunPost, RunSummary
from opendata_core.documents import RunRecord, encode_document
from opendata_core.errors import FormatError, OpenDataError, shorten
from opendata_core.ids import DatasetId
from opendata_registry.db.engine import SessionMaker
from opendata_registry.domain.catalogue.sync import run_summary, sync_dataset
from opendata_registry.domain.publishing.policy import PublishPolicy
from opendata_registry.infra.identity import Publisher
from opendata_registry.infra.store import RegistryStore

__all__ = ["RUN_ID_RE", "RunParts", "derived_run_id", "record_run"]

RUN_ID_RE: Final = re.compile(r"[a-z0-9]{1,32}")
"""A run id: what a producer may send, and what :func:`derived_run_id` makes."""


class RunParts(Protocol):
    """What a run record uses of the running registry."""

    @property
    def store(self) -> RegistryStore: ...  # noqa: D102
    @property
    def sessions(self) -> SessionMaker: ...  # noqa: D102


async def record_run(
    parts: RunParts, policy: PublishPolicy, publisher: Publisher, dataset_id: str, run: RunPost
) -> RunSummary:
    """Write a run record (failures too) with provenance from the token; update health."""
    ds = DatasetId.parse(dataset_id)
    await policy.authorize(publisher, ds, repo=None)
    await policy.limit(ds)
    run_id = run.run_id or derived_run_id(f"{publisher.subject} {run.started_at.isoformat()}")
    if not RUN_ID_RE.fullmatch(run_id):
        raise FormatError(
            f"run_id = {shorten(run_id)!r} must be 1-32 lower-case letters or digits",
            document="run",
            field="run_id",
        )
    if run.finished_at < run.started_at:
        raise FormatError("finished_at is before started_at", document="run", field="finished_at")
    if run.status == "failure" and run.error_class is None:
        raise FormatError(
            "a failed run needs an error_class (network, parse, validation, upload, "
            "permission or unknown)",
            document="run",
            field="error_class",
        )
    record = RunRecord(
        dataset_id=str(ds),
        run_id=run_id,
        status=run.status,
        error_class=run.error_class if run.status == "failure" else None,
        message=shorten(run.message, 2000) if run.message else None,
        started_at=run.started_at,
        finished_at=run.finished_at,
        stats=run.stats,
        publish_id=run.publish_id,
        schema_changed=run.schema_changed,
        unchanged=run.unchanged,
        provenance=publisher.provenance(),
    )
    key = parts.store.layout.run_record(ds, run.started_at, run_id)
    await parts.store.put(key, encode_document(record))
    with contextlib.suppress(OpenDataError):
        await sync_dataset(parts.sessions, parts.store, str(ds))
    return run_summary(record)


def derived_run_id(seed: str) -> str:
    """A run id (``[a-z0-9]{16}``) derived from ``seed``."""
    return hashlib.sha256(seed.encode()).hexdigest()[:16]
