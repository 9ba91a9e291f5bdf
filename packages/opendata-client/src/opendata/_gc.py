"""Garbage collection: delete shards no manifest references, after a grace period."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from opendata._read import Reader
from opendata._results import GcResult
from opendata_core.ids import DatasetId

__all__ = ["collect"]


def collect(reader: Reader, ds: DatasetId, *, older_than: timedelta, dry_run: bool) -> GcResult:
    """Delete (or with ``dry_run`` list) what :meth:`opendata.Client.gc` documents."""
    manifest, _ = reader.manifest(ds)
    now = datetime.now(UTC)
    referenced = {reader.layout.resolve(ds, s.path) for s in manifest.shards}
    manifest_old = now - manifest.published_at >= older_than
    unlisted = (
        (obj, manifest_old)
        for obj in reader.store.list(reader.layout.parts_prefix(ds))
        if obj.key not in referenced
    )
    # Temporaries of killed writes: no reader ever sees them; a live write is younger.
    leftovers = ((obj, True) for obj in reader.store.temporaries(reader.layout.dataset_prefix(ds)))
    deleted, freed, kept = [], 0, 0
    for obj, collectable in itertools.chain(unlisted, leftovers):
        if not collectable or now - obj.last_modified < older_than:
            kept += 1
            continue
        if not dry_run:
            reader.store.delete(obj.key)
        deleted.append(obj.key)
        freed += obj.size
    return GcResult(str(ds), deleted, freed, kept)
