"""The catalogue snapshot: a fresh replica's full sync from a few large objects, not 300,000 small.

A full sync reads three documents per dataset and lists the whole bucket. Against an object
store 40 ms away that is hours of round trips at 100,000 datasets; what such a sync needs is
the same documents in a few large objects. A registry therefore writes, now and then, a
snapshot of the documents its catalogue was built from (spec §5.8)::

    registry/snapshot.json                                    which snapshot is current
    registry/snapshots/<id>/part-00000.jsonl.zst              ~2,000 datasets each

One line per dataset: its ``manifest.json``, ``metadata.json``, ``README.md`` and
``lifecycle.json`` as read from the bucket, each with the ETag it had, plus the run and publish
rows the registry recorded for it. A snapshot is a bundle of bucket documents, not of database
rows: the restore turns them into catalogue rows with the same functions as the sync
(:func:`~opendata_registry.domain.catalogue.sync._prepare` and ``_write``), so search words,
facets and index entries are those of the running code.

**When is a line trusted?** The snapshot records the ``index.json`` ETag its catalogue was in
step with. Every publish rewrites ``index.json`` (the premise of ``sync --changed``), so when
that ETag is still the bucket's, every line is current. Otherwise the restore reads
``index.json`` and keeps a line only when the dataset's entry there equals the line's; every
other dataset of ``index.json`` is synced from its own documents. The periodic full listing
(hourly) then compares every ETag, as after any sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.documents import Index, IndexEntry, decode_document
from opendata_core.errors import FormatError, OpenDataError
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import Lifecycle
from opendata_core.store import NotFound
from opendata_registry.db.bulk import begin_bulk_load, finish_bulk_load
from opendata_registry.db.engine import SessionMaker, dialect_of
from opendata_registry.db.models import (
    Dataset,
    LifecycleRow,
    Publish,
    Run,
    SyncState,
)
from opendata_registry.domain.catalogue.lifecycle import store_lifecycle
from opendata_registry.domain.catalogue.sync import (
    Progress,
    SyncReport,
    _commit,
    _Listing,
    _prepare,
    _Prepared,
    _remember,
    _Work,
    copy_rows,
    in_step_etag,
    pack,
    set_state,
    sync_dataset,
    write_index,
)
from opendata_registry.infra.store import RegistryStore

__all__ = [
    "SnapshotInfo",
    "SnapshotPart",
    "read_info",
    "restore_snapshot",
    "restoring",
    "write_snapshot",
]

log = logging.getLogger("opendata_registry.snapshot")

R = TypeVar("R", "RunRow", "PublishRow")

SNAPSHOT_FORMAT: Final = "1.0"
PART_DATASETS: Final = 2_000
"""Datasets per part: ~46 MB of documents at the benchmark's 23 KB each, a few MB compressed."""
PART_BYTES: Final = 64 << 20
"""A part is also cut when its lines reach this many bytes (large READMEs, long histories)."""
MAX_PART_BYTES: Final = 256 << 20
"""The most one part may hold, compressed or decompressed: a part that says more is refused, not
read (the registry writes parts of at most 64 MiB of lines)."""
MAX_POINTER_BYTES: Final = 16 << 20
"""The most ``registry/snapshot.json`` may hold (~80,000 parts, 160 million datasets): reading
stops there and the snapshot is not used."""
_SNAPSHOT_ID: Final = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")
"""How :func:`write_snapshot` names a snapshot (its parts' folder)."""
_RESTORING: Final = "snapshot_restore"
"""The ``sync_state`` row that says a restore started (an interrupted one goes on)."""
_PARTS_AHEAD: Final = 2
"""Parts read (GET, decompress, decode) while the one before them is written."""
_ZSTD_LEVEL: Final = 3


class Doc(msgspec.Struct, array_like=True):
    """One document as read from the bucket: its ETag then its text."""

    etag: str
    text: str


class RunRow(msgspec.Struct):
    """A ``runs`` row: one run record the registry read (its summary, as the API shows it)."""

    key: str
    status: str
    publish_id: str | None
    started_at: datetime
    finished_at: datetime
    summary_json: str


class PublishRow(msgspec.Struct):
    """A ``publishes`` row: one manifest the registry saw live (``/history``)."""

    publish_id: str
    published_at: datetime
    summary_json: str
    manifest_json: str
    seen_at: datetime


