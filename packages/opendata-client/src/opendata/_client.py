"""The client: a thin facade over publishing, reading, discovery and garbage collection.

The work is done in ``_publish`` (push and the commit), ``_read`` (manifest, verified shards,
load, scan, urls), ``_discovery`` (info and search) and ``_gc``; ``_results`` holds what they
return.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

from opendata import _discovery, _gc, _lifecycle, _versions
from opendata._cache import Cache
from opendata._config import settings
from opendata._index import Catalog
from opendata._publish import Writer
from opendata._read import Reader
from opendata._results import (
    DEFAULT_GC_GRACE,
    Format,
    GcResult,
    Mode,
    PushResult,
    ShardUrl,
)
from opendata._stores import Store, open_store
from opendata_core.documents import encode_document
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.search import Matches, resolve_geo
from opendata_core.search import search as search_entries
from opendata_core.versions import CitationStyle, citation

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from opendata_core.api import HealthSummary, PublishSummary
    from opendata_core.documents import (
        IndexEntry,
        Manifest,
        MetadataDocument,
        Partitioning,
        Provenance,
        RunRecord,
    )
    from opendata_core.lifecycle import Lifecycle, TrustLevel
    from opendata_core.metadata import DatasetMetadata

__all__ = ["Client", "GcResult", "PushResult", "ShardUrl"]


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
        cache: Keep verified shards and blocks in the local cache (``OPENDATA_CACHE_DIR``, default
            ``$OPENDATA_HOME/cache``; size cap ``OPENDATA_CACHE_MAX``); default on unless
            ``OPENDATA_CACHE=0``. A fully cached load makes one request (the manifest).

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
        cache: bool | None = None,
    ) -> None:
        s = settings()
        if store is None and s.registry and not s.store_env:
            from opendata._registry import RegistryTransport

            store = RegistryTransport(s.registry, api_key=s.api_key)  # registry mode
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
        self.index = Catalog(self.store, self.layout)
        self.cache = Cache(
            s.cache_dir, max_bytes=s.cache_max, enabled=s.cache if cache is None else cache
        )
        self._reader = Reader(
            self.store,
            self.layout,
            self.index,
            cache=self.cache,
            max_decode_bytes=s.max_decode_bytes,
            progress=progress,
        )
        self._writer = Writer(self._reader)

    @property
    def store_url(self) -> str:
        """The store's URL (``file:///...``, ``s3://bucket``), without the key prefix."""
        return self.store.url

    def record_run(self, record: RunRecord) -> str:
        """Write a producer run's record (``od run`` calls it after every run); its key.

        Records live under ``datasets/<id>/runs/`` and are never read by loads.
        """
        ds = DatasetId.parse(record.dataset_id)
        if self._writer.registry is not None:
            if record.status == "success" and record.publish_id and not record.unchanged:
                return ""  # the registry's commit wrote this run's record
            return self._writer.registry.record_run(record)
        key = self.layout.run_record(ds, record.started_at, record.run_id)
        self.store.put(key, encode_document(record))
        return key

    def __repr__(self) -> str:
        return f"Client(store={self.store.url!r}, prefix={self.layout.prefix!r})"

    def health(self, id: str | DatasetId) -> HealthSummary | None:
        """The dataset's run health as the registry computes it (spec §5.6), or ``None``.

        Only a registry watches runs and freshness: ``status`` (``ok``, ``failing``, ``stale``,
        ``unknown``), ``stale`` and ``stale_reason`` (e.g. "last run 63 days ago: the schedule
        may have been disabled"), the last failure. A store read directly has none: ``None``.
        """
        from opendata._registry import RegistryTransport

        if not isinstance(self.store, RegistryTransport):
            return None
        return self.store.detail(DatasetId.parse(id)).health

    def manifest(self, id: str | DatasetId) -> Manifest:
        """The dataset's current ``manifest.json`` (its shards, schema and coverage)."""
        return self._reader.manifest(_lifecycle.live(self._reader, id))[0]

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
        """Publish a dataset: content-addressed shards first, then the manifest (the commit).

        Args:
            data: A pandas or polars DataFrame, a pyarrow Table, a path to a .parquet/.csv
                file, or a list of those (concatenated in memory); or a stream, published
                without holding it all in memory: a polars LazyFrame, a pyarrow
                RecordBatchReader or dataset, or an iterator (a generator) of frames. A stream
                is spilled to temporary Parquet files (``TMPDIR``) batch by batch, then each
                shard is built from them in turn: memory about twice the largest shard plus one
                batch; nothing is uploaded until every shard is built, so bad input publishes
                nothing. ``mode="append"`` takes a table, not a stream.
            id: ``namespace/name``.
            metadata: An ``opendata.yaml`` path or a :class:`DatasetMetadata`; its id must match.
            mode: ``"replace"`` publishes ``data`` as the whole dataset; ``"append"`` merges it into
                the partitions it touches only (deduplicating on the metadata's ``primary_key``).
            time_column: Column to shard and filter on (default: the metadata's ``time_column``).
            partition: ``"year"``, ``"month"``, ``"day"`` or ``"none"`` (default: chosen from size).
            provenance: Repository, commit and run URL to record (``od run`` fills it in).
            dry_run: Convert, check and build the shards, but write nothing; the result is what
                the push would have done (``result.dry_run`` is true, ``publish_id`` empty).
            allow_schema_change: Accept a schema that differs from the live version's (without
                it such a publish is refused: ``od run --allow-schema-change``).

        In registry mode (``OPENDATA_REGISTRY``) the shards go to the registry's signed upload
        URLs and the registry commits; credentials: the GitHub Actions OIDC token, else
        ``OPENDATA_PUBLISH_TOKEN``.

        Raises:
            InvalidData: the data fails a check (0 rows, duplicate column names, a time column
                that is not a date/timestamp or has nulls, primary-key nulls or repeated keys),
                or a stream's batch differs from the first one's columns or types.
            ColumnNotFound: the time column or a primary-key column is not in the data.
            ConflictError: another publish committed first (``append`` retries on its own).
            SchemaMismatch: ``append`` with columns that do not fit the published ones, or a
                changed schema without ``allow_schema_change``.
        """
        return self._writer.push(
            data,
            id,
            metadata=metadata,
            mode=mode,
            time_column=time_column,
            partition=partition,
            provenance=provenance,
            dry_run=dry_run,
            allow_schema_change=allow_schema_change,
        )

    @overload
    def load(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        columns: Sequence[str] | None = None,
        filters: Any = None,
        format: Literal["pandas"] = "pandas",
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> pd.DataFrame: ...

    @overload
    def load(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        columns: Sequence[str] | None = None,
        filters: Any = None,
        format: Literal["polars"],
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> pl.DataFrame: ...

    @overload
    def load(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        columns: Sequence[str] | None = None,
        filters: Any = None,
        format: Literal["arrow"],
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> pa.Table: ...

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
            version: Load this version instead of the current one: a ``publish_id`` or a unique
                prefix of at least 8 characters (see :meth:`versions`).
            as_of: Load the version that was current at this moment (a datetime, a date or ISO
                text; dates mean 00:00 UTC, no time zone means UTC).

        Raises:
            DatasetNotFound: with close matches, or the store searched. RangeOutsideCoverage:
                with the coverage. ColumnNotFound: listing the real columns (also for filters).
            CorruptDataError: after one retry. ValueError: a malformed filter or bound.
            VersionNotFound: no kept version matches ``version``/``as_of`` (it names the oldest
                kept version).
        """
        return self._reader.load(
            id,
            start=start,
            end=end,
            columns=columns,
            filters=filters,
            format=format,
            version=version,
            as_of=as_of,
        )

    def scan(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> pl.LazyFrame:
        """A polars LazyFrame over exactly the shards that overlap ``[start, end]``.

        Shards are verified (sha256) once and kept in a local cache named by content hash
        (``$OPENDATA_HOME/cache``); polars then streams them from disk, so datasets larger than
        memory work. Rows outside the range are filtered lazily. ``version`` and ``as_of``
        pin a version as in :meth:`load`.
        """
        return self._reader.scan(id, start=start, end=end, version=version, as_of=as_of)

    def to_dask(
        self,
        id: str | DatasetId,
        *,
        start: object = None,
        end: object = None,
        columns: Sequence[str] | None = None,
        filters: Any = None,
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> dd.DataFrame:
        """A Dask DataFrame with one partition per shard, read as :meth:`load` reads.

        Its values and dtypes are :meth:`load`'s, except that a dataset with a time column is
        indexed by it (``.reset_index()`` gives :meth:`load`'s frame); the divisions are the
        shards' time bounds, so ``ddf.loc["2024-03":"2024-05"]`` reads only the overlapping
        shards. The graph is pinned to the version current now and holds no credential and no
        signed URL: each worker opens the store itself (``OPENDATA_REGISTRY`` links are signed
        and renewed there, its key read from the worker's ``OPENDATA_API_KEY``) and verifies
        every shard. Arguments are :meth:`load`'s; needs ``opendata-client[dask]``.

        Example:
            >>> import opendata as od
            >>> ddf = od.to_dask("ecb/euro-fx-rates", start="2020")  # doctest: +SKIP
            >>> ddf.loc["2024-03":"2024-05"].groupby("currency").rate.mean().compute()  # doctest: +SKIP
        """  # noqa: E501
        from opendata._dask import to_dask

        return to_dask(
            self,
            id,
            start=start,
            end=end,
            columns=columns,
            filters=filters,
            version=(version, as_of),
        )

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
    ) -> builtins.list[ShardUrl]:
        """The shards overlapping ``[start, end]`` with their checksums, for other engines.

        URLs are ``file://`` for a local store and ``s3://`` for S3 (or pre-signed ``https://``
        with ``signed=True``). With ``local=True`` every shard is first made local and verified
        (sha256), as :meth:`scan` does: the URLs are ``file://`` paths into the local cache, a
        hit costs no request, and an engine such as DuckDB reads checked bytes without store
        credentials. Such a path is pinned (a hard link that eviction does not remove) until
        the process exits. Rows outside the range are *not* removed: filter on the
        time column in the reading engine. ``version`` and ``as_of`` pin a version as in
        :meth:`load`.
        """
        return self._reader.urls(
            id,
            start=start,
            end=end,
            signed=signed,
            expires=expires,
            version=version,
            as_of=as_of,
            local=local,
        )

    def info(
        self,
        id: str | DatasetId,
        *,
        version: str | None = None,
        as_of: str | date | datetime | None = None,
    ) -> MetadataDocument:
        """The dataset's ``metadata.json``: yaml fields, stats, schema and a preview.

        With ``version`` or ``as_of`` (as in :meth:`load`): the stats, schema, time and
        provenance of that version, the current yaml fields, and no preview.
        """
        ds = _lifecycle.live(self._reader, id)
        doc = _discovery.info(self._reader, ds)
        if version is None and as_of is None:
            return doc
        return _versions.pinned_info(doc, _versions.resolve(self._reader, ds, version, as_of))

    def lifecycle(self, id: str | DatasetId) -> Lifecycle:
        """The dataset's status, trust level and audit trail (``lifecycle.json``, spec §10).

        Moves are followed (the result's ``dataset_id`` is where ``id`` leads now; its
        ``previous_ids`` list the old ids). Unlike the reads, it neither warns nor raises for
        the status: it is how to look at a deprecated or withdrawn dataset. A dataset with no
        ``lifecycle.json`` is ``active`` and not verified (or ``deprecated`` when its
        ``opendata.yaml`` says so).

        Example:
            >>> import opendata as od
            >>> doc = od.Client().lifecycle("ecb/euro-fx-reference-rates")  # doctest: +SKIP
            >>> doc.status, doc.trust.level  # doctest: +SKIP
            ('active', 'verified-source')
        """
        return _lifecycle.current(self._reader, id)

    def versions(self, id: str | DatasetId) -> builtins.list[PublishSummary]:
        """The dataset's kept versions, newest first (spec §8).

        Each has its time, rows, bytes, coverage, schema change and provenance.
        """
        return _versions.listed(self._reader, _lifecycle.live(self._reader, id))

    def diff(
        self, id: str | DatasetId, v1: str, v2: str, *, rows: bool = True
    ) -> _versions.VersionDiff:
        """What changed from version ``v1`` to ``v2`` (ids or unique prefixes, as in :meth:`load`).

        Schema changes, row counts, coverage and, when the dataset has a primary key and
        ``rows`` is true, the keys of rows added, removed and changed. Only the shards that
        differ are read (shards with equal sha256 are skipped), so a one-day append is diffed
        in time proportional to the day.
        """
        return _versions.diff(self._reader, _lifecycle.live(self._reader, id), v1, v2, rows=rows)

    def cite(
        self,
        id: str | DatasetId,
        *,
        version: str | None = None,
        as_of: str | date | datetime | None = None,
        style: CitationStyle = "text",
    ) -> str:
        """A citation of one version (default the current one): text, APA, BibTeX or CFF.

        ``style`` is ``"text"`` (APA's parts with the licence and the access date), ``"apa"``,
        ``"bibtex"`` or ``"cff"`` (a ``CITATION.cff`` document); the portal shows the same text.

        It names the title, publisher, year, version, retrieval URL and licence. The URL is
        the version's own: its history entry in the store, or through a registry the
        registry's URL of that version (``…/v1/datasets/{ns}/{name}/versions/{publish_id}``).
        """
        ds = _lifecycle.live(self._reader, id)
        doc = _discovery.info(self._reader, ds)
        manifest = _versions.resolve(self._reader, ds, version, as_of)
        url = self.store.uri(self.layout.version(ds, manifest.publish_id))
        return citation(doc.dataset, manifest, url, style=style)

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
        geo: str | None = None,
        limit: int | None = None,
        country: str | None = None,
        trust: TrustLevel | None = None,
    ) -> Matches:
        """Datasets whose id, title, description or topics contain every word of ``query``.

        A query word matches a word it begins, or by its English stem (``"rating"`` finds
        ``rates``). Results are ranked: matches in the id and title count more than in the
        description. When a query finds nothing, the result's ``suggestion`` is a query of the
        catalogue's own words (``"unemplyment"`` → ``"unemployment"``), else ``None``.
        Filters are exact (case-insensitive). ``geo`` is a country code (ISO 3166-1, ``"DE"``)
        the dataset covers, or its scope (``"global"``, ``"region"``, ``"country"``,
        ``"multi"``); ``country`` is its deprecated name. ``trust`` keeps the datasets verified
        at that level or higher (``"verified-publisher"``, ``"verified-source"``,
        ``"audited"``; spec §10.1). Withdrawn datasets are never found.
        """
        from opendata._registry import RegistryTransport

        geo = resolve_geo(geo, country)
        if isinstance(self.store, RegistryTransport):  # the registry's search engine ranks
            return self.store.search(
                query,
                topic=topic,
                namespace=namespace,
                license=license,
                frequency=frequency,
                geo=geo,
                limit=limit,
                trust=trust,
            )
        return search_entries(
            self.index.load().datasets,
            query,
            topic=topic,
            namespace=namespace,
            license=license,
            frequency=frequency,
            geo=geo,
            limit=limit,
            trust=trust,
        )

    def gc(
        self,
        id: str | DatasetId,
        *,
        older_than: timedelta = DEFAULT_GC_GRACE,
        dry_run: bool = False,
    ) -> GcResult:
        """Delete what no kept version references, keeping a grace period for readers in flight.

        The dataset's ``retention`` (from its ``metadata.json``; default the last 10 versions and
        90 days) says which versions are kept; the history entries of the others are deleted.
        A shard is deleted only when no kept version lists it, it is older than ``older_than``,
        and the current manifest itself was published more than ``older_than`` ago (a reader
        that read the previous manifest has had that long to finish). History entries of failed
        commits, and temporary files that killed writes left in a local store, are deleted once
        older than ``older_than``.
        """
        return _gc.collect(
            self._reader, DatasetId.parse(id), older_than=older_than, dry_run=dry_run
        )
