"""Filling the catalogue from the bucket: every ``metadata.json``, ``manifest.json`` and run record.

Idempotent and safe while producers publish: one listing of ``datasets/`` gives every document's
ETag, only changed documents are read, each dataset is written in its own transaction, and a
document caught mid-publish (metadata older than the manifest) is corrected by the next sync.
Every distinct ``publish_id`` seen is recorded, so ``/history`` grows with each sync.
After a sync that changed anything, ``index.json`` is rewritten in the bucket for static readers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.api import PublishSummary, RunSummary
from opendata_core.documents import (
    Index,
    IndexEntry,
    Manifest,
    MetadataDocument,
    Provenance,
    RunRecord,
    decode_document,
    encode_document,
)
from opendata_core.errors import FormatError, InvalidDatasetId
from opendata_core.ids import DatasetId
from opendata_core.store import PreconditionFailed
from opendata_core.versions import publish_summary
from opendata_registry.db.engine import SessionMaker
from opendata_registry.db.models import Dataset, DatasetTag, Publish, Run, search_stems
from opendata_registry.domain.catalogue.services import build_index
from opendata_registry.infra.store import RegistryStore

__all__ = [
    "SyncReport",
    "sync_catalogue",
    "sync_dataset",
    "write_index",
]

log = logging.getLogger("opendata_registry.sync")

_DOCS = ("manifest.json", "metadata.json", "README.md")


@dataclass
class SyncReport:
    """What one sync did."""

    datasets: int = 0
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    publishes_added: int = 0
    runs_added: int = 0
    problems: list[str] = field(default_factory=list)
    """Documents that could not be read (skipped; the rest of the catalogue is still synced)."""
    index_written: bool = False

    @property
    def changed(self) -> bool:
        """Whether the catalogue changed."""
        return bool(self.updated or self.removed or self.publishes_added or self.runs_added)


@dataclass
class _Listing:
    etags: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    """Run record file name → its key."""


def _entry(doc: MetadataDocument, manifest: Manifest) -> IndexEntry:
    """The dataset's index entry: metadata, with stats from the manifest (the commit record)."""
    entry = IndexEntry.from_metadata(
        doc.dataset, manifest.stats(), max(doc.updated_at, manifest.published_at)
    )
    entry.time_column = manifest.time_column or entry.time_column
    return entry


async def _list(store: RegistryStore, prefix: str | None = None) -> dict[str, _Listing]:
    root = store.layout.datasets_root()
    found: dict[str, _Listing] = {}
    async for obj in store.list(prefix or root):
        parts = obj.key[len(root) :].split("/", 2)
        if len(parts) != 3:
            continue
        ns, name, rest = parts
        try:
            ds = DatasetId.parse(f"{ns}/{name}")
        except InvalidDatasetId:
            continue
        if f"{ds.namespace}/{ds.name}" != f"{ns}/{name}":
            continue  # not canonical: no key of ours looks like that
        entry = found.setdefault(str(ds), _Listing())
        if rest in _DOCS:
            entry.etags[rest] = obj.etag or f"{obj.size}-{obj.last_modified.isoformat()}"
        elif rest.startswith("runs/") and rest.endswith(".json") and rest.count("/") == 1:
            entry.runs[rest[5:]] = obj.key
    return found


def run_summary(record: RunRecord) -> RunSummary:
    """A run record as the API shows it."""
    return RunSummary(
        run_id=record.run_id,
        status=record.status,
        error_class=record.error_class,
        message=record.message,
        started_at=record.started_at,
        finished_at=record.finished_at,
        publish_id=record.publish_id,
        schema_changed=record.schema_changed,
        row_count=record.stats.row_count if record.stats else None,
        provenance=record.provenance,
    )


async def _sync_runs(
    session: AsyncSession,
    store: RegistryStore,
    ds: str,
    new_runs: dict[str, str],
    report: SyncReport,
) -> dict[str, RunSummary]:
    added: dict[str, RunSummary] = {}
    for name, key in sorted(new_runs.items()):
        got = await store.get_or_none(key)
        if got is None:
            continue
        try:
            record = decode_document(got[0], RunRecord, name=key)
        except FormatError as exc:
            report.problems.append(str(exc))
            continue
        summary = run_summary(record)
        session.add(
            Run(
                dataset_id=ds,
                key=name,
                status=record.status,
                publish_id=record.publish_id,
                started_at=record.started_at,
                finished_at=record.finished_at,
                summary_json=msgspec.json.encode(summary).decode(),
            )
        )
        added[name] = summary
        report.runs_added += 1
    return added


