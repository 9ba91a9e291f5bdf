"""Publishing: shards, the manifest commit (spec 4.1), and metadata.json, README and index."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from opendata import _lifecycle
from opendata._checks import check_rows, check_table, check_unique_key, table_from
from opendata._profile import PREVIEW_ROWS, Summary, describe, preview_rows
from opendata._read import MAX_WORKERS, Reader, arrow
from opendata._registry_publish import RegistryWriter, require_metadata
from opendata._results import Mode, PushResult
from opendata._stream import is_stream
from opendata._versions import write_entry
from opendata_core.documents import (
    Field,
    IndexEntry,
    Manifest,
    MetadataDocument,
    Partitioning,
    Provenance,
    Shard,
    Stats,
    encode_document,
    schema_gate,
)
from opendata_core.errors import (
    ConflictError,
    FormatError,
    OpenDataError,
    SchemaMismatch,
    StoreUnavailable,
    first_line,
)
from opendata_core.ids import DatasetId
from opendata_core.metadata import DatasetMetadata, Source, load_metadata, validate_metadata
from opendata_core.publish import append_shards, build_manifest, same_data
from opendata_core.readme import render_readme
from opendata_core.retry import attempts
from opendata_core.store import PreconditionFailed

if TYPE_CHECKING:
    import pyarrow as pa

    from opendata_core.lifecycle import Lifecycle

__all__ = ["Writer"]

APPEND_RETRIES = 8
"""Merges of one append onto a newer version after a conflict (a registry rebases most itself)."""
APPEND_BACKOFF = 0.1
"""Seconds: the first retry's jitter ceiling; it doubles per retry, capped at 2 s (core's rule)."""
UPLOAD_BATCH_BYTES = 256 << 20
"""Registry mode asks for signed URLs for shards of about this many bytes at a time."""
COMMIT_ATTEMPTS = 4
"""Conditional PUTs of one manifest while its outcome stays unknown (5xx, reset, timeout)."""

logger = logging.getLogger("opendata")


class Writer:
    """Publishes datasets into the store that ``reader`` reads."""

    def __init__(self, reader: Reader, *, sleep: Callable[[float], None] = time.sleep) -> None:
        from opendata._registry import RegistryTransport

        self.reader = reader
        self.sleep = sleep
        """Waits between an append's attempts (injected by tests)."""
        self.registry = (
            RegistryWriter(reader.store) if isinstance(reader.store, RegistryTransport) else None
        )
        """Registry mode: shards go to signed URLs and the registry commits."""

    def write_shard(
        self, ds: DatasetId, data: pa.Buffer, reusable: set[str], *, dry_run: bool = False
    ) -> tuple[str, bool]:
        """Upload one shard unless the previous manifest lists it; ``(sha256, uploaded)``.

        With ``dry_run`` nothing is uploaded; ``uploaded`` says whether it would have been.
        """
        digest = hashlib.sha256(memoryview(data)).hexdigest()
        if digest in reusable:
            return digest, False
        if dry_run:
            return digest, True
        # Not listed by the previous manifest: upload even if the key exists, so a garbage
        # collection running now cannot delete it (the write refreshes its age).
        self.reader.store.put(self.reader.layout.shard(ds, digest), memoryview(data).tobytes())
        return digest, True

    def push(
        self,
        data: Any,
        id: str | DatasetId,
        *,
        metadata: str | os.PathLike[str] | DatasetMetadata | None = None,
        mode: Mode = "replace",
        time_column: str | None = None,
        partition: Partitioning | None = None,
        provenance: Provenance | None = None,
        dry_run: bool = False,
        allow_schema_change: bool = False,
    ) -> PushResult:
        """Publish ``data`` as :meth:`opendata.Client.push` documents."""
        started = time.perf_counter()
        ds = DatasetId.parse(id)
        if mode not in ("replace", "append"):
            raise ValueError(f"mode={mode!r}: use 'replace' or 'append'")
        meta = self.resolve_metadata(ds, metadata)
        if self.registry is not None and not dry_run:
            self.registry.check_credentials(ds)
        elif self.registry is None:
            _lifecycle.refuse(self.reader, ds)  # a registry refuses these on its side
        tc = time_column or (meta.time_column if meta else None)
        if tc is None and mode == "append":
            published, _ = self.reader.manifest_or_none(ds)
            tc = published.time_column if published else None
        if is_stream(data):
            if mode == "append":
                raise ValueError(
                    f"mode='append' takes the new rows as a table, not a "
                    f"{type(data).__name__}: collect them first (e.g. lazy.collect()), or publish "
                    "the whole dataset from the stream with mode='replace'"
                )
            return self.push_stream(
                data,
                ds,
                meta,
                tc,
                partition,
                provenance,
                started,
                dry_run=dry_run,
                allow_schema_change=allow_schema_change,
            )
        table = table_from(data, str(ds))
        check_table(table, str(ds), time_column=tc, primary_key=meta.primary_key if meta else ())
        # Exponential backoff with full jitter between attempts, so racing appenders spread out.
        retries = APPEND_RETRIES if mode == "append" else 1
        for _ in attempts(retries, sleep=self.sleep, base=APPEND_BACKOFF):
            try:
                return self.push_once(
                    ds,
                    table,
                    meta,
                    mode,
                    tc,
                    partition,
                    provenance,
                    started,
                    dry_run=dry_run,
                    allow_schema_change=allow_schema_change,
                )
            except ConflictError:
                if mode != "append":
                    raise
        raise ConflictError(str(ds), f"{ds}: gave up after {APPEND_RETRIES} conflicting publishes")

    def resolve_metadata(
        self, ds: DatasetId, metadata: str | os.PathLike[str] | DatasetMetadata | None
    ) -> DatasetMetadata | None:
        if metadata is None:
            return None
        meta = metadata if isinstance(metadata, DatasetMetadata) else load_metadata(metadata)
        if isinstance(metadata, DatasetMetadata):
            meta = validate_metadata(metadata)
        if meta.id != str(ds):
            raise OpenDataError(
                f"the metadata's id {meta.id!r} does not match the dataset id {str(ds)!r}",
                hint="push to the id in opendata.yaml, or fix the yaml",
            )
        return meta

    def push_once(
        self,
        ds: DatasetId,
        table: pa.Table,
        meta: DatasetMetadata | None,
        mode: Mode,
        tc: str | None,
        partition: Partitioning | None,
        provenance: Provenance | None,
        started: float,
        *,
        dry_run: bool = False,
        allow_schema_change: bool = False,
    ) -> PushResult:
        """One attempt: shards, manifest, commit (an append's caller retries a conflict)."""
        ar = arrow()
        table = ar.stable_types(table)
        previous, etag = self.reader.manifest_or_none(ds)
        base = previous if mode == "append" else None  # what an append merges into
        granularity = self.granularity(
            ds, lambda: ar.choose_granularity(table, tc or ""), meta, tc, partition, base
        )
        primary_key = list(meta.primary_key) if meta else []
        groups = self.partitions(ds, table, tc, granularity, primary_key, base)
        reusable = {s.sha256 for s in previous.shards} if previous else set()
        # Registry mode uploads later, in batches of signed URLs.
        later = dry_run or self.registry is not None
        built = self.build_shards(ds, groups, tc, reusable, upload=not later)
        return self.finish(
            ds,
            Draft(
                built=[(shard, fresh, _view(buf)) for shard, fresh, buf in built],
                uploaded=not later,
                schema=ar.schema_fields(groups[0][1].schema if groups else table.schema),
                granularity=granularity,
                primary_key=primary_key,
                summarize=lambda m: self.summarize(ds, m, dict(groups)),
            ),
            previous,
            etag,
            base,
            meta,
            mode,
            tc,
            provenance,
            started,
            dry_run=dry_run,
            allow_schema_change=allow_schema_change,
        )

    def push_stream(
        self,
        data: Any,
        ds: DatasetId,
        meta: DatasetMetadata | None,
        tc: str | None,
        partition: Partitioning | None,
        provenance: Provenance | None,
        started: float,
        *,
        dry_run: bool,
        allow_schema_change: bool,
    ) -> PushResult:
        """Publish a stream (a LazyFrame, a RecordBatchReader, a dataset, an iterator of frames).

        The input is read once, each batch checked and spilled to temporary Parquet files; then
        one shard at a time is assembled from them, encoded and kept on disk; only when every
        shard is built is anything uploaded, so bad input leaves the store untouched.
        """
        import pyarrow

        from opendata._stream import Spill, pieces

        primary_key = list(meta.primary_key) if meta else []
        with tempfile.TemporaryDirectory(prefix="od-push-") as tmp:
            spill = Spill(Path(tmp), str(ds), tc, primary_key)
            for piece in pieces(data, str(ds)):
                spill.add(piece)
            check_rows(spill.rows, str(ds))
            previous, etag = self.reader.manifest_or_none(ds)
            granularity = self.granularity(ds, spill.auto_granularity, meta, tc, partition, None)
            reusable = {s.sha256 for s in previous.shards} if previous else set()
            built: list[tuple[Shard, bool, Callable[[], Payload]]] = []
            partitions = spill.partitions(granularity)
            report = self.reader.reporter("upload", len(partitions))
            for label, first, last in partitions:
                part = spill.read(first, last)
                check_unique_key(part, str(ds), primary_key)
                spill.summary.add(part)
                shard, buf = self.encode_shard(label, part, tc)
                del part
                path = Path(tmp) / f"{shard.sha256}.parquet"
                path.write_bytes(memoryview(buf))
                del buf
                pyarrow.default_memory_pool().release_unused()  # hand the shard's memory back
                built.append((shard, shard.sha256 not in reusable, _file(path)))
                report(1)
            return self.finish(
                ds,
                Draft(
                    built=built,
                    uploaded=False,
                    schema=spill.fields(),
                    granularity=granularity,
                    primary_key=primary_key,
                    summarize=spill.summary.result,
                ),
                previous,
                etag,
                None,
                meta,
                "replace",
                tc,
                provenance,
                started,
                dry_run=dry_run,
                allow_schema_change=allow_schema_change,
            )

    def finish(
        self,
        ds: DatasetId,
        draft: Draft,
        previous: Manifest | None,
        etag: str | None,
        base: Manifest | None,
        meta: DatasetMetadata | None,
        mode: Mode,
        tc: str | None,
        provenance: Provenance | None,
        started: float,
        *,
        dry_run: bool,
        allow_schema_change: bool,
    ) -> PushResult:
        """The manifest of the built shards, the schema gate, the uploads left, the commit."""
        shards = [s for s, _, _ in draft.built]
        manifest = build_manifest(
            str(ds),
            append_shards(base.shards, shards) if base is not None else shards,
            schema=draft.schema,
            time_column=tc,
            partition=draft.granularity,
            previous=previous,
            primary_key=(
                draft.primary_key if meta or previous is None else list(previous.primary_key)
            ),
            provenance=provenance or Provenance(),
        )
        if previous is not None and same_data(manifest, previous):
            return self.unchanged(
                ds, previous, meta, draft.summarize, provenance, started, dry_run=dry_run
            )
        # The schema-drift gate, the registry's rule: refused unless allowed (appends too: their
        # types are the published ones, read back, and stable_types made the first publish's so).
        if not dry_run:
            schema_gate(str(ds), previous, manifest, allow=allow_schema_change)
        written = sum(1 for _, fresh, _ in draft.built if fresh)
        stats = manifest.stats()
        notes: list[str] = []
        if dry_run:
            pass
        elif self.registry is not None:
            written, stats, notes = self.commit_through_registry(
                ds, manifest, previous, meta, draft, mode, allow_schema_change
            )
        else:
            if not draft.uploaded:
                for shard, fresh, payload in draft.built:
                    if fresh:
                        data = payload()
                        body = data if isinstance(data, bytes) else data.tobytes()
                        self.reader.store.put(self.reader.layout.shard(ds, shard.sha256), body)
            # The history entry first (spec 8.1): a committed version always has one; a failure
            # here fails the push with nothing committed.
            write_entry(self.reader, ds, manifest, previous)
            # The publish: a conditional write of the manifest. Nothing after it may fail the push.
            self.commit(ds, manifest, etag, previous)
            notes = self.write_metadata(ds, manifest, meta, draft.summarize, provenance)
        return PushResult(
            dataset_id=str(ds),
            publish_id="" if dry_run else manifest.publish_id,
            rows=stats.row_count,
            bytes=stats.bytes,
            shards_written=written,
            shards_reused=stats.shard_count - written,
            duration=time.perf_counter() - started,
            schema_hash=manifest.schema_hash,
            schema_changed=previous is not None and previous.schema_hash != manifest.schema_hash,
            min_time=stats.min_time,
            max_time=stats.max_time,
            stats=stats,
            warnings=notes,
            schema=draft.schema,
            dry_run=dry_run,
        )

    def granularity(
        self,
        ds: DatasetId,
        auto: Callable[[], Partitioning],
        meta: DatasetMetadata | None,
        tc: str | None,
        partition: Partitioning | None,
        base: Manifest | None,
    ) -> Partitioning:
        """How the shards split: an append keeps the published one; else asked, set, or ``auto``."""
        if base is not None:
            if base.time_column != tc:
                raise SchemaMismatch(
                    str(ds),
                    tc,
                    f"append needs the published time column {base.time_column!r}, got {tc!r}",
                )
            return base.partition
        if tc is None:
            return "none"
        return partition or (meta.partition if meta and meta.partition else None) or auto()

    def partitions(
        self,
        ds: DatasetId,
        table: pa.Table,
        tc: str | None,
        granularity: Partitioning,
        primary_key: list[str],
        base: Manifest | None,
    ) -> list[tuple[str, pa.Table]]:
        """``(label, rows)`` per partition, sorted; an append's merged into the published ones.

        A partition an append touches is read back, the new rows added (the last row of a
        repeated primary key wins), and the whole partition rewritten; untouched ones stay.
        """
        import pyarrow as pa

        ar = arrow()
        if base is None:
            return list(ar.partition_groups(_sort(table, tc, primary_key), tc, granularity))
        read_cache: dict[str, pa.Table] = {}
        table = self.fit_schema(ds, table, base, read_cache)
        by_label: dict[str, list[Shard]] = {}
        for s in base.shards:
            by_label.setdefault(s.partition, []).append(s)
        groups = []
        for label, new_rows in ar.partition_groups(_sort(table, tc, primary_key), tc, granularity):
            old = [self.reader.read_table(ds, s, cache=read_cache) for s in by_label.get(label, [])]
            merged = pa.concat_tables([*(t.cast(new_rows.schema) for t in old), new_rows])
            if primary_key:
                merged = _dedupe_last(merged, primary_key)
            groups.append((label, _sort(merged, tc, primary_key)))
        return groups

    def build_shards(
        self,
        ds: DatasetId,
        groups: list[tuple[str, pa.Table]],
        tc: str | None,
        reusable: set[str],
        *,
        upload: bool,
    ) -> list[tuple[Shard, bool, pa.Buffer]]:
        """Encode each partition (concurrently): ``(shard, uploaded, bytes)`` per partition.

        With ``upload`` the new shards are written to the store at once; without, ``uploaded``
        says whether a shard would be (a dry run, or registry mode's batch upload later).
        """
        report = self.reader.reporter("upload", len(groups))

        def build(item: tuple[str, pa.Table]) -> tuple[Shard, bool, pa.Buffer]:
            shard, buf = self.encode_shard(*item, tc)
            uploaded = self.write_shard(ds, buf, reusable, dry_run=not upload)[1]
            report(1)
            return shard, uploaded, buf

        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, max(1, len(groups)))) as pool:
            return list(pool.map(build, groups))

    def encode_shard(self, label: str, part: pa.Table, tc: str | None) -> tuple[Shard, pa.Buffer]:
        """One partition as shard bytes and the manifest's entry for them."""
        from opendata._parquet_layout import shard_blocks

        ar = arrow()
        buf = ar.write_parquet(part)
        digest = hashlib.sha256(memoryview(buf)).hexdigest()
        lo, hi = ar.min_max(part.column(tc)) if tc else (None, None)
        nulls = {c: n for c in part.column_names if (n := part.column(c).null_count)}
        shard = Shard(
            path=f"parts/{digest}.parquet",
            sha256=digest,
            rows=part.num_rows,
            bytes=buf.size,
            partition=label,
            min=lo,
            max=hi,
            null_counts=nulls,
            blocks=shard_blocks(buf),
        )
        return shard, buf

    def commit_through_registry(
        self,
        ds: DatasetId,
        manifest: Manifest,
        previous: Manifest | None,
        meta: DatasetMetadata | None,
        draft: Draft,
        mode: Mode,
        allow_schema_change: bool,
    ) -> tuple[int, Stats, list[str]]:
        """Registry mode: the new shards to signed URLs, then the registry's commit.

        Returns the shards uploaded, the committed version's stats (the registry's totals when
        it rebased our partitions onto a newer version) and its warnings.
        """
        assert self.registry is not None
        written = 0
        batch: list[tuple[Shard, Callable[[], Payload]]] = []
        fresh = [(s, payload) for s, new, payload in draft.built if new]
        for i, (shard, payload) in enumerate(fresh):
            batch.append((shard, payload))
            if i + 1 == len(fresh) or sum(s.bytes for s, _ in batch) >= UPLOAD_BATCH_BYTES:
                written += self.registry.upload(
                    ds, [(s.sha256, memoryview(load())) for s, load in batch]
                )
                batch = []
        summary = draft.summarize(manifest)
        answer = self.registry.commit(
            ds,
            manifest,
            previous,
            require_metadata(ds, meta),
            summary.tail,
            render_readme(require_metadata(ds, meta)),
            allow_schema_change=allow_schema_change,
            mode=mode,
            preview_head=summary.head,
            profile=summary.profile,
        )
        stats = manifest.stats()
        if answer.rebased_onto is not None and answer.stats is not None:
            stats = answer.stats
        return written, stats, list(answer.warnings)

    def unchanged(
        self,
        ds: DatasetId,
        previous: Manifest,
        meta: DatasetMetadata | None,
        summarize: Callable[[Manifest], Summary],
        provenance: Provenance | None,
        started: float,
        *,
        dry_run: bool = False,
    ) -> PushResult:
        """The data is byte-identical to the live version: commit nothing.

        Through a registry, the registry is still asked whether this publisher may publish
        ``ds`` (:meth:`RegistryWriter.authorize`): a refusal raises, as a commit's would.

        ``updated_at`` stays when the data last changed; changed yaml fields are still written to
        ``metadata.json`` (not in a dry run).
        """
        if self.registry is not None and not dry_run:
            # Nothing to commit, but the registry may still refuse this publisher: say so now.
            self.registry.authorize(ds)
        notes: list[str] = []
        try:
            doc = self.reader.metadata_or_none(ds)
        except Exception:
            doc = None
        if (
            not dry_run
            and self.registry is None  # the registry writes metadata.json on its commits
            and (doc is None or (meta is not None and doc.dataset != meta))
        ):
            kept = doc.provenance if doc is not None else provenance
            notes = self.write_metadata(ds, previous, meta, summarize, kept)
        return PushResult(
            dataset_id=str(ds),
            publish_id=previous.publish_id,
            rows=previous.row_count,
            bytes=previous.bytes,
            shards_written=0,
            shards_reused=len(previous.shards),
            duration=time.perf_counter() - started,
            schema_hash=previous.schema_hash,
            schema_changed=False,
            min_time=previous.min_time,
            max_time=previous.max_time,
            stats=previous.stats(),
            warnings=notes,
            unchanged=True,
            schema=previous.schema,
            dry_run=dry_run,
        )

    def commit(
        self, ds: DatasetId, manifest: Manifest, etag: str | None, previous: Manifest | None
    ) -> None:
        """Write the manifest conditionally; settle an ambiguous reply by re-reading it (spec 4.1).

        A 412 after the store client retried our own PUT, a 5xx or reset after the write took
        effect, or a timeout all leave the outcome open. The manifest then says who won: our
        ``publish_id`` → committed; another one → :class:`ConflictError`; still the one we read →
        nothing happened, and the same conditional PUT is sent again (it can succeed only once).
        """
        key = self.reader.layout.manifest(ds)
        body = encode_document(manifest)
        before = previous.publish_id if previous else None
        failure: OpenDataError | None = None
        for _ in attempts(COMMIT_ATTEMPTS):
            try:
                self.reader.store.put(key, body, if_absent=etag is None, if_match=etag)
                return
            except PreconditionFailed:
                lost = True
            except StoreUnavailable as exc:
                lost, failure = False, exc
            try:
                current = self.reader.manifest_or_none(ds)[0]
            except (StoreUnavailable, FormatError) as exc:
                failure = exc
                continue  # cannot tell yet: ask again
            now = current.publish_id if current else None
            if now == manifest.publish_id:
                return  # ours is live: the reply was lost, or a retry of our own PUT lost to it
            if lost or now != before:
                raise ConflictError(str(ds)) from None
        raise StoreUnavailable(
            self.reader.store.url,
            f"{key}: could not confirm whether publish {manifest.publish_id} committed "
            f"({failure}); check `od info {ds}` before publishing again",
        )

    def fit_schema(
        self, ds: DatasetId, table: pa.Table, previous: Manifest, cache: dict[str, pa.Table]
    ) -> pa.Table:
        names = [f.name for f in previous.schema]
        missing = [n for n in names if n not in table.column_names]
        extra = [n for n in table.column_names if n not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected column(s) {', '.join(extra)}")
            raise SchemaMismatch(
                str(ds), (missing or extra)[0], "appended data has " + " and ".join(parts)
            )
        table = table.select(names)
        target = (
            self.reader.read_table(ds, previous.shards[-1], cache=cache).schema
            if previous.shards
            else table.schema
        )
        try:
            return table.cast(target)
        except Exception as exc:  # pyarrow raises several types for impossible casts
            raise SchemaMismatch(
                str(ds), None, f"appended data does not fit the published types: {exc}"
            ) from None

    def write_metadata(
        self,
        ds: DatasetId,
        manifest: Manifest,
        meta: DatasetMetadata | None,
        summarize: Callable[[Manifest], Summary],
        provenance: Provenance | None,
    ) -> list[str]:
        """Write metadata.json, README.md and the index entry after a commit; never raises.

        Returns the warnings of the steps that failed (also logged on the ``opendata`` logger).
        """
        try:
            previous_doc = self.reader.metadata_or_none(ds)
        except Exception:  # unreadable: written afresh below (or its write fails and warns)
            previous_doc = None
        if meta is None:
            meta = (
                previous_doc.dataset
                if previous_doc
                else DatasetMetadata(
                    id=str(ds),
                    title=ds.name,
                    description="",
                    license="",
                    repo="",
                    source=Source(provider=""),
                    time_column=manifest.time_column,
                )
            )
        stats = manifest.stats()
        notes: list[str] = []

        def step(what: str, action: Callable[[], object]) -> None:
            try:
                action()
            except Exception as exc:  # the publish stands whatever fails here
                note = (
                    f"{ds}: published {manifest.publish_id}, but writing {what} failed "
                    f"({first_line(exc)}); `od index rebuild` or the next publish repairs it"
                )
                logger.warning(note)
                notes.append(note)

        def write_metadata() -> None:
            summary = summarize(manifest)
            doc = MetadataDocument(
                dataset=meta,
                stats=stats,
                schema=manifest.schema,
                preview=summary.tail,
                updated_at=manifest.published_at,
                provenance=provenance or Provenance(repo=meta.repo or None),
                preview_head=summary.head,
                profile=summary.profile,
            )
            self.reader.store.put(self.reader.layout.metadata(ds), encode_document(doc))

        step("metadata.json", write_metadata)
        step(
            "README.md",
            lambda: self.reader.store.put(
                self.reader.layout.readme(ds), render_readme(meta).encode()
            ),
        )
        state: list[Lifecycle | None] = [None]

        def declare() -> None:
            state[0] = _lifecycle.declare(self.reader, ds, meta, manifest.published_at)

        step("lifecycle.json", declare)
        entry = IndexEntry.from_metadata(meta, stats, manifest.published_at, state[0])
        step("index.json", lambda: self.reader.index.update([entry]))
        return notes

    def summarize(
        self, ds: DatasetId, manifest: Manifest, in_memory: dict[str, pa.Table]
    ) -> Summary:
        """The first and last rows and the column statistics of the version ``manifest``."""
        head, profile = describe(self.reader, ds, manifest, in_memory)
        return Summary(head=head, profile=profile, tail=self.preview(ds, manifest, in_memory))

    def preview(
        self, ds: DatasetId, manifest: Manifest, in_memory: dict[str, pa.Table]
    ) -> list[dict[str, Any]]:
        """The last rows in time order (newest data is what people look at first)."""
        import pyarrow as pa

        tables: list[pa.Table] = []
        rows = 0
        for shard in reversed(manifest.shards):
            t = in_memory.get(shard.partition)
            if t is None or t.num_rows != shard.rows:
                t = self.reader.read_table(ds, shard)
            tables.insert(0, t)
            rows += t.num_rows
            if rows >= PREVIEW_ROWS:
                break
        if not tables:
            return []
        return preview_rows(
            pa.concat_tables([t.cast(tables[-1].schema) for t in tables]), last=True
        )


def _sort(table: pa.Table, tc: str | None, primary_key: Sequence[str]) -> pa.Table:
    keys = ([tc] if tc else []) + [k for k in primary_key if k != tc and k in table.column_names]
    if not keys:
        return table
    return table.sort_by([(k, "ascending") for k in keys])


def _dedupe_last(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Keep the last row of each primary-key value (appended rows win)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = [k for k in keys if k not in table.column_names]
    if missing:
        raise OpenDataError(f"primary_key column(s) {', '.join(missing)} are not in the data")
    idx = "__opendata_row__"
    t = table.append_column(idx, pa.array(range(table.num_rows), pa.int64()))
    last = t.group_by(list(keys), use_threads=False).aggregate([(idx, "max")]).column(f"{idx}_max")
    return table.take(last.take(pc.sort_indices(last)))


Payload = bytes | memoryview
"""A shard's bytes: in memory (an in-memory push) or read from its file (a streamed one)."""


class Draft(NamedTuple):
    """The shards a publish built, before its manifest."""

    built: list[tuple[Shard, bool, Callable[[], Payload]]]
    """``(shard, fresh, bytes)``: ``fresh`` when the previous version does not list it."""
    uploaded: bool
    """Whether the fresh shards are in the store already (a direct in-memory publish)."""
    schema: list[Field]
    granularity: Partitioning
    primary_key: list[str]
    summarize: Callable[[Manifest], Summary]


def _view(buf: pa.Buffer) -> Callable[[], Payload]:
    return lambda: memoryview(buf)


def _file(path: Path) -> Callable[[], Payload]:
    return path.read_bytes
