"""Garbage collection: delete what no kept version references, after a grace period (spec 8.3)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from opendata._read import Reader
from opendata._results import GcResult
from opendata._versions import read_history
from opendata_core.documents import Manifest
from opendata_core.ids import DatasetId
from opendata_core.versions import Version, retained_versions

__all__ = ["collect"]


def collect(reader: Reader, ds: DatasetId, *, older_than: timedelta, dry_run: bool) -> GcResult:
    """Delete (or with ``dry_run`` list) what :meth:`opendata.Client.gc` documents."""
    manifest, _ = reader.manifest(ds)
    now = datetime.now(UTC)
    history = read_history(reader, ds, manifest)
    kept = _kept(reader, ds, history.versions, now)
    kept_ids = {m.publish_id for m in kept}
    removed = [m.publish_id for m in history.versions if m.publish_id not in kept_ids]
    referenced = {reader.layout.resolve(ds, s.path) for m in kept for s in m.shards}
    # History entries go before shards, so a listed version always has its shards: first the
    # versions retention dropped (oldest first: the chain never gets a gap), at once.
    deleted: list[str] = []
    freed = 0
    for publish_id in removed:
        if (obj := history.entries.get(publish_id)) is not None:
            if not dry_run:
                reader.store.delete(obj.key)
            deleted.append(obj.key)
            freed += obj.size
    # Then, after the grace period: orphan entries of failed commits (a young one may belong to
    # a publish in flight), shards no kept version lists, and temporaries of killed writes.
    manifest_old = now - manifest.published_at >= older_than
    orphans = ((obj, True) for obj in history.orphans)
    unlisted = (
        (obj, manifest_old)
        for obj in reader.store.list(reader.layout.parts_prefix(ds))
        if obj.key not in referenced
    )
    leftovers = ((obj, True) for obj in reader.store.temporaries(reader.layout.dataset_prefix(ds)))
    in_grace = 0
    for obj, collectable in itertools.chain(orphans, unlisted, leftovers):
        if not collectable or now - obj.last_modified < older_than:
            in_grace += 1
            continue
        if not dry_run:
            reader.store.delete(obj.key)
        deleted.append(obj.key)
        freed += obj.size
    return GcResult(
        str(ds), deleted, freed, in_grace, versions_removed=removed, versions_kept=len(kept)
    )


def _kept(reader: Reader, ds: DatasetId, versions: list[Manifest], now: datetime) -> list[Manifest]:
    """The versions the dataset's retention keeps; all of them when it cannot be read."""
    try:
        doc = reader.metadata_or_none(ds)
    except Exception:  # unreadable metadata.json: drop nothing rather than guess
        doc = None
    if doc is None:
        return versions
    chain = [Version.of(m) for m in versions]
    keep = {v.publish_id for v in retained_versions(chain, doc.dataset.retention, now)}
    return [m for m in versions if m.publish_id in keep]
