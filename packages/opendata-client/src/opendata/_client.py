"""The client: publish (``push``), read (``load``, ``scan``, ``urls``), discover, clean up."""

from __future__ import annotations

import builtins
import difflib
import hashlib
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from opendata._config import settings
from opendata._index import Index, entry_from
from opendata._stores import (
    ObjectTooLarge,
    PreconditionFailed,
    Store,
    StoreKeyNotFound,
    _first_line,
    backoff_sleep,
    open_store,
)
from opendata_core.documents import (
    IndexEntry,
    Manifest,
    MetadataDocument,
    Provenance,
    Shard,
    Stats,
    decode_document,
    encode_document,
    schema_hash,
)
from opendata_core.errors import (
    ColumnNotFound,
    ConflictError,
    CorruptDataError,
    DatasetNotFound,
    FormatError,
    OpenDataError,
    SchemaMismatch,
    StoreUnavailable,
)
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.metadata import DatasetMetadata, Source, load_metadata, validate_metadata
from opendata_core.timerange import TimeRange, select_range

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["Client", "GcResult", "PushResult", "ShardUrl"]

PREVIEW_ROWS = 100
MAX_WORKERS = 8
APPEND_RETRIES = 5
COMMIT_ATTEMPTS = 4
"""Conditional PUTs of one manifest while its outcome stays unknown (5xx, reset, timeout)."""
DECODE_FLOOR = 1 << 30
DECODE_RATIO = 1000
"""A shard may decode to at most DECODE_FLOOR + DECODE_RATIO times its size (and the setting)."""

logger = logging.getLogger("opendata")
DEFAULT_GC_GRACE = timedelta(hours=1)

Mode = Literal["replace", "append"]
Format = Literal["pandas", "polars", "arrow"]


@dataclass(frozen=True)
class PushResult:
    """What a push did."""

    dataset_id: str
    publish_id: str
    rows: int
    bytes: int
    shards_written: int
    shards_reused: int
    duration: float
    schema_hash: str
    schema_changed: bool
    min_time: str | None = None
    max_time: str | None = None
    stats: Stats | None = None
    """The published version's statistics (as in ``metadata.json``)."""
    warnings: list[str] = field(default_factory=list)
    """Steps after the commit that failed (metadata, README, index): the publish stands, and
    ``od index rebuild`` (or the next publish) repairs them."""
    unchanged: bool = False
    """The data was byte-identical to the live version: nothing was committed, and
    ``publish_id`` is the live version's."""

    def __str__(self) -> str:
        cov = f", {self.min_time} .. {self.max_time}" if self.min_time else ""
        if self.unchanged:
            return (
                f"{self.dataset_id}: unchanged ({self.rows:,} rows{cov}); the data is identical "
                f"to publish {self.publish_id}, nothing was committed"
            )
        return (
            f"{self.dataset_id}: {self.rows:,} rows{cov}; {self.shards_written} shard(s) written, "
            f"{self.shards_reused} reused, {self.bytes:,} bytes, {self.duration:.2f}s"
        )


@dataclass(frozen=True)
class ShardUrl:
    """One shard of a dataset, for tools that read Parquet themselves (DuckDB, Spark, ...)."""

    url: str
    sha256: str
    rows: int
    bytes: int
    partition: str
    min: str | None
    max: str | None


@dataclass(frozen=True)
class GcResult:
    """What a garbage collection removed (or would remove, with ``dry_run``)."""

    dataset_id: str
    deleted: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept_in_grace: int = 0


def _arrow() -> Any:
    from opendata import _arrow

    return _arrow


