"""Reading: the manifest, verified shards (fetch, bounded decode, cache), load, scan and urls."""

from __future__ import annotations

import difflib
import hashlib
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opendata._cache import Cache
from opendata._config import settings
from opendata._results import Format, ShardUrl
from opendata_core.documents import Manifest, MetadataDocument, Shard, decode_document
from opendata_core.errors import (
    ColumnNotFound,
    CorruptDataError,
    DatasetNotFound,
    OpenDataError,
    first_line,
)
from opendata_core.ids import DatasetId
from opendata_core.store import NotFound, ObjectTooLarge
from opendata_core.timerange import TimeRange, select_range

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from opendata._index import Catalog
    from opendata_core.decoding import Decoded
    from opendata_core.layout import Layout
    from opendata_core.store import Store

__all__ = ["Pin", "Reader", "ShardPlan", "arrow", "demo_command"]

Pin = tuple[str | None, str | date | datetime | None]
"""``(version, as_of)``: which version a read is pinned to; ``(None, None)`` is the current one."""

MAX_WORKERS = 8
_DECODE_CHECKED: set[tuple[str, int]] = set()
"""(sha256, limit) of shards :meth:`Reader.check_decode` passed: content never changes."""


def demo_command(store: Store) -> str | None:
    """The shell command that publishes the example datasets into ``store``, or ``None``.

    ``od demo`` publishes into the default local store (``$OPENDATA_HOME/store``) only; it comes
    with opendata-cli, which a consumer may not have installed yet.

    Example:
        >>> demo_command(LocalStore(settings().home / "store"))  # doctest: +SKIP
        'pip install opendata-cli && od demo --no-serve'
    """
    import importlib.util
    import shlex

    from opendata._stores import LocalStore

    current = settings()
    if not isinstance(store, LocalStore) or store.root != (current.home / "store").resolve():
        return None
    command = "od demo --no-serve"
    if current.home_env:
        command = f"OPENDATA_HOME={shlex.quote(current.home_env)} {command}"
    if importlib.util.find_spec("opendata_cli") is None:
        command = f"pip install opendata-cli && {command}"
    return command


def arrow() -> Any:
    """The pyarrow helpers module, imported on first use (``import opendata`` stays light)."""
    from opendata import _arrow

    return _arrow


@dataclass(frozen=True)
class ShardPlan:
    """What one load reads of each shard: columns, the exact time range and the user's filter.

    Built once per load (:meth:`Reader.plan`) and applied to every selected shard; it pickles,
    so another process (a Dask worker) reads a shard exactly as ``od.load`` does.
    """

    ds: DatasetId
    columns: list[str] | None
    bounds: TimeRange
    time_column: str | None
    time_type: Any
    """The time column's pyarrow type (None without a time column)."""
    user_filter: Any
    """The caller's filters as a pyarrow expression, or None."""
    filter_columns: set[str] | None
    """The columns ``user_filter`` reads (None: unknown, so every column)."""

    def read(self, reader: Reader, shard: Shard) -> pa.Table:
        """The shard's rows in range that pass the filter, in ``columns``, from verified bytes.

        Format-1.1 shards are read by verified ranges when only some columns or row groups are
        needed (:func:`opendata._ranged.read_ranged`); others whole (sha256).
        """
        from opendata_core.tables import range_expression

        tc, bounds, cols = self.time_column, self.bounds, self.columns
        expr = self.user_filter
        range_expr = None
        whole_range = tc is None or bounds.contains(shard.min, shard.max)
        if tc is not None and not whole_range:
            range_expr = range_expression(bounds, tc, self.time_type)
            if range_expr is not None:
                expr = range_expr if expr is None else expr & range_expr
        if shard.blocks and (cols is not None or not whole_range):
            from opendata._ranged import read_ranged

            table = read_ranged(
                reader,
                self.ds,
                shard,
                cols,
                None if whole_range else bounds,
                self.user_filter,
                self.filter_columns,
                range_expr,
                tc,
            )
            if table is not None:
                return table
        needs = None if self.filter_columns is None else set(self.filter_columns)
        if needs is not None and range_expr is not None and tc is not None:
            needs.add(tc)
        return reader.decode(self.ds, shard, cols, expr, needs)