class Line(msgspec.Struct, kw_only=True):
    """One dataset of a snapshot (a moved id's tombstone has only ``lifecycle``)."""

    id: str
    manifest: Doc | None = None
    metadata: Doc | None = None
    readme: Doc | None = None
    lifecycle: Doc | None = None
    entry: str | None = None
    """The dataset's ``index.json`` entry (JSON) when the snapshot was written."""
    runs: list[RunRow] = []
    publishes: list[PublishRow] = []


class SnapshotPart(msgspec.Struct, kw_only=True):
    """One part of a snapshot, as ``registry/snapshot.json`` lists it."""

    key: str
    datasets: int
    bytes: int
    """Compressed size."""
    raw_bytes: int
    """Size of the JSON lines it decompresses to."""
    sha256: str
    """Of the compressed bytes."""


class SnapshotInfo(msgspec.Struct, kw_only=True):
    """``registry/snapshot.json``: the current catalogue snapshot (spec §5.8)."""

    format: str = SNAPSHOT_FORMAT
    snapshot_id: str
    created_at: datetime
    index_etag: str
    """The ``index.json`` ETag the catalogue was in step with (``""``: not known)."""
    datasets: int
    parts: list[SnapshotPart]


# -- writing ------------------------------------------------------------------------------------


async def write_snapshot(
    sessions: SessionMaker, store: RegistryStore, *, part_datasets: int | None = None
) -> SnapshotInfo:
    """Write the catalogue's documents to the bucket as a new snapshot; then make it current.

    Parts are written first, ``registry/snapshot.json`` last (so a reader sees the old snapshot
    or the new one), then the parts of snapshots older than the previous one are deleted (a
    restore still reading the previous one keeps its parts).
    """
    import pyarrow as pa

    part_datasets = part_datasets or PART_DATASETS
    now = datetime.now(UTC)
    snapshot_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    async with sessions() as session:
        index_etag = await in_step_etag(session) or ""
    previous = await read_info(store)
    parts: list[SnapshotPart] = []
    total = 0
    writing: asyncio.Task[None] | None = None

    async def put(number: int, lines: list[bytes]) -> None:
        raw = b"".join(lines)
        codec = pa.Codec("zstd", compression_level=_ZSTD_LEVEL)
        packed = await asyncio.to_thread(codec.compress, raw, asbytes=True)
        key = store.layout.snapshot_part(snapshot_id, number)
        await store.put(key, packed)
        parts.append(
            SnapshotPart(
                key=key,
                datasets=len(lines),
                bytes=len(packed),
                raw_bytes=len(raw),
                sha256=hashlib.sha256(packed).hexdigest(),
            )
        )

    try:
        number = 0
        async for lines in _lines(sessions, part_datasets):
            for group in _cut([msgspec.json.encode(line) + b"\n" for line in lines]):
                if writing is not None:
                    await writing  # one part uploading while the next is read
                writing = asyncio.ensure_future(put(number, group))
                number += 1
                total += len(group)
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
    parts.sort(key=lambda p: p.key)
    info = SnapshotInfo(
        snapshot_id=snapshot_id,
        created_at=now,
        index_etag=index_etag,
        datasets=total,
        parts=parts,
    )
    await store.put(store.layout.snapshot(), msgspec.json.encode(info))
    keep = {snapshot_id} | ({previous.snapshot_id} if previous else set())
    await _delete_old(store, keep)
    log.info("snapshot %s: %d datasets in %d parts", snapshot_id, total, len(parts))
    return info


def _cut(lines: list[bytes]) -> list[list[bytes]]:
    """``lines`` in groups of at most :data:`PART_BYTES` (a longer line stands alone)."""
    groups: list[list[bytes]] = [[]]
    size = 0
    for line in lines:
        if groups[-1] and size + len(line) > PART_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(line)
        size += len(line)
    return [group for group in groups if group]


