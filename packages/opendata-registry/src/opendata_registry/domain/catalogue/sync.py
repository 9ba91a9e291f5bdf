"""Filling the catalogue from the bucket: every ``metadata.json``, ``manifest.json`` and run record.

Idempotent and safe while producers publish: one listing of ``datasets/`` gives every document's
ETag, only changed documents are read, and a document caught mid-publish (metadata older than the
manifest) is corrected by the next sync. Documents are read concurrently (bounded) and written in
batches, one transaction each; a committed batch stores its datasets' ETags, so it is the
checkpoint a sync that was interrupted resumes from. ``metadata.json`` is decoded as
:class:`~opendata_core.documents.MetadataHead` (its catalogue part; the previews and profile are
kept as written). Each ``lifecycle.json`` whose ETag changed is read back into the lifecycle
tables (a moved id's tombstone too, which has no manifest), so a rebuilt database keeps every
status, trust level and reserved id; a dataset's entry carries its status and trust. Every
distinct ``publish_id`` seen is recorded, so ``/history`` grows with each sync.
After a sync that changed anything, ``index.json`` is rewritten in the bucket for static readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.api import PublishSummary, RunSummary
from opendata_core.documents import (
    Index,
    IndexEntry,
    Manifest,
    MetadataHead,
    Provenance,
    RunRecord,
    decode_document,
    encode_document,
)
from opendata_core.errors import FormatError, InvalidDatasetId
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import Lifecycle
from opendata_core.store import PreconditionFailed
from opendata_core.versions import publish_summary
from opendata_registry.db.bulk import begin_bulk_load, finish_bulk_load
from opendata_registry.db.engine import SessionMaker, dialect_of
from opendata_registry.db.models import (
    Dataset,
    DatasetTag,
    LifecycleRow,
    Publish,
    Run,
    SyncState,
    compress_text,
    search_stems,
    search_words,
)
from opendata_registry.domain.catalogue.lifecycle import store_lifecycle
from opendata_registry.domain.catalogue.services import build_index
from opendata_registry.infra.store import RegistryStore

__all__ = [
    "Progress",
    "SyncReport",
    "in_step_etag",
    "pack",
    "sync_catalogue",
    "sync_dataset",
    "write_index",
]

log = logging.getLogger("opendata_registry.sync")

_INDEX_ETAG = "index_etag"

_DOCS = ("manifest.json", "metadata.json", "README.md", "lifecycle.json")


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
    listed: bool = True
    """Whether the bucket was listed (``changed=True`` skips it when ``index.json`` is as the
    last sync left it, and a restore from a snapshot does not list it)."""
    snapshot: str | None = None
    """The id of the catalogue snapshot an empty catalogue was filled from."""
    from_documents: int = 0
    """Datasets of a restore read from their own documents (not trusted in the snapshot)."""

    @property
    def changed(self) -> bool:
        """Whether the catalogue changed."""
        return bool(self.updated or self.removed or self.publishes_added or self.runs_added)


@dataclass
class _Listing:
    id: DatasetId
    etags: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    """Run record file name → its key."""


def _entry(doc: MetadataHead, manifest: Manifest, lifecycle: Lifecycle | None = None) -> IndexEntry:
    """The dataset's index entry: metadata, with stats from the manifest (the commit record)."""
    entry = IndexEntry.from_metadata(
        doc.dataset, manifest.stats(), max(doc.updated_at, manifest.published_at), lifecycle
    )
    entry.time_column = manifest.time_column or entry.time_column
    return entry


async def _list(store: RegistryStore, prefix: str | None = None) -> dict[str, _Listing]:
    root = store.layout.datasets_root()
    found: dict[str, _Listing] = {}
    skipped: set[str] = set()
    async for obj in store.list(prefix or root):
        parts = obj.key[len(root) :].split("/", 2)
        if len(parts) != 3:
            continue
        ns, name, rest = parts
        ds = f"{ns}/{name}"
        entry = found.get(ds)
        if entry is None:
            if ds in skipped:
                continue
            try:
                parsed = DatasetId.parse(ds)
            except InvalidDatasetId:
                skipped.add(ds)
                continue
            if str(parsed) != ds:
                skipped.add(ds)
                continue  # not canonical: no key of ours looks like that
            entry = found[ds] = _Listing(parsed)
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