class Client:
    """Publishes and loads datasets in one store.

    Args:
        store: A folder path, ``file:///path``, ``s3://bucket/prefix``, ``r2://bucket/prefix`` or a
            :class:`~opendata._stores.Store`; default ``OPENDATA_STORE``, then the user config,
            then ``$OPENDATA_HOME/store``.
        prefix: Key prefix inside the bucket (overrides the one in the URL).
        progress: Called as ``progress(phase, done, total)`` while transferring:
            ``("download", bytes, total bytes)`` per shard loaded and
            ``("upload", shards, total shards)`` per shard published (the CLI draws bars).

    Example:
        >>> import opendata as od
        >>> client = od.Client(store="/tmp/od-example-store")
        >>> import pandas as pd
        >>> dates = pd.to_datetime(["2024-01-01", "2024-01-02"]).date
        >>> df = pd.DataFrame({"date": dates, "x": [1, 2]})
        >>> client.push(df, "me/example", time_column="date").rows
        2
        >>> client.load("me/example", start="2024-01-02")["x"].tolist()
        [2]
    """

    def __init__(
        self,
        store: str | os.PathLike[str] | Store | None = None,
        *,
        prefix: str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        s = settings()
        if store is None and s.registry and not os.environ.get("OPENDATA_STORE"):
            raise OpenDataError(
                f"OPENDATA_REGISTRY is set ({s.registry}), but this version of opendata-client "
                "cannot use a registry yet",
                hint="unset OPENDATA_REGISTRY and set OPENDATA_STORE (s3://bucket/prefix) instead",
            )
        if isinstance(store, Store):
            self.store, url_prefix = store, ""
        else:
            self.store, url_prefix = open_store(
                os.fspath(store) if store is not None else s.store,
                r2_account_id=s.r2_account_id,
                endpoint=s.aws_endpoint_url,
                region=s.aws_region,
            )
        self.layout = Layout(prefix if prefix is not None else url_prefix)
        self.index = Index(self.store, self.layout)
        self._cache_dir = s.cache_dir
        self._max_decode_bytes = s.max_decode_bytes
        self._progress = progress

    def _reporter(self, phase: str, total: int) -> Callable[[int], None]:
        """A thread-safe counter for one transfer that calls ``progress`` as it grows."""
        lock = threading.Lock()
        done = 0

        def add(amount: int) -> None:
            nonlocal done
            if self._progress is None:
                return
            with lock:
                done += amount
                now = done
            self._progress(phase, now, total)

        return add

    def __repr__(self) -> str:
        return f"Client(store={self.store.url!r}, prefix={self.layout.prefix!r})"

    # -----------------------------------------------------------------------------------------
    # Reading the manifest

    def _manifest(self, ds: DatasetId) -> tuple[Manifest, str]:
        try:
            data, etag = self.store.get(self.layout.manifest(ds))
        except StoreKeyNotFound:
            raise self._not_found(ds) from None
        return decode_document(bytes(data), Manifest, name=f"{ds}/manifest.json"), etag

    def manifest(self, id: str | DatasetId) -> Manifest:
        """The dataset's current ``manifest.json`` (its shards, schema and coverage)."""
        return self._manifest(DatasetId.parse(id))[0]

    def _manifest_or_none(self, ds: DatasetId) -> tuple[Manifest | None, str | None]:
        try:
            return self._manifest(ds)
        except DatasetNotFound:
            return None, None

    def _not_found(self, ds: DatasetId) -> DatasetNotFound:
        """The error for an unknown id: close matches, else the store searched and its size."""
        known = self._known_ids()
        where = self.store.url + (f"/{self.layout.prefix}" if self.layout.prefix else "")
        matches = difflib.get_close_matches(str(ds), known, n=3, cutoff=0.6)
        return DatasetNotFound(str(ds), matches, store=where, store_size=len(known))

    def _known_ids(self) -> list[str]:
        try:
            known = [e.id for e in self.index.load().datasets]
        except OpenDataError:
            known = []
        if not known:
            root = self.layout.datasets_root()
            known = sorted(
                {
                    "/".join(o.key[len(root) :].split("/")[:2])
                    for o in self.store.list(root)
                    if o.key.endswith("/manifest.json")
                }
            )
        return known

    # -----------------------------------------------------------------------------------------
    # Shards

    def _fetch(self, ds: DatasetId, shard: Shard) -> bytes | memoryview:
        """Download one shard and verify it; retry once, then CorruptDataError.

        The download stops at the manifest's ``bytes`` (a larger object is not downloaded at
        all); the sha256 must match; then the footer must pass :meth:`_check_footer`.
        """
        key = self.layout.resolve(ds, shard.path)
        detail = ""
        for _attempt in range(2):
            try:
                data, _ = self.store.get(key, max_bytes=shard.bytes)
            except StoreKeyNotFound:
                detail = "the shard is missing from the store"
                continue
            except ObjectTooLarge as exc:
                detail = f"the object is {exc.size:,} bytes, the manifest lists {shard.bytes:,}"
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest == shard.sha256 and len(data) == shard.bytes:
                self._check_footer(ds, key, shard, data)
                return data
            detail = f"sha256 {digest[:12]}… does not match the manifest's {shard.sha256[:12]}…"
        raise CorruptDataError(str(ds), key, detail)

    def _check_footer(
        self, ds: DatasetId, key: str, shard: Shard, data: bytes | memoryview
    ) -> None:
        """Refuse a shard whose footer disagrees with the manifest or that would decode too big.

        Only the footer is read (and, for dictionary-encoded text whose worst case is too large,
        the dictionary indices): a 3 KB file that decodes to gigabytes is refused before a data
        page is decoded. The limit is ``OPENDATA_MAX_DECODE_BYTES``, and at most 1 GiB plus
        1,000 times the shard's size.
        """
        limit = min(self._max_decode_bytes, DECODE_FLOOR + DECODE_RATIO * shard.bytes)
        try:
            rows, estimate = _decoded_size(data, limit)
        except CorruptDataError as exc:
            raise CorruptDataError(str(ds), key, exc.message) from None
        if rows != shard.rows:
            raise CorruptDataError(
                str(ds), key, f"the file holds {rows:,} rows, the manifest lists {shard.rows:,}"
            )
        if estimate > limit:
            err = CorruptDataError(
                str(ds),
                key,
                f"its {shard.bytes:,} bytes would decode to about {estimate:,} bytes, more than "
                f"the {limit:,} allowed; refusing to decode it",
            )
            err.hint = (
                "a shard this large is unusual (a decompression bomb?); if it is genuine, raise "
                "OPENDATA_MAX_DECODE_BYTES"
            )
            raise err

    def _write_shard(self, ds: DatasetId, data: pa.Buffer, reusable: set[str]) -> tuple[str, bool]:
        digest = hashlib.sha256(memoryview(data)).hexdigest()
        if digest in reusable:
            return digest, False
        # Not listed by the previous manifest: upload even if the key exists, so a garbage
        # collection running now cannot delete it (the write refreshes its age).
        self.store.put(self.layout.shard(ds, digest), memoryview(data).tobytes())
        return digest, True

    # -----------------------------------------------------------------------------------------
    # push

    def push(
        self,
        data: Any,
        id: str | DatasetId,
        *,
        metadata: str | os.PathLike[str] | DatasetMetadata | None = None,
        mode: Mode = "replace",
        time_column: str | None = None,
        partition: Literal["year", "month", "day", "none"] | None = None,
        provenance: Provenance | None = None,
    ) -> PushResult:
        """Publish a dataset: content-addressed shards first, then the manifest (the commit).

        Args:
            data: A pandas or polars DataFrame, a pyarrow Table, or a path to a .parquet/.csv file.
            id: ``namespace/name``.
            metadata: An ``opendata.yaml`` path or a :class:`DatasetMetadata`; its id must match.
            mode: ``"replace"`` publishes ``data`` as the whole dataset; ``"append"`` merges it into
                the partitions it touches only (deduplicating on the metadata's ``primary_key``).
            time_column: Column to shard and filter on (default: the metadata's ``time_column``).
            partition: ``"year"``, ``"month"``, ``"day"`` or ``"none"`` (default: chosen from size).
            provenance: Repository, commit and run URL to record (``od run`` fills it in).

        Raises:
            ConflictError: another publish committed first (``append`` retries on its own).
            SchemaMismatch: ``append`` with columns that do not fit the published ones.
        """
        started = time.perf_counter()
        ds = DatasetId.parse(id)
        if mode not in ("replace", "append"):
            raise ValueError(f"mode={mode!r}: use 'replace' or 'append'")
        meta = self._resolve_metadata(ds, metadata)
        ar = _arrow()
        table = ar.to_table(data)
        if table.num_rows == 0:
            raise ValueError(
                f"{ds}: refusing to publish an empty table (0 rows); nothing was changed"
            )
        tc = time_column or (meta.time_column if meta else None)
        if tc is None and mode == "append":
            published, _ = self._manifest_or_none(ds)
            tc = published.time_column if published else None
        if tc is not None:
            if tc not in table.column_names:
                raise ColumnNotFound(str(ds), tc, table.column_names)
            if not ar.is_time_type(table.schema.field(tc).type):
                raise OpenDataError(
                    f"{ds}: time column {tc!r} has type {table.schema.field(tc).type}, "
                    "not a date or timestamp",
                    hint=f"convert it first, e.g. df[{tc!r}] = pd.to_datetime(df[{tc!r}])",
                )
            if table.column(tc).null_count:
                raise OpenDataError(
                    f"{ds}: time column {tc!r} has {table.column(tc).null_count} null value(s)",
                    hint="drop or fill those rows before publishing",
                )
        for attempt in range(APPEND_RETRIES if mode == "append" else 1):
            if attempt:
                backoff_sleep(attempt)  # with jitter, so racing appenders spread out
            try:
                return self._push_once(ds, table, meta, mode, tc, partition, provenance, started)
            except ConflictError:
                if mode != "append":
                    raise
        raise ConflictError(str(ds), f"{ds}: gave up after {APPEND_RETRIES} conflicting publishes")

    def _resolve_metadata(
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

    def _push_once(
        self,
        ds: DatasetId,
        table: pa.Table,
        meta: DatasetMetadata | None,
        mode: Mode,
        tc: str | None,
        partition: str | None,
        provenance: Provenance | None,
        started: float,
    ) -> PushResult:
        import pyarrow as pa

        ar = _arrow()
        previous, etag = self._manifest_or_none(ds)
        if mode == "append" and previous is not None:
            if previous.time_column != tc:
                raise SchemaMismatch(
                    str(ds),
                    tc,
                    f"append needs the published time column {previous.time_column!r}, got {tc!r}",
                )
            granularity = previous.partition
        elif tc is None:
            granularity = "none"
        else:
            granularity = (
                partition
                or (meta.partition if meta and meta.partition else None)
                or ar.choose_granularity(table, tc)
            )
        primary_key = list(meta.primary_key) if meta else []

        carried: list[Shard] = []
        groups: list[tuple[str, pa.Table]]
        read_cache: dict[str, pa.Table] = {}
        if mode == "append" and previous is not None:
            table = self._fit_schema(ds, table, previous, read_cache)
            by_label: dict[str, list[Shard]] = {}
            for s in previous.shards:
                by_label.setdefault(s.partition, []).append(s)
            new_groups = ar.partition_groups(_sort(table, tc, primary_key), tc, granularity)
            touched = {label for label, _ in new_groups}
            carried = [s for s in previous.shards if s.partition not in touched]
            groups = []
            for label, new_rows in new_groups:
                old = [self._read_table(ds, s, cache=read_cache) for s in by_label.get(label, [])]
                merged = pa.concat_tables([*(t.cast(new_rows.schema) for t in old), new_rows])
                if primary_key:
                    merged = _dedupe_last(merged, primary_key)
                groups.append((label, _sort(merged, tc, primary_key)))
        else:
            groups = ar.partition_groups(_sort(table, tc, primary_key), tc, granularity)

        reusable = {s.sha256 for s in previous.shards} if previous else set()
        written = 0

        def build(item: tuple[str, pa.Table]) -> tuple[Shard, bool]:
            label, part = item
            buf = ar.write_parquet(part)
            digest, uploaded = self._write_shard(ds, buf, reusable)
            lo, hi = ar.min_max(part.column(tc)) if tc else (None, None)
            nulls = {
                c: part.column(c).null_count for c in part.column_names if part.column(c).null_count
            }
            shard = Shard(
                path=f"parts/{digest}.parquet",
                sha256=digest,
                rows=part.num_rows,
                bytes=buf.size,
                partition=label,
                min=lo,
                max=hi,
                null_counts=nulls,
            )
            report(1)
            return shard, uploaded

        report = self._reporter("upload", len(groups))
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, max(1, len(groups)))) as pool:
            built = list(pool.map(build, groups))
        written = sum(1 for _, up in built if up)
        shards = sorted(
            [*carried, *(s for s, _ in built)], key=lambda s: (s.min or "", s.partition)
        )
        schema = ar.schema_fields(groups[0][1].schema if groups else table.schema)
        shash = schema_hash(schema)
        if (
            previous is not None
            and [s.sha256 for s in shards] == [s.sha256 for s in previous.shards]
            and (shash, tc, granularity)
            == (previous.schema_hash, previous.time_column, previous.partition)
        ):
            return self._unchanged(ds, previous, meta, groups, provenance, started)
        now = datetime.now(UTC)
        publish_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
        times = [(s.min, s.max) for s in shards if s.min is not None]
        manifest = Manifest(
            dataset_id=str(ds),
            publish_id=publish_id,
            published_at=now,
            parent_publish_id=previous.publish_id if previous else None,
            time_column=tc,
            partition=granularity,
            schema=schema,
            schema_hash=shash,
            row_count=sum(s.rows for s in shards),
            bytes=sum(s.bytes for s in shards),
            min_time=min(t[0] for t in times) if times else None,
            max_time=max(t[1] for t in times) if times else None,  # type: ignore[type-var]
            shards=shards,
        )
        # The publish: a conditional write of the manifest. Nothing after it may fail the push.
        self._commit(ds, manifest, etag, previous)
        notes = self._write_metadata(ds, manifest, meta, groups, provenance)
        return PushResult(
            dataset_id=str(ds),
            publish_id=publish_id,
            rows=manifest.row_count,
            bytes=manifest.bytes,
            shards_written=written,
            shards_reused=len(shards) - written,
            duration=time.perf_counter() - started,
            schema_hash=shash,
            schema_changed=previous is not None and previous.schema_hash != shash,
            min_time=manifest.min_time,
            max_time=manifest.max_time,
            stats=manifest.stats(),
            warnings=notes,
        )

    def _unchanged(
        self,
        ds: DatasetId,
        previous: Manifest,
        meta: DatasetMetadata | None,
        groups: list[tuple[str, pa.Table]],
        provenance: Provenance | None,
        started: float,
    ) -> PushResult:
        """The data is byte-identical to the live version: commit nothing.

        ``updated_at`` stays when the data last changed; changed yaml fields are still written to
        ``metadata.json``.
        """
        notes: list[str] = []
        try:
            doc = self._metadata_or_none(ds)
        except Exception:
            doc = None
        if doc is None or (meta is not None and doc.dataset != meta):
            kept = doc.provenance if doc is not None else provenance
            notes = self._write_metadata(ds, previous, meta, groups, kept)
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
        )

    def _commit(
        self, ds: DatasetId, manifest: Manifest, etag: str | None, previous: Manifest | None
    ) -> None:
        """Write the manifest conditionally; settle an ambiguous reply by re-reading it (spec 4.1).

        A 412 after the store client retried our own PUT, a 5xx or reset after the write took
        effect, or a timeout all leave the outcome open. The manifest then says who won: our
        ``publish_id`` → committed; another one → :class:`ConflictError`; still the one we read →
        nothing happened, and the same conditional PUT is sent again (it can succeed only once).
        """
        key = self.layout.manifest(ds)
        body = encode_document(manifest)
        before = previous.publish_id if previous else None
        failure: OpenDataError | None = None
        for attempt in range(COMMIT_ATTEMPTS):
            if attempt:
                backoff_sleep(attempt)
            try:
                self.store.put(key, body, if_absent=etag is None, if_match=etag)
                return
            except PreconditionFailed:
                lost = True
            except StoreUnavailable as exc:
                lost, failure = False, exc
            try:
                current = self._manifest_or_none(ds)[0]
            except (StoreUnavailable, FormatError) as exc:
                failure = exc
                continue  # cannot tell yet: ask again
            now = current.publish_id if current else None
            if now == manifest.publish_id:
                return  # ours is live: the reply was lost, or a retry of our own PUT lost to it
            if lost or now != before:
                raise ConflictError(str(ds)) from None
        raise StoreUnavailable(
            self.store.url,
            f"{key}: could not confirm whether publish {manifest.publish_id} committed "
            f"({failure}); check `od info {ds}` before publishing again",
        )

    def _fit_schema(
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
            self._read_table(ds, previous.shards[-1], cache=cache).schema
            if previous.shards
            else table.schema
        )
        try:
            return table.cast(target)
        except Exception as exc:  # pyarrow raises several types for impossible casts
            raise SchemaMismatch(
                str(ds), None, f"appended data does not fit the published types: {exc}"
            ) from None

    def _read_table(
        self, ds: DatasetId, shard: Shard, *, cache: dict[str, pa.Table] | None = None
    ) -> pa.Table:
        """A whole shard, verified; ``cache`` (by sha256) avoids reading it twice in one push."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if cache is not None and shard.sha256 in cache:
            return cache[shard.sha256]
        table = pq.read_table(pa.BufferReader(self._fetch(ds, shard)))
        if cache is not None:
            cache[shard.sha256] = table
        return table

    def _write_metadata(
        self,
        ds: DatasetId,
        manifest: Manifest,
        meta: DatasetMetadata | None,
        groups: list[tuple[str, pa.Table]],
        provenance: Provenance | None,
    ) -> list[str]:
        """Write metadata.json, README.md and the index entry after a commit; never raises.

        Returns the warnings of the steps that failed (also logged on the ``opendata`` logger).
        """
        try:
            previous_doc = self._metadata_or_none(ds)
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
                    f"({_first_line(exc)}); `od index rebuild` or the next publish repairs it"
                )
                logger.warning(note)
                notes.append(note)

        def write_metadata() -> None:
            doc = MetadataDocument(
                dataset=meta,
                stats=stats,
                schema=manifest.schema,
                preview=self._preview(ds, manifest, dict(groups)),
                updated_at=manifest.published_at,
                provenance=provenance or Provenance(repo=meta.repo or None),
            )
            self.store.put(self.layout.metadata(ds), encode_document(doc))

        step("metadata.json", write_metadata)
        step("README.md", lambda: self.store.put(self.layout.readme(ds), _readme(meta).encode()))
        entry = entry_from(meta, stats, manifest.published_at)
        step("index.json", lambda: self.index.update([entry]))
        return notes

    def _preview(
        self, ds: DatasetId, manifest: Manifest, in_memory: dict[str, pa.Table]
    ) -> list[dict[str, Any]]:
        """The last rows in time order (newest data is what people look at first)."""
        import pyarrow as pa

        tables: list[pa.Table] = []
        rows = 0
        for shard in reversed(manifest.shards):
            t = in_memory.get(shard.partition)
            if t is None or t.num_rows != shard.rows:
                t = self._read_table(ds, shard)
            tables.insert(0, t)
            rows += t.num_rows
            if rows >= PREVIEW_ROWS:
                break
        if not tables:
            return []
        return _preview(pa.concat_tables([t.cast(tables[-1].schema) for t in tables]))

    def _metadata_or_none(self, ds: DatasetId) -> MetadataDocument | None:
        try:
            data, _ = self.store.get(self.layout.metadata(ds))
        except StoreKeyNotFound:
            return None
        return decode_document(bytes(data), MetadataDocument, name=f"{ds}/metadata.json")

    # -----------------------------------------------------------------------------------------
    # load / scan / urls

    def _select(
        self, ds: DatasetId, start: object, end: object
    ) -> tuple[Manifest, list[Shard], TimeRange]:
        manifest, _ = self._manifest(ds)
        time_range, shards = select_range(manifest, start, end)
        return manifest, shards, time_range

    def _check_columns(
        self, ds: DatasetId, manifest: Manifest, columns: Sequence[str] | None
    ) -> list[str] | None:
        if columns is None:
            return None
        if isinstance(columns, str):
            columns = [columns]
        names = [f.name for f in manifest.schema]
        for c in columns:
            if c not in names:
                raise ColumnNotFound(str(ds), c, names)
        return list(columns)

    def load(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        columns: Sequence[str] | None = None,
        filters: Any = None,
        format: Format = "pandas",
    ) -> Any:
        """Load a dataset (or the rows in ``[start, end]``) as a DataFrame.

        One manifest read; only the shards overlapping the range are downloaded, concurrently,
        and each is verified against its sha256 before it is decoded.

        Args:
            id: ``namespace/name``.
            start: First date/time to include: a date, datetime, ``pandas.Timestamp``,
                ``numpy.datetime64`` or ISO text. Dates, months (``"2024-03"``) and years
                (``"2024"``) are whole periods: ``start="2024", end="2024"`` is all of 2024.
            end: Last date/time to include (inclusive).
            columns: Columns to return (default all).
            filters: Row filters, checked against the schema before anything is read:
                ``[(column, op, value), ...]`` (all hold), a list of such lists (any holds) or a
                pyarrow expression; values are converted to the column's type
                (``[("date", ">=", "2024-03")]``).
            format: ``"pandas"`` (default; dates become ``datetime64[ms]``), ``"polars"`` or
                ``"arrow"``.

        Raises:
            DatasetNotFound: with close matches, or the store searched. RangeOutsideCoverage:
                with the coverage. ColumnNotFound: listing the real columns (also for filters).
            CorruptDataError: after one retry. ValueError: a malformed filter or bound.
        """
        if format not in ("pandas", "polars", "arrow"):
            raise ValueError(f"format={format!r}: use 'pandas', 'polars' or 'arrow'")
        ds = DatasetId.parse(id)
        seen: dict[str, str] = {}
        try:
            table = self._load_table(ds, start, end, columns, filters, seen)
        except CorruptDataError:
            # A publish may have replaced the manifest (and a collector its old shards) while we
            # read: if the manifest changed, start again once on the new version (spec 4.2).
            before = seen.get("publish_id")
            if before is None or self._manifest(ds)[0].publish_id == before:
                raise
            table = self._load_table(ds, start, end, columns, filters, seen)
        return _convert(table, format)

    def _load_table(
        self,
        ds: DatasetId,
        start: object,
        end: object,
        columns: Sequence[str] | None,
        filters: Any,
        seen: dict[str, str],
    ) -> pa.Table:
        import pyarrow as pa
        import pyarrow.parquet as pq

        manifest, shards, bounds = self._select(ds, start, end)
        seen["publish_id"] = manifest.publish_id
        cols = self._check_columns(ds, manifest, columns)
        tc = manifest.time_column
        ar = _arrow()
        dtype = ar.parse_type(next(f.type for f in manifest.schema if f.name == tc)) if tc else None
        user_filter = ar.build_filter(filters, manifest.schema, str(ds))

        report = self._reporter("download", sum(s.bytes for s in shards))

        def read(shard: Shard) -> pa.Table:
            data = self._fetch(ds, shard)
            report(shard.bytes)
            expr = user_filter
            if tc is not None and not bounds.contains(shard.min, shard.max):
                range_expr = ar.range_expression(bounds, tc, dtype)
                if range_expr is not None:
                    expr = range_expr if expr is None else expr & range_expr
            return pq.read_table(pa.BufferReader(data), columns=cols, filters=expr)

        if not shards:  # a dataset version with no files: no rows, the published columns
            empty = _empty_table(manifest)
            return empty.select(cols) if cols is not None else empty
        if len(shards) == 1:
            tables = [read(shards[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(shards))) as pool:
                tables = list(pool.map(read, shards))
        schema = tables[0].schema
        return pa.concat_tables([t if t.schema == schema else t.cast(schema) for t in tables])

    def scan(
        self, id: str | DatasetId, *, start: object = None, end: object = None
    ) -> pl.LazyFrame:
        """A polars LazyFrame over exactly the shards that overlap ``[start, end]``.

        Shards are verified (sha256) once and kept in a local cache named by content hash
        (``$OPENDATA_HOME/cache``); polars then streams them from disk, so datasets larger than
        memory work. Rows outside the range are filtered lazily.
        """
        import polars as pl

        ds = DatasetId.parse(id)
        manifest, shards, bounds = self._select(ds, start, end)
        paths = [str(self._local_verified(ds, s)) for s in shards]
        lf = pl.scan_parquet(paths)
        tc = manifest.time_column
        if tc is not None:
            if bounds.lo is not None:
                lf = lf.filter(pl.col(tc) >= pl.lit(bounds.lo))
            if bounds.hi is not None:
                lf = lf.filter(
                    pl.col(tc) <= pl.lit(bounds.hi)
                    if bounds.hi_inclusive
                    else pl.col(tc) < pl.lit(bounds.hi)
                )
        return lf

    def _local_verified(self, ds: DatasetId, shard: Shard) -> Path:
        """A local file with the shard's exact bytes: in a local store, or in the cache.

        Every use re-hashes the file (sha256 ≈ 1.8 GB/s here): a cached file that changed on
        disk, even in one byte and keeping its size, is dropped and fetched again.
        """
        key = self.layout.resolve(ds, shard.path)
        local = self.store.local_path(key)
        if local is not None:
            raw = local.read_bytes() if local.is_file() else b""
            if len(raw) == shard.bytes and hashlib.sha256(raw).hexdigest() == shard.sha256:
                self._check_footer(ds, key, shard, raw)
                return local
            self._fetch(ds, shard)  # raises CorruptDataError with the detail
        target = self._cache_dir / f"{shard.sha256}.parquet"
        if target.is_file():
            raw = target.read_bytes()
            if len(raw) == shard.bytes and hashlib.sha256(raw).hexdigest() == shard.sha256:
                self._check_footer(ds, key, shard, raw)
                return target
            target.unlink(missing_ok=True)  # damaged: fetch it again
        data = self._fetch(ds, shard)
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp-{secrets.token_hex(4)}")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return target

    def urls(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        signed: bool = False,
        expires: timedelta = timedelta(hours=1),
    ) -> list[ShardUrl]:
        """The shards overlapping ``[start, end]`` with their checksums, for other engines.

        URLs are ``file://`` for a local store and ``s3://`` for S3 (or pre-signed ``https://``
        with ``signed=True``). Rows outside the range are *not* removed: filter on the time
        column in the reading engine.
        """
        ds = DatasetId.parse(id)
        _, shards, _ = self._select(ds, start, end)
        out = []
        for s in shards:
            key = self.layout.resolve(ds, s.path)
            url = self.store.sign(key, expires) if signed else self.store.uri(key)
            out.append(ShardUrl(url, s.sha256, s.rows, s.bytes, s.partition, s.min, s.max))
        return out

    # -----------------------------------------------------------------------------------------
    # discovery

    def info(self, id: str | DatasetId) -> MetadataDocument:
        """The dataset's ``metadata.json``: yaml fields, stats, schema and a preview."""
        ds = DatasetId.parse(id)
        doc = self._metadata_or_none(ds)
        if doc is None:
            raise self._not_found(ds)
        return doc

    def list(self) -> builtins.list[IndexEntry]:
        """Every dataset in the index."""
        return self.index.load().datasets

    def search(
        self,
        query: str = "",
        *,
        topic: str | None = None,
        namespace: str | None = None,
        license: str | None = None,
        frequency: str | None = None,
        country: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[IndexEntry]:
        """Datasets whose id, title, description or topics contain every word of ``query``.

        Results are ranked: matches in the id and title count more than in the description.
        Filters are exact (case-insensitive).
        """
        words = [w.lower() for w in query.split()]
        scored: list[tuple[int, IndexEntry]] = []
        for e in self.index.load().datasets:
            if topic and topic.lower() not in (t.lower() for t in e.topics):
                continue
            if namespace and e.namespace != namespace.lower():
                continue
            if license and e.license.lower() != license.lower():
                continue
            if frequency and (e.frequency or "").lower() != frequency.lower():
                continue
            if country and country.upper() not in e.countries:
                continue
            fields = (
                e.id.lower(),
                e.title.lower(),
                " ".join(e.topics).lower(),
                e.description.lower(),
            )
            weights = (4, 3, 2, 1)
            score = 0
            for w in words:
                hit = sum(wt for f, wt in zip(fields, weights, strict=True) if w in f)
                if not hit:
                    break
                score += hit
            else:
                scored.append((score, e))
        scored.sort(key=lambda p: (-p[0], p[1].id))
        result = [e for _, e in scored]
        return result[:limit] if limit is not None else result

    # -----------------------------------------------------------------------------------------
    # garbage collection

    def gc(
        self,
        id: str | DatasetId,
        *,
        older_than: timedelta = DEFAULT_GC_GRACE,
        dry_run: bool = False,
    ) -> GcResult:
        """Delete shards no manifest references, keeping a grace period for readers in flight.

        A shard is deleted only when the current manifest does not list it, it is older than
        ``older_than``, and the current manifest itself was published more than ``older_than``
        ago (a reader that read the previous manifest has had that long to finish). Temporary
        files that killed writes left in a local store are deleted once older than ``older_than``.
        """
        ds = DatasetId.parse(id)
        manifest, _ = self._manifest(ds)
        now = datetime.now(UTC)
        referenced = {self.layout.resolve(ds, s.path) for s in manifest.shards}
        manifest_old = now - manifest.published_at >= older_than
        unlisted = (
            (obj, manifest_old)
            for obj in self.store.list(self.layout.parts_prefix(ds))
            if obj.key not in referenced
        )
        # Temporaries of killed writes: no reader ever sees them; a live write is younger.
        leftovers = ((obj, True) for obj in self.store.temporaries(self.layout.dataset_prefix(ds)))
        deleted, freed, kept = [], 0, 0
        for obj, collectable in itertools.chain(unlisted, leftovers):
            if not collectable or now - obj.last_modified < older_than:
                kept += 1
                continue
            if not dry_run:
                self.store.delete(obj.key)
            deleted.append(obj.key)
            freed += obj.size
        return GcResult(str(ds), deleted, freed, kept)


def _empty_table(manifest: Manifest) -> pa.Table:
    """A table with the manifest's columns and no rows (types that do not parse become null)."""
    import pyarrow as pa

    ar = _arrow()
    fields = []
    for f in manifest.schema:
        try:
            dtype = ar.parse_type(f.type) if f.type.startswith(("date", "timestamp[")) else None
            dtype = dtype or pa.type_for_alias(f.type)
        except (ValueError, TypeError, KeyError):
            dtype = pa.null()
        fields.append(pa.field(f.name, dtype))
    return pa.schema(fields).empty_table()


_FIXED_WIDTH = {"BOOLEAN": 1, "INT32": 8, "INT64": 8, "INT96": 8, "FLOAT": 8, "DOUBLE": 8}


def _decoded_size(data: bytes | memoryview, limit: int) -> tuple[int, int]:
    """The rows a Parquet file's footer declares and an upper estimate of its decoded bytes.

    Fixed-width columns: values times width. Text: the declared uncompressed size plus offsets,
    except dictionary-encoded text, which can expand to values times the longest entry; when that
    worst case passes ``limit``, the dictionaries and indices are read (not the expanded text)
    to measure the exact expanded size. Raises CorruptDataError (key filled in by the caller)
    when the footer cannot be read.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptDataError("", "", f"not a readable Parquet file: {_first_line(exc)}") from None
    estimate = 0
    suspicious: set[str] = set()
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for c in range(group.num_columns):
            col = group.column(c)
            values = max(col.num_values, 0)
            physical = col.physical_type
            if physical == "FIXED_LEN_BYTE_ARRAY":
                estimate += values * max(meta.schema.column(c).length or 0, 1)
            elif physical in _FIXED_WIDTH:
                estimate += values * _FIXED_WIDTH[physical]
            else:
                plain = max(col.total_uncompressed_size, 0) + 8 * values
                if (
                    col.has_dictionary_page
                    and values * plain > limit
                    and "." not in col.path_in_schema
                ):
                    suspicious.add(col.path_in_schema)
                else:
                    estimate += plain
    if suspicious and estimate <= limit:
        try:
            table = pq.read_table(
                pa.BufferReader(data),
                columns=sorted(suspicious),
                read_dictionary=sorted(suspicious),
            )
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise CorruptDataError(
                "", "", f"not a readable Parquet file: {_first_line(exc)}"
            ) from None
        for column in table.columns:
            for chunk in column.chunks:
                if not pa.types.is_dictionary(chunk.type):
                    estimate += chunk.nbytes
                    continue
                lengths = pc.binary_length(chunk.dictionary)
                expanded = pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0
                estimate += expanded + 8 * len(chunk)
    return meta.num_rows, estimate


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


def _convert(table: pa.Table, format: Format) -> Any:
    """The one place a loaded table becomes the caller's format (the mapping is in the guide)."""
    if format == "arrow":
        return table
    if format == "polars":
        import polars as pl

        return pl.from_arrow(table)
    # Dates become datetime64[ms] (not objects), so .dt, resample and date indexes work; the unit
    # is pyarrow's and polars' (pl.DataFrame.to_pandas) own for dates, and never overflows.
    return table.to_pandas(date_as_object=False)


def _preview(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.slice(max(0, table.num_rows - PREVIEW_ROWS)).to_pylist()
    return msgspec.to_builtins(rows)  # type: ignore[no-any-return]


def _readme(meta: DatasetMetadata) -> str:
    lines = [f"# {meta.title}", "", meta.description.strip(), ""]
    if meta.source.provider:
        lines.append(
            f"Source: {meta.source.provider}"
            + (f" ({meta.source.homepage})" if meta.source.homepage else "")
        )
    if meta.license:
        lines.append(f"License: {meta.license}")
    if meta.repo:
        lines.append(f"Repository: {meta.repo}")
    lines += ["", "```python", "import opendata as od", f'df = od.load("{meta.id}")', "```", ""]
    return "\n".join(lines)