async def _lines(sessions: SessionMaker, part_datasets: int) -> AsyncIterator[list[Line]]:
    """The catalogue as snapshot lines, ``part_datasets`` at a time (datasets, then tombstones)."""
    last = 0
    while True:
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(
                        Dataset.pk,
                        Dataset.id,
                        Dataset.manifest_json,
                        Dataset.manifest_etag,
                        Dataset.metadata_json,
                        Dataset.metadata_etag,
                        Dataset.readme,
                        Dataset.readme_etag,
                        Dataset.entry_json,
                    )
                    .where(Dataset.pk > last)
                    .order_by(Dataset.pk)
                    .limit(part_datasets)
                )
            ).all()
            if not rows:
                break
            last = rows[-1].pk
            lines = {
                r.id: Line(
                    id=r.id,
                    manifest=Doc(r.manifest_etag, r.manifest_json),
                    metadata=Doc(r.metadata_etag, r.metadata_json),
                    readme=Doc(r.readme_etag, r.readme) if r.readme_etag or r.readme else None,
                    entry=r.entry_json,
                )
                for r in rows
            }
            await _attach(session, lines)
        yield list(lines.values())
    # Tombstones: an id with a lifecycle.json and no dataset (a moved id keeps it forever).
    async with sessions() as session:
        alone = (
            await session.execute(
                select(LifecycleRow.dataset_id, LifecycleRow.etag, LifecycleRow.doc_json)
                .where(LifecycleRow.dataset_id.not_in(select(Dataset.id)))
                .order_by(LifecycleRow.dataset_id)
            )
        ).all()
    for at in range(0, len(alone), part_datasets):
        yield [
            Line(id=ds, lifecycle=Doc(etag, doc))
            for ds, etag, doc in alone[at : at + part_datasets]
        ]


async def _attach(session: AsyncSession, lines: dict[str, Line]) -> None:
    """Add each line's lifecycle document, runs and publishes (three queries for the part)."""
    ids = list(lines)
    for ds, etag, doc in await session.execute(
        select(LifecycleRow.dataset_id, LifecycleRow.etag, LifecycleRow.doc_json).where(
            LifecycleRow.dataset_id.in_(ids)
        )
    ):
        lines[ds].lifecycle = Doc(etag, doc)
    for ds, run in await _rows(session, RunRow, Run, ids, Run.key):
        lines[ds].runs.append(run)
    for ds, publish in await _rows(session, PublishRow, Publish, ids, Publish.published_at):
        lines[ds].publishes.append(publish)


async def _rows(
    session: AsyncSession,
    kind: type[R],
    model: type[Run] | type[Publish],
    ids: list[str],
    order: Any,
) -> list[tuple[str, R]]:
    """``model``'s rows of the datasets ``ids`` as ``kind`` (its fields are columns of it)."""
    columns = [getattr(model, name) for name in kind.__struct_fields__]
    found = await session.execute(
        select(model.dataset_id, *columns)
        .where(model.dataset_id.in_(ids))
        .order_by(model.dataset_id, order, *columns[:1])
    )
    return [(ds, kind(*values)) for ds, *values in found]


async def _delete_old(store: RegistryStore, keep: set[str]) -> None:
    """Delete the parts of every snapshot not in ``keep``."""
    root = store.layout.snapshots_root()
    old = [
        obj.key async for obj in store.list(root) if obj.key[len(root) :].split("/")[0] not in keep
    ]
    for key in old:
        await store.delete(key)


async def read_info(store: RegistryStore) -> SnapshotInfo | None:
    """The current snapshot's ``registry/snapshot.json`` (``None``: none, or unreadable).

    Read up to :data:`MAX_POINTER_BYTES`; a bigger one, one that is not a snapshot pointer and
    one whose snapshot id is not one :func:`write_snapshot` makes are not used (a warning).
    """
    try:
        data, size, _ = await store.read_back(store.layout.snapshot(), MAX_POINTER_BYTES)
    except NotFound:
        return None
    if size > MAX_POINTER_BYTES:
        log.warning(
            "registry/snapshot.json holds more than %d bytes; syncing from the documents",
            MAX_POINTER_BYTES,
        )
        return None
    try:
        info = msgspec.json.decode(data, type=SnapshotInfo)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("registry/snapshot.json is not readable (%s); syncing from the documents", exc)
        return None
    if not _SNAPSHOT_ID.fullmatch(info.snapshot_id):
        log.warning(
            "registry/snapshot.json names snapshot %r, not an id this registry writes; syncing "
            "from the documents",
            info.snapshot_id[:100],
        )
        return None
    if info.format.split(".", 1)[0] != SNAPSHOT_FORMAT.split(".", 1)[0]:
        log.warning(
            "registry/snapshot.json is format %s (this registry reads 1.x); syncing from the "
            "documents",
            info.format,
        )
        return None
    return info