@dataclass
class _Work:
    """One dataset to sync: its listing, the run records to add, whether its documents changed."""

    ds: str
    listing: _Listing
    new_runs: dict[str, str]
    docs_changed: bool


@dataclass
class _Prepared:
    """One dataset's documents, read and decoded, ready to write."""

    ds: str
    runs: list[tuple[str, RunRecord]]
    documents: tuple[Manifest, MetadataHead, str, str, str] | None = None
    """manifest, metadata, manifest.json, metadata.json and README.md (``None``: unchanged)."""
    values: dict[str, Any] = field(default_factory=dict)
    """The ``datasets`` row values the documents alone decide (:func:`_document_values`)."""
    tags: list[tuple[str, str]] = field(default_factory=list)
    """Its facet tags."""
    copied_runs: list[dict[str, Any]] = field(default_factory=list)
    """``runs`` rows kept as they were (a snapshot's): inserted unless already there."""
    copied_publishes: list[dict[str, Any]] = field(default_factory=list)
    """``publishes`` rows kept as they were (a snapshot's ``/history``)."""


def _keys(store: RegistryStore, work: _Work) -> list[str]:
    """The keys to read for ``work``: its new run records, then its three documents."""
    keys = [key for _, key in sorted(work.new_runs.items())]
    if work.docs_changed:
        dsid = work.listing.id
        keys += [
            store.layout.manifest(dsid),
            store.layout.metadata(dsid),
            store.layout.readme(dsid),
        ]
    return keys


def _prepare(work: _Work, got: list[bytes | None], report: SyncReport) -> _Prepared:
    """Decode what was read for ``work`` (problems go to the report; the dataset is skipped)."""
    prepared = _Prepared(work.ds, [])
    names = sorted(work.new_runs)
    for name, data in zip(names, got, strict=False):
        if data is None:
            continue
        key = work.new_runs[name]
        try:
            prepared.runs.append((name, decode_document(data, RunRecord, name=key)))
        except FormatError as exc:
            report.problems.append(str(exc))
    if not work.docs_changed:
        return prepared
    manifest_bytes, metadata_bytes, readme_bytes = got[len(names) :]
    if manifest_bytes is None or metadata_bytes is None:
        return prepared  # deleted meanwhile
    try:
        manifest = decode_document(manifest_bytes, Manifest)
        metadata = decode_document(metadata_bytes, MetadataHead)
    except FormatError as exc:
        report.problems.append(f"{work.ds}: {exc}")
        return prepared
    if manifest.dataset_id != work.ds or metadata.dataset.id != work.ds:
        report.problems.append(f"{work.ds}: its documents name another dataset; skipped")
        return prepared
    readme = readme_bytes.decode("utf-8", "replace") if readme_bytes else ""
    prepared.documents = (
        manifest,
        metadata,
        manifest_bytes.decode(),
        metadata_bytes.decode(),
        readme,
    )
    prepared.values, prepared.tags = _document_values(work.ds, work.listing, prepared.documents)
    return prepared


def pack(batch: list[tuple[_Work, _Prepared]]) -> None:
    """Compress the batch's ``metadata.json`` texts as SQLite's rows keep them.

    Called on a worker thread (zstd runs without the GIL, beside the writer), so that the
    writer's thread does not.
    """
    for _, prepared in batch:
        text = prepared.values.get("metadata_json")
        if isinstance(text, str):
            prepared.values["metadata_json"] = compress_text(text)