class Reader:
    """Reads one store's documents and verified shards; the other parts of the client use it."""

    def __init__(
        self,
        store: Store,
        layout: Layout,
        index: Catalog,
        *,
        cache: Cache,
        max_decode_bytes: int,
        progress: Callable[[str, int, int], None] | None,
    ) -> None:
        self.store = store
        self.layout = layout
        self.index = index
        self.cache = cache
        self.max_decode_bytes = max_decode_bytes
        self.progress = progress

    def reporter(self, phase: str, total: int) -> Callable[[int], None]:
        """A thread-safe counter for one transfer that calls ``progress`` as it grows."""
        lock = threading.Lock()
        done = 0

        def add(amount: int) -> None:
            nonlocal done
            if self.progress is None:
                return
            with lock:
                done += amount
                now = done
            self.progress(phase, now, total)

        return add

    def manifest(self, ds: DatasetId) -> tuple[Manifest, str]:
        try:
            data, etag = self.store.get(self.layout.manifest(ds))
        except NotFound:
            raise self.not_found(ds) from None
        return decode_document(bytes(data), Manifest, name=f"{ds}/manifest.json"), etag

    def manifest_or_none(self, ds: DatasetId) -> tuple[Manifest | None, str | None]:
        try:
            return self.manifest(ds)
        except DatasetNotFound:
            return None, None

    def not_found(self, ds: DatasetId) -> DatasetNotFound:
        """The error for an unknown id: close matches, else the store searched and its size."""
        known = self.known_ids()
        where = self.store.url + (f"/{self.layout.prefix}" if self.layout.prefix else "")
        matches = difflib.get_close_matches(str(ds), known, n=3, cutoff=0.6)
        demo = None if known else demo_command(self.store)
        return DatasetNotFound(
            str(ds), matches, store=where, store_size=len(known), demo_command=demo
        )

    def known_ids(self) -> list[str]:
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

    def fetch(self, ds: DatasetId, shard: Shard) -> bytes | memoryview:
        """Download one shard and verify it; retry once, then CorruptDataError.

        The download stops at the manifest's ``bytes`` (a larger object is not downloaded at
        all); the sha256 must match; then the shard must pass :meth:`check_decode`.
        """
        key = self.layout.resolve(ds, shard.path)
        data, fresh = self._verified_bytes(ds, key, shard)
        self.check_decode(ds, key, shard, data)
        if fresh:
            self.cache.put(shard.sha256, data)
        return data

    def _verified_bytes(
        self, ds: DatasetId, key: str, shard: Shard
    ) -> tuple[bytes | memoryview, bool]:
        """The shard's bytes, sha256-checked (not yet decoded), and whether to cache them.

        From the cache (re-hashed) if there, else from the store (retried once); downloaded
        bytes of a remote store are to be cached once they decoded within the limit.
        """
        cached = self.cache.get(shard.sha256, shard.bytes)
        if cached is not None:
            return cached, False
        detail = ""
        for _attempt in range(2):
            try:
                data, _ = self.store.get(key, max_bytes=shard.bytes)
            except NotFound:
                detail = "the shard is missing from the store"
                continue
            except ObjectTooLarge as exc:
                detail = f"the object is {exc.size:,} bytes, the manifest lists {shard.bytes:,}"
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest == shard.sha256 and len(data) == shard.bytes:
                return data, self.store.local_path(key) is None
            detail = f"sha256 {digest[:12]}… does not match the manifest's {shard.sha256[:12]}…"
        raise CorruptDataError(str(ds), key, detail)

    def decode(
        self,
        ds: DatasetId,
        shard: Shard,
        columns: list[str] | None = None,
        filters: Any = None,
        filter_columns: set[str] | None = None,
    ) -> pa.Table:
        """A whole shard fetched, verified and decoded within its limit (:meth:`bounded`).

        ``filters`` (a pyarrow Expression) is applied batch by batch; ``filter_columns`` are the
        columns it reads besides ``columns`` (None: unknown, every column is decoded).
        """
        key = self.layout.resolve(ds, shard.path)
        data, fresh = self._verified_bytes(ds, key, shard)
        read = columns
        if columns is not None and filters is not None:
            extra = set(self.schema_names(ds, key, data)) if filter_columns is None else set()
            wanted = set(columns) | (filter_columns or set()) | extra
            read = [*columns, *sorted(wanted.difference(columns))]
        table = self.bounded(ds, key, shard, data, columns=read, filter=filters).table
        assert table is not None  # kept
        if read is not columns and columns is not None:
            table = table.select(columns)
        if fresh:
            self.cache.put(shard.sha256, data)
        return table

    @staticmethod
    def schema_names(ds: DatasetId, key: str, data: bytes | memoryview | bytearray) -> list[str]:
        """The top-level column names of a verified shard (from its footer)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(pa.BufferReader(data)).names)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise CorruptDataError(
                str(ds), key, f"not a readable Parquet file: {first_line(exc)}"
            ) from None

    def bounded(
        self,
        ds: DatasetId,
        key: str,
        shard: Shard,
        data: bytes | memoryview | bytearray,
        *,
        columns: list[str] | None = None,
        row_groups: list[int] | None = None,
        filter: Any = None,
        keep: bool = True,
    ) -> Decoded:
        """Decode verified bytes within :meth:`decode_limit` (core's bounded decode).

        Decoding stops the moment the bytes materialised pass the limit: a 3 KB file that
        decodes to gigabytes is refused after about the limit, whatever its encoding, nesting or
        compression. The footer's rows must be the manifest's.
        """
        from opendata_core.decoding import DecodeRefused, decode_parquet

        try:
            out = decode_parquet(
                data,
                name=key,
                limit=self.decode_limit(shard),
                stored=shard.bytes,
                columns=columns,
                row_groups=row_groups,
                filter=filter,
                keep=keep,
            )
        except DecodeRefused as exc:
            err = CorruptDataError(str(ds), key, exc.detail)
            if exc.over_limit:
                err.hint = (
                    "a shard this large is unusual (a decompression bomb?); if it is genuine, "
                    "raise OPENDATA_MAX_DECODE_BYTES"
                )
            raise err from None
        self.check_rows(ds, key, shard, out.rows)
        return out

    def check_decode(
        self, ds: DatasetId, key: str, shard: Shard, data: bytes | memoryview | bytearray
    ) -> None:
        """Refuse a shard that would not decode within its limit, before another engine reads it.

        For :meth:`scan` and local :meth:`urls`: the whole shard is decoded within the limit and
        dropped (once per shard and limit in this process). The limit is
        ``OPENDATA_MAX_DECODE_BYTES``, and at most 1 GiB plus 1,000 times the shard's size.
        """
        done = (shard.sha256, self.decode_limit(shard))
        if done in _DECODE_CHECKED:
            return
        self.bounded(ds, key, shard, data, keep=False)
        if len(_DECODE_CHECKED) > 100_000:
            _DECODE_CHECKED.clear()
        _DECODE_CHECKED.add(done)

    def decode_limit(self, shard: Shard) -> int:
        """The most bytes this shard may decode to (:func:`opendata_core.decoding.decode_limit`)."""
        from opendata_core.decoding import decode_limit

        return decode_limit(shard.bytes, self.max_decode_bytes)

    def check_rows(self, ds: DatasetId, key: str, shard: Shard, rows: int) -> None:
        """The footer's rows must be the manifest's."""
        if rows != shard.rows:
            raise CorruptDataError(
                str(ds), key, f"the file holds {rows:,} rows, the manifest lists {shard.rows:,}"
            )

    def read_table(
        self, ds: DatasetId, shard: Shard, *, cache: dict[str, pa.Table] | None = None
    ) -> pa.Table:
        """A whole shard, verified; ``cache`` (by sha256) avoids reading it twice in one push."""
        if cache is not None and shard.sha256 in cache:
            return cache[shard.sha256]
        table = self.decode(ds, shard)
        if cache is not None:
            cache[shard.sha256] = table
        return table

    def metadata_or_none(self, ds: DatasetId) -> MetadataDocument | None:
        try:
            data, _ = self.store.get(self.layout.metadata(ds))
        except NotFound:
            return None
        return decode_document(bytes(data), MetadataDocument, name=f"{ds}/metadata.json")

    def select(
        self, ds: DatasetId, start: object, end: object, version: Pin = (None, None)
    ) -> tuple[Manifest, list[Shard], TimeRange]:
        """The version to read of ``ds`` (no lifecycle check: :meth:`select_live` has one)."""
        manifest = self._manifest_for(ds, start, end, version)
        time_range, shards = select_range(manifest, start, end)
        return manifest, shards, time_range

    def select_live(
        self, id: str | DatasetId, start: object, end: object, version: Pin = (None, None)
    ) -> tuple[DatasetId, Manifest, list[Shard], TimeRange]:
        """:meth:`select` of the id ``id`` leads to, after its lifecycle's warning or error.

        The lifecycle and the manifest are read at the same time (:func:`opendata._lifecycle.
        live_with`); the live id comes first (a moved id's shards are the new id's keys).
        """
        from opendata._lifecycle import live_with

        ds, manifest = live_with(self, id, lambda d: self._manifest_for(d, start, end, version))
        time_range, shards = select_range(manifest, start, end)
        return ds, manifest, shards, time_range

    def _manifest_for(self, ds: DatasetId, start: object, end: object, version: Pin) -> Manifest:
        from opendata._registry import RegistryTransport
        from opendata._versions import resolve

        if isinstance(self.store, RegistryTransport):
            from opendata._offline import registry_manifest

            # One request: the registry chooses the version and signs the shards that overlap.
            return registry_manifest(self, self.store, ds, start, end, version)
        return resolve(self, ds, *version)

    def check_columns(
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
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> Any:
        """Load as :meth:`opendata.Client.load` documents."""
        if format not in ("pandas", "polars", "arrow"):
            raise ValueError(f"format={format!r}: use 'pandas', 'polars' or 'arrow'")
        ds = DatasetId.parse(id)
        seen: dict[str, str] = {}
        pin: Pin = (version, as_of)
        try:
            table = self.load_table(ds, start, end, columns, filters, seen, pin, check=True)
        except CorruptDataError:
            # A publish may have replaced the manifest (and a collector its old shards) while we
            # read: if the manifest changed, start again once on the new version (spec 4.2). A
            # pinned version that retention removed meanwhile gives VersionNotFound here (8.2).
            before = seen.get("publish_id")
            if before is None:
                raise
            ds = DatasetId.parse(seen["dataset_id"])  # where a moved id led
            if pin != (None, None):
                from opendata._versions import resolve

                resolve(self, ds, before)
                raise
            if self.manifest(ds)[0].publish_id == before:
                raise
            table = self.load_table(ds, start, end, columns, filters, seen)
        return _convert(table, format)

    def load_table(
        self,
        ds: DatasetId,
        start: object,
        end: object,
        columns: Sequence[str] | None,
        filters: Any,
        seen: dict[str, str],
        version: Pin = (None, None),
        *,
        check: bool = False,
    ) -> pa.Table:
        """The rows of one attempt; ``check``: the lifecycle first (the first attempt only)."""
        import pyarrow as pa

        if check:
            ds, manifest, shards, bounds = self.select_live(ds, start, end, version)
        else:
            manifest, shards, bounds = self.select(ds, start, end, version)
        seen["publish_id"] = manifest.publish_id
        seen["dataset_id"] = str(ds)
        plan = self.plan(ds, manifest, bounds, columns, filters)
        report = self.reporter("download", sum(s.bytes for s in shards))

        def read(shard: Shard) -> pa.Table:
            table = plan.read(self, shard)
            report(shard.bytes)
            return table

        if not shards:  # a dataset version with no files: no rows, the published columns
            empty = _empty_table(manifest)
            return empty.select(plan.columns) if plan.columns is not None else empty
        if len(shards) == 1:
            tables = [read(shards[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(shards))) as pool:
                tables = list(pool.map(read, shards))
        schema = tables[0].schema
        return pa.concat_tables([t if t.schema == schema else t.cast(schema) for t in tables])

    def plan(
        self,
        ds: DatasetId,
        manifest: Manifest,
        bounds: TimeRange,
        columns: Sequence[str] | None,
        filters: Any,
    ) -> ShardPlan:
        """What a load reads of each shard; checks the columns and builds the filter first."""
        cols = self.check_columns(ds, manifest, columns)
        tc = manifest.time_column
        ar = arrow()
        dtype = ar.parse_type(next(f.type for f in manifest.schema if f.name == tc)) if tc else None
        user_filter = ar.build_filter(filters, manifest.schema, str(ds))
        filter_cols = ar.filter_columns(filters) if user_filter is not None else set()
        return ShardPlan(ds, cols, bounds, tc, dtype, user_filter, filter_cols)

    def scan(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> pl.LazyFrame:
        """A LazyFrame as :meth:`opendata.Client.scan` documents."""
        polars = import_polars("od.scan")

        ds, manifest, shards, bounds = self.select_live(id, start, end, (version, as_of))
        paths = [str(self.local_verified(ds, s)) for s in shards]
        lf: pl.LazyFrame = polars.scan_parquet(paths)
        tc = manifest.time_column
        if tc is not None:
            if bounds.lo is not None:
                lf = lf.filter(polars.col(tc) >= polars.lit(bounds.lo))
            if bounds.hi is not None:
                lf = lf.filter(
                    polars.col(tc) <= polars.lit(bounds.hi)
                    if bounds.hi_inclusive
                    else polars.col(tc) < polars.lit(bounds.hi)
                )
        return lf

    def local_verified(self, ds: DatasetId, shard: Shard) -> Path:
        """A local file with the shard's exact bytes: in a local store, or in the cache.

        Every use re-hashes the file (sha256 ≈ 1.8 GB/s here): a cached file that changed on
        disk, even in one byte and keeping its size, is dropped and fetched again. A cached file
        is pinned (:meth:`Cache.pin`): polars may open it long after this returns, and eviction
        by this or another process must not pull it away meanwhile.
        """
        key = self.layout.resolve(ds, shard.path)
        local = self.store.local_path(key)
        if local is not None:
            raw = local.read_bytes() if local.is_file() else b""
            if len(raw) == shard.bytes and hashlib.sha256(raw).hexdigest() == shard.sha256:
                self.check_decode(ds, key, shard, raw)
                return local
            self.fetch(ds, shard)  # raises CorruptDataError with the detail
        for _attempt in range(2):
            data = self.fetch(ds, shard)  # from the cache (re-hashed) or the store (cached)
            target = self.cache.pin(shard.sha256, shard.bytes)
            if target is not None:
                return target
            if not self.cache.enabled:
                break
        # The cache is off (or cannot keep the file): a private temporary copy for polars.
        tmp_dir = Path(tempfile.mkdtemp(prefix="opendata-scan-"))
        target = tmp_dir / f"{shard.sha256}.parquet"
        target.write_bytes(data)
        return target

    def urls(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        signed: bool = False,
        expires: timedelta = timedelta(hours=1),
        version: str | None = None,
        as_of: str | date | datetime | None = None,
        local: bool = False,
    ) -> list[ShardUrl]:
        """Shard URLs as :meth:`opendata.Client.urls` documents."""
        if signed and local:
            raise ValueError(
                "urls(): signed=True and local=True exclude each other; pre-signed URLs are for "
                "another machine, local files for this one"
            )
        ds, _, shards, _ = self.select_live(id, start, end, (version, as_of))
        out = []
        for s in shards:
            key = self.layout.resolve(ds, s.path)
            if local:
                url = self.local_verified(ds, s).resolve().as_uri()
            else:
                url = self.store.sign(key, expires) if signed else self.store.uri(key)
            out.append(ShardUrl(url, s.sha256, s.rows, s.bytes, s.partition, s.min, s.max))
        return out


def _empty_table(manifest: Manifest) -> pa.Table:
    """A table with the manifest's columns and no rows (types that do not parse become null)."""
    import pyarrow as pa

    ar = arrow()
    fields = []
    for f in manifest.schema:
        try:
            dtype = ar.parse_type(f.type) if f.type.startswith(("date", "timestamp[")) else None
            dtype = dtype or pa.type_for_alias(f.type)
        except (ValueError, TypeError, KeyError):
            dtype = pa.null()
        fields.append(pa.field(f.name, dtype))
    return pa.schema(fields).empty_table()


def import_polars(feature: str) -> Any:
    """polars, or an ImportError naming the extra that installs it (it is optional: 175 MB)."""
    try:
        import polars
    except ImportError as err:
        raise ImportError(
            f"{feature} needs polars, which is not installed: "
            "pip install 'opendata-client[polars]' (or pip install polars)"
        ) from err
    return polars


def _convert(table: pa.Table, format: Format) -> Any:
    """The one place a loaded table becomes the caller's format (the mapping is in the guide)."""
    if format == "arrow":
        return table
    if format == "polars":
        return import_polars('format="polars"').from_arrow(table)
    # Dates become datetime64[ms] (not objects), so .dt, resample and date indexes work; the unit
    # is pyarrow's and polars' (pl.DataFrame.to_pandas) own for dates, and never overflows.
    return table.to_pandas(date_as_object=False)