# -- restoring ----------------------------------------------------------------------------------


@dataclass
class _Restore:
    """What the restore knows while it reads parts."""

    in_step: bool
    index: dict[str, IndexEntry] | None
    """``index.json``'s entries when the snapshot is not in step with it."""
    have: dict[str, tuple[str, str, str]]
    """Datasets already in the catalogue (a restore that goes on) and their ETags."""
    lifecycles: dict[str, str]
    seen: set[str] = field(default_factory=set)
    stale: list[str] = field(default_factory=list)
    incomplete: bool = False
    """Whether a part could not be read or a line was refused (``index.json`` then says what
    else to read)."""


async def restore_snapshot(
    sessions: SessionMaker,
    store: RegistryStore,
    *,
    progress: Progress | None = None,
    batch_size: int = 500,
) -> SyncReport | None:
    """Fill an empty catalogue from the bucket's snapshot; ``None`` when there is none to use.

    Parts are read up to ``_PARTS_AHEAD`` ahead of the one being written, and written
    ``batch_size`` datasets per transaction, as the sync writes. A line is kept when the
    snapshot is in step with ``index.json`` or when its entry equals the dataset's entry there;
    every other dataset of ``index.json`` is then synced from its own documents. A part that
    cannot be read (a checksum or format error) is reported and its datasets are synced from
    their documents.
    Interrupted, it goes on where it stopped: datasets already restored are skipped.
    """
    info = await read_info(store)
    if info is None or not info.parts:
        return None
    index_etag = await store.etag(store.layout.index())
    in_step = bool(info.index_etag) and info.index_etag == index_etag
    index: dict[str, IndexEntry] | None = None
    if not in_step:
        got = await store.get_or_none(store.layout.index())
        if got is None:
            return None  # nothing says which datasets exist: list the bucket
        try:
            entries = decode_document(got[0], Index).datasets
        except FormatError as exc:
            log.warning("snapshot not used: %s", exc)
            return None
        index_etag = got[1]
        index = {e.id: e for e in entries}
    await set_state(sessions, _RESTORING, info.snapshot_id)
    await begin_bulk_load(sessions)  # an empty catalogue (or this restore's, resumed)
    async with sessions() as session:
        state = _Restore(
            in_step=in_step,
            index=index,
            have={
                r.id: (r.manifest_etag, r.metadata_etag, r.readme_etag)
                for r in await session.execute(
                    select(
                        Dataset.id,
                        Dataset.manifest_etag,
                        Dataset.metadata_etag,
                        Dataset.readme_etag,
                    )
                )
            },
            lifecycles=dict(
                (await session.execute(select(LifecycleRow.dataset_id, LifecycleRow.etag))).all()
            ),
        )
    report = SyncReport(listed=False, snapshot=info.snapshot_id)
    total = info.datasets
    done = 0
    if progress:
        progress(0, total)
    # Parts are read ahead of the writer, at most _PARTS_AHEAD of them (each is ~60 MB of
    # decoded lines at 2,000 datasets).
    upcoming = enumerate(info.parts)
    pending: deque[tuple[SnapshotPart, asyncio.Future[_Plan | None]]] = deque()

    packing = await dialect_of(sessions) == "sqlite"

    async def read(number: int, part: SnapshotPart) -> _Plan | None:
        lines = await _read_part(store, info.snapshot_id, number, part, report)
        if lines is None:
            return None
        plan = _plan(lines, state, report)
        if packing:
            await asyncio.to_thread(pack, plan.batch)
        return plan

    def read_ahead() -> None:
        while len(pending) < 1 + _PARTS_AHEAD:
            got = next(upcoming, None)
            if got is None:
                return
            number, part = got
            pending.append((part, asyncio.ensure_future(read(number, part))))

    try:
        read_ahead()
        while pending:
            part, reading = pending.popleft()
            plan = await reading
            read_ahead()
            if plan is None:
                state.incomplete = True  # its datasets: from their documents, below
            else:
                await _apply(sessions, plan, state, report, batch_size)
            done += part.datasets
            if progress:
                progress(min(done, total), total)
    finally:
        for _, reading in pending:
            reading.cancel()
        await asyncio.gather(*(reading for _, reading in pending), return_exceptions=True)
    await finish_bulk_load(sessions)
    # Every dataset index.json names that no trusted line restored: from its own documents.
    listed = set(index) if index is not None else set()
    if index is None and state.incomplete:
        # In step, but a part or a line could not be used: index.json names the rest.
        got = await store.get_or_none(store.layout.index())
        if got is not None:
            with contextlib.suppress(FormatError):
                listed = {e.id for e in decode_document(got[0], Index).datasets}
    todo = sorted((listed - state.seen) | set(state.stale))
    report.from_documents = len(todo)
    for ds in todo:
        try:
            one = await sync_dataset(sessions, store, ds)
        except OpenDataError as exc:
            report.problems.append(f"{ds}: {exc}")  # the next full sync reads it again
        else:
            report.updated += one.updated
            report.publishes_added += one.publishes_added
            report.runs_added += one.runs_added
            report.problems += one.problems
    async with sessions() as session:
        report.datasets = (await session.execute(select(func.count(Dataset.pk)))).scalar_one()
    if todo:
        # Entries read from documents may say more than index.json did (a publish it missed).
        report.index_written = await write_index(sessions, store, since=index_etag)
    else:
        await _remember(sessions, index_etag)
    async with sessions() as session, session.begin():
        await session.execute(delete(SyncState).where(SyncState.name == _RESTORING))
    log.info(
        "restored %d datasets from snapshot %s (%d from their own documents)",
        report.datasets,
        info.snapshot_id,
        len(todo),
    )
    return report


