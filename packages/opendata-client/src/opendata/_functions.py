"""Module-level functions: the same methods as :class:`Client`, on the default store.

Each has exactly its method's signature, overloads included, and passes every parameter on;
tests/client/test_signatures.py checks that for every function (and that the Client's methods
match the reader's and the writer's), so a new parameter left out of one layer fails a test.
"""

from __future__ import annotations

import builtins
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

from opendata._cache import Cache
from opendata._client import Client
from opendata._config import settings
from opendata._results import (
    DEFAULT_GC_GRACE,
    Format,
    GcResult,
    Mode,
    PushResult,
    ShardUrl,
)
from opendata_core.search import Matches, resolve_geo

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    import dask.dataframe as dd
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from opendata_core.documents import IndexEntry, MetadataDocument, Partitioning, Provenance
    from opendata_core.ids import DatasetId
    from opendata_core.lifecycle import TrustLevel
    from opendata_core.metadata import DatasetMetadata

__all__ = ["cache", "gc", "info", "list", "load", "push", "scan", "search", "to_dask", "urls"]


def cache() -> Cache:
    """The local cache of verified shards and blocks: ``od.cache().info()``, ``.clear()``.

    Where and how big come from ``OPENDATA_CACHE_DIR`` and ``OPENDATA_CACHE_MAX``.
    """
    s = settings()
    return Cache(s.cache_dir, max_bytes=s.cache_max, enabled=s.cache)


def _client() -> Client:
    # Built per call: cheap, and it follows changes to OPENDATA_STORE in a running notebook.
    return Client()


@overload
def load(
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
    """Load a dataset as a DataFrame; see :meth:`Client.load`.

    Example:
        >>> import opendata as od
        >>> df = od.load("ecb/euro-fx-reference-rates", start="2024-01-01")  # doctest: +SKIP
        >>> pinned = od.load("ecb/euro-fx-reference-rates", version="20250314T153112Z-9f8e")  # doctest: +SKIP
    """  # noqa: E501
    client: Any = _client()  # the overloads are keyed by `format`, which is not known here
    return client.load(
        id,
        start=start,
        end=end,
        columns=columns,
        filters=filters,
        format=format,
        version=version,
        as_of=as_of,
    )


def push(
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
    """Publish a dataset; see :meth:`Client.push`."""
    return _client().push(
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


def scan(
    id: str | DatasetId,
    *,
    start: object = None,
    end: object = None,
    version: str | None = None,
    as_of: str | date | datetime | None = None,
) -> pl.LazyFrame:
    """A polars LazyFrame over the selected shards; see :meth:`Client.scan`."""
    return _client().scan(id, start=start, end=end, version=version, as_of=as_of)


def to_dask(
    id: str | DatasetId,
    *,
    start: object = None,
    end: object = None,
    columns: Sequence[str] | None = None,
    filters: Any = None,
    version: str | None = None,
    as_of: str | date | datetime | None = None,
) -> dd.DataFrame:
    """A Dask DataFrame, one partition per shard; see :meth:`Client.to_dask`."""
    return _client().to_dask(
        id,
        start=start,
        end=end,
        columns=columns,
        filters=filters,
        version=version,
        as_of=as_of,
    )


def urls(
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
    """Shard URLs with checksums; see :meth:`Client.urls`."""
    return _client().urls(
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
    id: str | DatasetId,
    *,
    version: str | None = None,
    as_of: str | date | datetime | None = None,
) -> MetadataDocument:
    """A dataset's metadata, stats and preview; see :meth:`Client.info`."""
    return _client().info(id, version=version, as_of=as_of)


def search(
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
    """Search the index; see :meth:`Client.search` for the filters and ``suggestion``.

    Example:
        >>> import opendata as od
        >>> od.search("rates", geo="DE")  # doctest: +SKIP
        >>> od.search("rates", trust="verified-source")  # verified datasets only  # doctest: +SKIP
        >>> od.search("unemplyment").suggestion  # doctest: +SKIP
        'unemployment'
    """
    return _client().search(
        query,
        topic=topic,
        namespace=namespace,
        license=license,
        frequency=frequency,
        geo=resolve_geo(geo, country),
        limit=limit,
        trust=trust,
    )


def list() -> builtins.list[IndexEntry]:
    """Every dataset in the index."""
    return _client().list()


def gc(
    id: str | DatasetId, *, older_than: timedelta = DEFAULT_GC_GRACE, dry_run: bool = False
) -> GcResult:
    """Remove unreferenced shards; see :meth:`Client.gc`."""
    return _client().gc(id, older_than=older_than, dry_run=dry_run)