async def _record_publish(
    session: AsyncSession,
    ds: str,
    manifest: Manifest,
    manifest_json: str,
    metadata: MetadataDocument,
    now: datetime,
) -> bool:
    exists = (
        await session.execute(
            select(Publish.publish_id).where(
                Publish.dataset_id == ds, Publish.publish_id == manifest.publish_id
            )
        )
    ).scalar_one_or_none()
    if exists is not None:
        return False
    run_json = (
        await session.execute(
            select(Run.summary_json)
            .where(Run.dataset_id == ds, Run.publish_id == manifest.publish_id)
            .limit(1)
        )
    ).scalar_one_or_none()
    run = msgspec.json.decode(run_json, type=RunSummary) if run_json else None
    schema_changed = run.schema_changed if run else False
    if run is None and manifest.parent_publish_id:
        parent = (
            await session.execute(
                select(Publish.summary_json).where(
                    Publish.dataset_id == ds, Publish.publish_id == manifest.parent_publish_id
                )
            )
        ).scalar_one_or_none()
        if parent is not None:
            parent_hash = msgspec.json.decode(parent, type=PublishSummary).schema_hash
            schema_changed = parent_hash != manifest.schema_hash
    same_version = metadata.stats.schema_hash == manifest.schema_hash and (
        metadata.stats.row_count == manifest.row_count
    )
    provenance = run.provenance if run else (metadata.provenance if same_version else Provenance())
    summary = publish_summary(manifest, schema_changed=schema_changed, provenance=provenance)
    session.add(
        Publish(
            dataset_id=ds,
            publish_id=manifest.publish_id,
            published_at=manifest.published_at,
            summary_json=msgspec.json.encode(summary).decode(),
            manifest_json=manifest_json,
            seen_at=now,
        )
    )
    return True


async def _sync_dataset(
    session: AsyncSession,
    store: RegistryStore,
    ds: str,
    listing: _Listing,
    new_runs: dict[str, str],
    docs_changed: bool,
    report: SyncReport,
) -> None:
    now = datetime.now(UTC)
    await _sync_runs(session, store, ds, new_runs, report)
    if not docs_changed:
        return
    etags = listing.etags
    row = (await session.execute(select(Dataset).where(Dataset.id == ds))).scalar_one_or_none()
    dsid = DatasetId.parse(ds)
    got_manifest = await store.get_or_none(store.layout.manifest(dsid))
    got_metadata = await store.get_or_none(store.layout.metadata(dsid))
    if got_manifest is None or got_metadata is None:
        return  # deleted meanwhile
    try:
        manifest = decode_document(got_manifest[0], Manifest)
        metadata = decode_document(got_metadata[0], MetadataDocument)
    except FormatError as exc:
        report.problems.append(f"{ds}: {exc}")
        return
    if manifest.dataset_id != ds or metadata.dataset.id != ds:
        report.problems.append(f"{ds}: its documents name another dataset; skipped")
        return
    got_readme = await store.get_or_none(store.layout.readme(dsid))
    readme = got_readme[0].decode("utf-8", "replace") if got_readme else ""
    manifest_json = got_manifest[0].decode()
    if await _record_publish(session, ds, manifest, manifest_json, metadata, now):
        report.publishes_added += 1
    entry = _entry(metadata, manifest)
    meta = metadata.dataset
    values: dict[str, Any] = {
        "namespace": dsid.namespace,
        "title": meta.title,
        "description": meta.description,
        "topics_text": " ".join(meta.topics),
        "search_stems": search_stems(ds, meta.title, meta.description, " ".join(meta.topics)),
        "license": meta.license,
        "frequency": meta.frequency,
        "updated_at": entry.updated_at,
        "min_time": manifest.min_time,
        "max_time": manifest.max_time,
        "publish_id": manifest.publish_id,
        "published_at": manifest.published_at,
        "entry_json": msgspec.json.encode(entry).decode(),
        "metadata_json": got_metadata[0].decode(),
        "manifest_json": manifest_json,
        "readme": readme,
        "manifest_etag": etags.get("manifest.json", ""),
        "metadata_etag": etags.get("metadata.json", ""),
        "readme_etag": etags.get("README.md", ""),
        "synced_at": now,
    }
    if row is None:
        row = Dataset(id=ds, **values)
        session.add(row)
        await session.flush()
    else:
        for name, value in values.items():
            setattr(row, name, value)
        await session.execute(delete(DatasetTag).where(DatasetTag.dataset_pk == row.pk))
    tags = {("topic", t.lower()) for t in meta.topics}
    if meta.geo is not None:
        if meta.geo.scope:
            tags.add(("geo", meta.geo.scope))
        tags.update(("geo", c.lower()) for c in meta.geo.countries)
    session.add_all(DatasetTag(dataset_pk=row.pk, facet=f, value=v[:100]) for f, v in sorted(tags))
    report.updated.append(ds)