async def restoring(session: AsyncSession) -> bool:
    """Whether a restore started and did not finish (the next sync goes on with it)."""
    return (await session.get(SyncState, _RESTORING)) is not None


async def _read_part(
    store: RegistryStore, snapshot_id: str, number: int, part: SnapshotPart, report: SyncReport
) -> list[Line] | None:
    """One part's lines; ``None`` (and a problem in the report) when it cannot be trusted.

    Only the part's own key is read (part ``number`` of ``snapshot_id``), and no more bytes of
    it than ``snapshot.json`` says it holds, at most :data:`MAX_PART_BYTES`.
    """
    import pyarrow as pa

    key = store.layout.snapshot_part(snapshot_id, number)
    if part.key != key:
        report.problems.append(
            f"snapshot.json lists {part.key[:200]!r} as part {number}, which is {key}; not read"
        )
        return None
    if not (0 <= part.raw_bytes <= MAX_PART_BYTES and 0 <= part.bytes <= MAX_PART_BYTES):
        report.problems.append(
            f"{key}: says it holds {part.bytes} bytes ({part.raw_bytes} decompressed), more "
            f"than a part may ({MAX_PART_BYTES}); not read"
        )
        return None
    try:
        data, size, digest = await store.read_back(key, part.bytes)
    except OpenDataError as exc:
        report.problems.append(f"{key}: {exc}")
        return None
    if size != part.bytes or digest != part.sha256:
        report.problems.append(f"{key}: its size or sha256 is not the one snapshot.json lists")
        return None
    try:
        raw = await asyncio.to_thread(
            pa.decompress, data, decompressed_size=part.raw_bytes, codec="zstd", asbytes=True
        )
        return await asyncio.to_thread(_decode_lines, raw)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        report.problems.append(f"{part.key}: not a snapshot part ({exc})")
        return None


def _decode_lines(raw: bytes) -> list[Line]:
    """A part's lines (on a worker thread: the decoder was built at import, see below)."""
    return _LINES.decode_lines(raw)


# Built at import, not on the worker threads that decode parts side by side: two threads that
# build a type's decoder at the same moment can crash the process (``decode_document``'s note).
_LINES: Final = msgspec.json.Decoder(Line)


def _canonical(dataset_id: str) -> bool:
    """Whether ``dataset_id`` is a dataset id as the bucket's keys spell it."""
    try:
        return str(DatasetId.parse(dataset_id)) == dataset_id
    except OpenDataError:
        return False


def _trusted(line: Line, state: _Restore) -> bool:
    """Whether ``line`` is the dataset as the bucket has it now (see the module docstring)."""
    if state.in_step:
        return True
    assert state.index is not None
    entry = state.index.get(line.id)
    if entry is None or line.entry is None:
        return False
    try:
        return msgspec.json.decode(line.entry, type=IndexEntry) == entry
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False