def _document_values(
    ds: str, listing: _Listing, documents: tuple[Manifest, MetadataHead, str, str, str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The ``datasets`` row values its documents decide, and its facet tags.

    Computed where the documents are read, not by the writer: the rest
    (:func:`_lifecycle_values`) needs the lifecycle the database holds.
    """
    manifest, metadata, manifest_json, metadata_json, readme = documents
    meta = metadata.dataset
    etags = listing.etags
    values: dict[str, Any] = {
        "id": ds,
        "namespace": ds.split("/", 1)[0],
        "title": meta.title,
        "description": meta.description,
        "topics_text": " ".join(meta.topics),
        "search_stems": search_stems(ds, meta.title, meta.description, " ".join(meta.topics)),
        "search_words": search_words(ds, meta.title, meta.description, " ".join(meta.topics)),
        "license": meta.license,
        "frequency": meta.frequency,
        "min_time": manifest.min_time,
        "max_time": manifest.max_time,
        "publish_id": manifest.publish_id,
        "published_at": manifest.published_at,
        "metadata_json": metadata_json,
        "manifest_json": manifest_json,
        "readme": readme,
        "manifest_etag": etags.get("manifest.json", ""),
        "metadata_etag": etags.get("metadata.json", ""),
        "readme_etag": etags.get("README.md", ""),
    }
    tags = {("topic", t.lower()) for t in meta.topics}
    if meta.geo is not None:
        if meta.geo.scope:
            tags.add(("geo", meta.geo.scope))
        tags.update(("geo", c.lower()) for c in meta.geo.countries)
    return values, sorted((f, v[:100]) for f, v in tags)


def _lifecycle_values(
    documents: tuple[Manifest, MetadataHead, str, str, str], lifecycle: Lifecycle | None
) -> dict[str, Any]:
    """The ``datasets`` row values that depend on the dataset's ``lifecycle`` too.

    Its index entry, status and trust.
    """
    entry = _entry(documents[1], documents[0], lifecycle)
    return {
        "updated_at": entry.updated_at,
        "entry_json": msgspec.json.encode(entry).decode(),
        "status": entry.status,
        "trust": entry.trust,
        "trust_review_by": entry.trust_review_by,
    }


def _publish_row(
    ds: str,
    documents: tuple[Manifest, MetadataHead, str, str, str],
    run: RunSummary | None,
    parent_hash: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The ``publishes`` row of a dataset's current manifest (its provenance: the run's)."""
    manifest, metadata, manifest_json, _, _ = documents
    schema_changed = run.schema_changed if run else False
    if run is None and parent_hash is not None:
        schema_changed = parent_hash != manifest.schema_hash
    same_version = metadata.stats.schema_hash == manifest.schema_hash and (
        metadata.stats.row_count == manifest.row_count
    )
    provenance = run.provenance if run else (metadata.provenance if same_version else Provenance())
    summary = publish_summary(manifest, schema_changed=schema_changed, provenance=provenance)
    return {
        "dataset_id": ds,
        "publish_id": manifest.publish_id,
        "published_at": manifest.published_at,
        "summary_json": msgspec.json.encode(summary).decode(),
        "manifest_json": manifest_json,
        "seen_at": now,
    }


async def _write(
    session: AsyncSession,
    batch: list[tuple[_Work, _Prepared]],
    report: SyncReport,
) -> None:
    """Write one batch of prepared datasets in the caller's transaction (bulk statements)."""
    now = datetime.now(UTC)
    ids = [work.ds for work, _ in batch]
    await copy_rows(
        session,
        [row for _, p in batch for row in p.copied_runs],
        [row for _, p in batch for row in p.copied_publishes],
    )
    run_rows: list[dict[str, Any]] = []
    runs_of: dict[tuple[str, str], RunSummary] = {}
    for work, prepared in batch:
        for name, record in prepared.runs:
            summary = run_summary(record)
            run_rows.append(
                {
                    "dataset_id": work.ds,
                    "key": name,
                    "status": record.status,
                    "publish_id": record.publish_id,
                    "started_at": record.started_at,
                    "finished_at": record.finished_at,
                    "summary_json": msgspec.json.encode(summary).decode(),
                }
            )
            if record.publish_id:
                runs_of.setdefault((work.ds, record.publish_id), summary)
    if run_rows:
        await session.execute(insert(Run), run_rows)
    changed = [(w, p, p.documents) for w, p in batch if p.documents is not None]
    if not changed:
        report.runs_added += len(run_rows)
        return
    publish_ids = {d[0].publish_id for _, _, d in changed}
    wanted = publish_ids | {d[0].parent_publish_id for _, _, d in changed if d[0].parent_publish_id}
    # ``publish_id || ''``: SQLite must not look the index up by both IN lists of 500, which is
    # 250,000 probes a batch (24 s of 100,000 datasets); by dataset, then filtered, it is 500.
    # (A row-value IN made it scan the table.)
    known: dict[tuple[str, str], str] = {
        (r.dataset_id, r.publish_id): r.summary_json
        for r in await session.execute(
            select(Publish.dataset_id, Publish.publish_id, Publish.summary_json).where(
                Publish.dataset_id.in_(ids), (Publish.publish_id + "").in_(wanted)
            )
        )
    }
    for run_ds, run_publish, run_json in await session.execute(
        select(Run.dataset_id, Run.publish_id, Run.summary_json).where(
            Run.dataset_id.in_(ids), Run.publish_id.in_(publish_ids)
        )
    ):
        runs_of.setdefault(
            (run_ds, run_publish or ""), msgspec.json.decode(run_json, type=RunSummary)
        )
    found = await session.execute(select(Dataset.id, Dataset.pk).where(Dataset.id.in_(ids)))
    pks: dict[str, int] = {ds: pk for ds, pk in found}  # noqa: C416 (typed rows)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    tags: dict[str, list[tuple[str, str]]] = {}
    publish_rows: list[dict[str, Any]] = []
    lifecycles = {
        ds: msgspec.json.decode(doc, type=Lifecycle)
        for ds, doc in await session.execute(
            select(LifecycleRow.dataset_id, LifecycleRow.doc_json).where(
                LifecycleRow.dataset_id.in_([w.ds for w, _, _ in changed])
            )
        )
    }
    for work, prepared, documents in changed:
        manifest = documents[0]
        values = {
            **prepared.values,
            **_lifecycle_values(documents, lifecycles.get(work.ds)),
            "synced_at": now,
        }
        tags[work.ds] = prepared.tags
        if work.ds in pks:
            updates.append({"pk": pks[work.ds], **values})
        else:
            inserts.append(values)
        if (work.ds, manifest.publish_id) not in known:
            parent = known.get((work.ds, manifest.parent_publish_id or ""))
            parent_hash = (
                msgspec.json.decode(parent, type=PublishSummary).schema_hash if parent else None
            )
            run = runs_of.get((work.ds, manifest.publish_id))
            publish_rows.append(_publish_row(work.ds, documents, run, parent_hash, now))
        report.updated.append(work.ds)
    if publish_rows:
        await session.execute(insert(Publish), publish_rows)
    if updates:
        await session.execute(update(Dataset), updates)
        await session.execute(
            delete(DatasetTag).where(DatasetTag.dataset_pk.in_([u["pk"] for u in updates]))
        )
    if inserts:
        added = await session.execute(insert(Dataset).returning(Dataset.id, Dataset.pk), inserts)
        pks.update((ds, pk) for ds, pk in added)
    tag_rows = [
        {"dataset_pk": pks[ds], "facet": facet, "value": value}
        for ds, pairs in tags.items()
        for facet, value in pairs
    ]
    if tag_rows:
        await session.execute(insert(DatasetTag), tag_rows)
    report.runs_added += len(run_rows)
    report.publishes_added += len(publish_rows)


async def copy_rows(
    session: AsyncSession, runs: list[dict[str, Any]], publishes: list[dict[str, Any]]
) -> None:
    """Insert the ``runs`` and ``publishes`` rows (a snapshot's) that are not there yet."""
    await _insert_missing(session, Run, "key", runs)
    await _insert_missing(session, Publish, "publish_id", publishes)


async def _insert_missing(
    session: AsyncSession, model: type[Run] | type[Publish], key: str, rows: list[dict[str, Any]]
) -> None:
    """Insert the ``rows`` of ``model`` whose ``(dataset_id, key)`` is not in the table yet."""
    if not rows:
        return
    ids = sorted({row["dataset_id"] for row in rows})
    found = await session.execute(
        select(model.dataset_id, getattr(model, key)).where(model.dataset_id.in_(ids))
    )
    have = {(ds, value) for ds, value in found}
    rows = [row for row in rows if (row["dataset_id"], row[key]) not in have]
    if rows:
        await session.execute(insert(model), rows)


async def _commit(
    sessions: SessionMaker, batch: list[tuple[_Work, _Prepared]], report: SyncReport
) -> None:
    """Write ``batch`` in one transaction; on a conflict, each dataset in its own."""
    staged = SyncReport()
    try:
        async with sessions() as session, session.begin():
            await _write(session, batch, staged)
    except IntegrityError:
        if len(batch) == 1:
            # Another process synced the same dataset at the same moment; it did the work.
            log.info("sync: %s was synced concurrently by another process", batch[0][0].ds)
            return
        for one in batch:
            await _commit(sessions, [one], report)
        return
    report.updated += staged.updated
    report.publishes_added += staged.publishes_added
    report.runs_added += staged.runs_added


Progress = Callable[[int, int], None]
"""Told ``(datasets done, datasets to sync)`` after each committed batch."""


async def _sync_work(
    sessions: SessionMaker,
    store: RegistryStore,
    todo: list[_Work],
    report: SyncReport,
    *,
    batch_size: int,
    concurrency: int,
    progress: Progress | None,
) -> None:
    """Read ``todo`` concurrently and write it in batches (the next read while one is written).

    Each committed batch is a checkpoint: its datasets' ETags are stored, so a sync that is
    interrupted and run again goes on after the last committed batch, without duplicates.
    """
    limit = asyncio.Semaphore(concurrency)
    packing = await dialect_of(sessions) == "sqlite"

    async def read(batch: list[_Work]) -> list[tuple[_Work, _Prepared]]:
        keys = [_keys(store, work) for work in batch]
        flat = await store.get_many([k for ks in keys for k in ks], limit=limit)
        out, at = [], 0
        for work, ks in zip(batch, keys, strict=True):
            out.append((work, _prepare(work, flat[at : at + len(ks)], report)))
            at += len(ks)
        if packing:
            await asyncio.to_thread(pack, out)
        return out

    batches = iter([todo[i : i + batch_size] for i in range(0, len(todo), batch_size)])
    done = 0
    if progress:
        progress(0, len(todo))
    pending: deque[asyncio.Future[list[tuple[_Work, _Prepared]]]] = deque()

    def read_ahead() -> None:
        while len(pending) < 1 + _BATCHES_AHEAD and (batch := next(batches, None)) is not None:
            pending.append(asyncio.ensure_future(read(batch)))

    try:
        read_ahead()
        while pending:
            prepared = await pending.popleft()
            read_ahead()
            await _commit(sessions, prepared, report)
            done += len(prepared)
            if progress:
                progress(done, len(todo))
    finally:
        for reading in pending:
            reading.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


_BATCHES_AHEAD: Final = 2
"""Batches read while one is written: the files' reads and the documents' decoding overlap the
writer's statements."""


async def _sync_lifecycles(
    sessions: SessionMaker, store: RegistryStore, listing: dict[str, _Listing], report: SyncReport
) -> set[str]:
    """Read back every ``lifecycle.json`` whose ETag changed; the ids whose document changed.

    A moved id's tombstone has no manifest: it is kept here all the same (its id is reserved).
    """
    listed = {
        ds: f.etags["lifecycle.json"] for ds, f in listing.items() if "lifecycle.json" in f.etags
    }
    if not listed:
        return set()
    async with sessions() as session:
        rows = (await session.execute(select(LifecycleRow.dataset_id, LifecycleRow.etag))).all()
        known = dict(rows)
    changed: set[str] = set()
    for ds, etag in sorted(listed.items()):
        if known.get(ds) == etag:
            continue
        got = await store.get_or_none(store.layout.lifecycle(DatasetId.parse(ds)))
        if got is None:
            continue
        try:
            doc = decode_document(got[0], Lifecycle, name=f"{ds}/lifecycle.json")
        except FormatError as exc:
            report.problems.append(str(exc))
            continue
        if doc.dataset_id != ds:
            report.problems.append(f"{ds}: its lifecycle.json names {doc.dataset_id}; skipped")
            continue
        async with sessions() as session, session.begin():
            await store_lifecycle(session, doc, got[1] or etag, got[0])
        changed.add(ds)
    return changed


async def sync_catalogue(
    sessions: SessionMaker,
    store: RegistryStore,
    *,
    changed: bool = False,
    progress: Progress | None = None,
    batch_size: int = 500,
    concurrency: int = 64,
    snapshot: bool = True,
) -> SyncReport:
    """Bring the catalogue in line with the bucket; then rewrite ``index.json`` if it changed.

    An empty catalogue (a fresh database) is filled from the bucket's catalogue snapshot when
    there is one (:mod:`~opendata_registry.domain.catalogue.snapshot`; ``snapshot=False``
    reads every dataset's documents instead), and so is one whose restore was interrupted.

    ``changed=True`` first compares ``index.json``'s ETag with the one the catalogue is in step
    with (one HEAD request): every publish rewrites that document, so when they are equal
    nothing was published since and the bucket is not listed. Otherwise the bucket is listed and
    only the documents whose ETag changed are read. Documents are read ``concurrency`` at a time
    and written ``batch_size`` datasets per transaction; ``progress`` is told how far it got
    after each batch.
    """
    with _fewer_collections():
        return await _sync_catalogue(
            sessions,
            store,
            changed=changed,
            progress=progress,
            batch_size=batch_size,
            concurrency=concurrency,
            snapshot=snapshot,
        )


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the garbage collector less often meanwhile (its youngest generation 70 times less).

    A sync of 100,000 datasets allocates tens of millions of short-lived objects (decoded
    documents, row values, SQLAlchemy's parameters); with the default thresholds (700, 10, 10)
    the collector ran so often that it cost a fifth of the sync: 51.4 s against 40.4 s with
    these, at the same peak memory (docs/benchmarks.md). Restored afterwards.
    """
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def _sync_catalogue(
    sessions: SessionMaker,
    store: RegistryStore,
    *,
    changed: bool,
    progress: Progress | None,
    batch_size: int,
    concurrency: int,
    snapshot: bool,
) -> SyncReport:
    if snapshot and not changed:
        from opendata_registry.domain.catalogue.snapshot import restore_snapshot, restoring

        async with sessions() as session:
            empty = (await session.execute(select(Dataset.pk).limit(1))).first() is None
            resume = await restoring(session)
        if empty or resume:
            restored = await restore_snapshot(
                sessions, store, progress=progress, batch_size=batch_size
            )
            if restored is not None:
                return restored
    since = await store.etag(store.layout.index())
    if changed:
        async with sessions() as session:
            quiet = await in_step_etag(session) == since
            if quiet:
                total = (await session.execute(select(func.count(Dataset.pk)))).scalar_one()
        if quiet:
            await finish_bulk_load(sessions)  # one an interrupted sync left
            return SyncReport(datasets=total, listed=False)
    report = SyncReport()
    listing = await _list(store)
    complete = {
        ds: found
        for ds, found in listing.items()
        if "manifest.json" in found.etags and "metadata.json" in found.etags
    }
    report.datasets = len(complete)
    lifecycles = await _sync_lifecycles(sessions, store, listing, report)
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
    todo: list[_Work] = []
    for ds, found in sorted(complete.items()):
        etags = found.etags
        docs_changed = ds in lifecycles or rows.get(ds) != (
            etags["manifest.json"],
            etags["metadata.json"],
            etags.get("README.md", ""),
        )
        new_runs = {n: k for n, k in found.runs.items() if (ds, n) not in known_runs}
        if docs_changed or new_runs:
            todo.append(_Work(ds, found, new_runs, docs_changed))
    if not rows and todo:
        await begin_bulk_load(sessions)  # an empty catalogue: search built once, below
    await _sync_work(
        sessions,
        store,
        todo,
        report,
        batch_size=batch_size,
        concurrency=concurrency,
        progress=progress,
    )
    gone = sorted(set(rows) - set(complete))
    if gone:
        async with sessions() as session, session.begin():
            await session.execute(delete(Dataset).where(Dataset.id.in_(gone)))
        report.removed = gone
    await finish_bulk_load(sessions)  # this sync's, or one an interrupted sync left
    if report.changed or not report.datasets:
        report.index_written = await write_index(sessions, store, since=since)
    else:
        await _remember(sessions, since)  # every publish before ``since`` was in the listing
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
    listing = await _list(store, store.layout.dataset_prefix(ds))
    await _sync_lifecycles(sessions, store, listing, report)
    found = listing.get(str(ds))
    if found is None or not {"manifest.json", "metadata.json"} <= set(found.etags):
        return report
    report.datasets = 1
    async with sessions() as session:
        known = set(
            (await session.execute(select(Run.key).where(Run.dataset_id == str(ds)))).scalars()
        )
    new_runs = {n: k for n, k in found.runs.items() if n not in known}
    work = _Work(str(ds), found, new_runs, True)
    await _sync_work(sessions, store, [work], report, batch_size=1, concurrency=8, progress=None)
    return report


async def in_step_etag(session: AsyncSession) -> str | None:
    """The ``index.json`` ETag the catalogue is in step with (``None``: never synced)."""
    return (
        await session.execute(select(SyncState.value).where(SyncState.name == _INDEX_ETAG))
    ).scalar_one_or_none()


async def _remember(sessions: SessionMaker, etag: str) -> None:
    """Store ``etag`` as the ``index.json`` the catalogue is in step with."""
    await set_state(sessions, _INDEX_ETAG, etag)


async def set_state(sessions: SessionMaker, name: str, value: str) -> None:
    """Set the ``sync_state`` row ``name`` to ``value`` (one transaction)."""
    async with sessions() as session, session.begin():
        if (await session.get(SyncState, name)) is None:
            session.add(SyncState(name=name, value=value))
        else:
            await session.execute(
                update(SyncState).where(SyncState.name == name).values(value=value)
            )


async def write_index(
    sessions: SessionMaker,
    store: RegistryStore,
    *,
    attempts: int = 1,
    since: str | None = None,
) -> bool:
    """Write the catalogue's ``index.json`` to the bucket unless it already says the same.

    The current document is read *before* the catalogue: a writer that commits after that read
    makes our conditional write fail (retried up to ``attempts`` times), so no entry is lost.

    ``since`` (a sync's): the ETag ``index.json`` had before the sync listed the bucket (``""``:
    absent). If it changed since, a producer published meanwhile: the document is left for the
    next sync, which lists again. The ETag the catalogue is now in step with is remembered for
    ``sync --changed``; without ``since`` (a publish through the registry) only when the document
    replaced was the one the catalogue was in step with.
    """
    key = store.layout.index()
    for attempt in range(attempts):
        current = await store.get_or_none(key)
        etag = current[1] if current else ""
        if since is not None and etag != since:
            await _remember(sessions, since)
            return False
        async with sessions() as session:
            index = await build_index(session)
            in_step = since is not None or etag == await in_step_etag(session)
        now: str | None = None
        if current is not None:
            try:
                old = decode_document(current[0], Index)
            except FormatError:
                old = None
            if old is not None and old.datasets == index.datasets:
                now = etag
        elif not index.datasets:
            now = ""
        written = now is None
        if now is None:
            index = Index(updated_at=datetime.now(UTC), datasets=index.datasets)
            try:
                now = await store.put(key, encode_document(index), if_match=etag if current else "")
            except PreconditionFailed:
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.05 * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
                continue  # another writer won; the next sync writes ours if still needed
        if in_step:
            await _remember(sessions, now)
        return written
    return False