async def sync_catalogue(sessions: SessionMaker, store: RegistryStore) -> SyncReport:
    """Bring the catalogue in line with the bucket; then rewrite ``index.json`` if it changed."""
    report = SyncReport()
    listing = await _list(store)
    complete = {
        ds: found
        for ds, found in listing.items()
        if "manifest.json" in found.etags and "metadata.json" in found.etags
    }
    report.datasets = len(complete)
    async with sessions() as session:
        rows = {
            r.id: (r.manifest_etag, r.metadata_etag, r.readme_etag)
            for r in (
                await session.execute(
                    select(
                        Dataset.id,
                        Dataset.manifest_etag,
                        Dataset.metadata_etag,
                        Dataset.readme_etag,
                    )
                )
            ).all()
        }
        known_runs = {
            (d, k) for d, k in (await session.execute(select(Run.dataset_id, Run.key))).all()
        }
    for ds, found in sorted(complete.items()):
        etags = found.etags
        docs_changed = rows.get(ds) != (
            etags["manifest.json"],
            etags["metadata.json"],
            etags.get("README.md", ""),
        )
        new_runs = {n: k for n, k in found.runs.items() if (ds, n) not in known_runs}
        if not docs_changed and not new_runs:
            continue
        try:
            async with sessions() as session, session.begin():
                await _sync_dataset(session, store, ds, found, new_runs, docs_changed, report)
        except IntegrityError:
            # Another process synced the same dataset at the same moment; it did the work.
            log.info("sync: %s was synced concurrently by another process", ds)
    gone = sorted(set(rows) - set(complete))
    if gone:
        async with sessions() as session, session.begin():
            await session.execute(delete(Dataset).where(Dataset.id.in_(gone)))
        report.removed = gone
    if report.changed or not report.datasets:
        report.index_written = await write_index(sessions, store)
    log.info(
        "sync: %d datasets, %d updated, %d removed, %d publishes and %d runs added",
        report.datasets,
        len(report.updated),
        len(report.removed),
        report.publishes_added,
        report.runs_added,
    )
    return report


async def sync_dataset(sessions: SessionMaker, store: RegistryStore, dataset_id: str) -> SyncReport:
    """Bring one dataset's catalogue rows in line with the bucket (after a registry commit)."""
    report = SyncReport()
    ds = DatasetId.parse(dataset_id)
    found = (await _list(store, store.layout.dataset_prefix(ds))).get(str(ds))
    if found is None or not {"manifest.json", "metadata.json"} <= set(found.etags):
        return report
    report.datasets = 1
    async with sessions() as session:
        known = set(
            (await session.execute(select(Run.key).where(Run.dataset_id == str(ds)))).scalars()
        )
    new_runs = {n: k for n, k in found.runs.items() if n not in known}
    try:
        async with sessions() as session, session.begin():
            await _sync_dataset(session, store, str(ds), found, new_runs, True, report)
    except IntegrityError:
        log.info("sync: %s was synced concurrently by another process", ds)
    return report


async def write_index(sessions: SessionMaker, store: RegistryStore, *, attempts: int = 1) -> bool:
    """Write the catalogue's ``index.json`` to the bucket unless it already says the same.

    The current document is read *before* the catalogue: a writer that commits after that read
    makes our conditional write fail (retried up to ``attempts`` times), so no entry is lost.
    """
    key = store.layout.index()
    for attempt in range(attempts):
        current = await store.get_or_none(key)
        async with sessions() as session:
            index = await build_index(session)
        if current is not None:
            try:
                old = decode_document(current[0], Index)
            except FormatError:
                old = None
            if old is not None and old.datasets == index.datasets:
                return False
        if not index.datasets and current is None:
            return False
        index = Index(updated_at=datetime.now(UTC), datasets=index.datasets)
        try:
            await store.put(key, encode_document(index), if_match=current[1] if current else "")
        except PreconditionFailed:
            if attempt + 1 < attempts:
                await asyncio.sleep(0.05 * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
            continue  # another writer won; the next sync writes ours if still needed
        return True
    return False