@dataclass
class _Plan:
    """What one part's lines come to: rows to copy, lifecycles to store, datasets to write."""

    docs: list[tuple[Lifecycle, Doc]] = field(default_factory=list)
    batch: list[tuple[_Work, _Prepared]] = field(default_factory=list)
    kept_runs: list[dict[str, Any]] = field(default_factory=list)
    kept_publishes: list[dict[str, Any]] = field(default_factory=list)


def _plan(lines: list[Line], state: _Restore, report: SyncReport) -> _Plan:
    """Check and decode one part's lines (no database: it runs while the part before is written)."""
    plan = _Plan()
    for line in lines:
        if not _canonical(line.id):
            report.problems.append(f"snapshot line {line.id[:150]!r}: not a dataset id; skipped")
            state.incomplete = True
            continue
        tombstone = line.manifest is None or line.metadata is None
        if not tombstone and not _trusted(line, state):
            # Its documents are read again, but run records never change and /history only
            # grows: its rows are kept, so only newer run records are read.
            state.stale.append(line.id)
            if state.index is not None and line.id in state.index:
                plan.kept_runs += _run_rows(line)
                plan.kept_publishes += _publish_rows(line)
            continue
        if line.lifecycle is not None and state.lifecycles.get(line.id) != line.lifecycle.etag:
            try:
                doc = decode_document(
                    line.lifecycle.text, Lifecycle, name=f"{line.id}/lifecycle.json"
                )
            except FormatError as exc:
                report.problems.append(str(exc))
            else:
                if doc.dataset_id == line.id:
                    plan.docs.append((doc, line.lifecycle))
        if tombstone:
            continue
        prepared = _prepared(line, state, report)
        if prepared is not None:
            plan.batch.append(prepared)
    return plan


async def _apply(
    sessions: SessionMaker, plan: _Plan, state: _Restore, report: SyncReport, batch_size: int
) -> None:
    """Write one part's plan: kept rows and lifecycles first, then datasets in batches."""
    if plan.kept_runs or plan.kept_publishes:
        async with sessions() as session, session.begin():
            await copy_rows(session, plan.kept_runs, plan.kept_publishes)
    if plan.docs:
        async with sessions() as session, session.begin():
            for doc, raw in plan.docs:
                await store_lifecycle(session, doc, raw.etag, raw.text.encode())
                state.lifecycles[doc.dataset_id] = raw.etag
    for at in range(0, len(plan.batch), batch_size):
        await _commit(sessions, plan.batch[at : at + batch_size], report)


def _prepared(line: Line, state: _Restore, report: SyncReport) -> tuple[_Work, _Prepared] | None:
    """The sync's work item for a line, decoded by the sync's own rule (``None``: nothing to do)."""
    assert line.manifest is not None
    assert line.metadata is not None
    etags = (line.manifest.etag, line.metadata.etag, line.readme.etag if line.readme else "")
    if state.have.get(line.id) == etags:
        state.seen.add(line.id)
        return None  # restored before an interruption
    dsid = DatasetId.parse(line.id)  # checked by the caller
    listing = _Listing(dsid, {"manifest.json": etags[0], "metadata.json": etags[1]})
    if line.readme is not None:
        listing.etags["README.md"] = etags[2]
    work = _Work(line.id, listing, {}, True)
    got: list[bytes | None] = [
        line.manifest.text.encode(),
        line.metadata.text.encode(),
        line.readme.text.encode() if line.readme else None,
    ]
    prepared = _prepare(work, got, report)
    if prepared.documents is None:
        state.incomplete = True  # a problem (in the report): read from its documents
        return None
    state.seen.add(line.id)
    prepared.copied_runs = _run_rows(line)
    prepared.copied_publishes = _publish_rows(line)
    return work, prepared


def _run_rows(line: Line) -> list[dict[str, Any]]:
    return [{"dataset_id": line.id, **msgspec.structs.asdict(run)} for run in line.runs]


def _publish_rows(line: Line) -> list[dict[str, Any]]:
    return [{"dataset_id": line.id, **msgspec.structs.asdict(p)} for p in line.publishes]
