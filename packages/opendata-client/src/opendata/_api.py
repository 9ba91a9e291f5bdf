"""Module-level functions: the same methods as :class:`Client`, on the default store.

Each has exactly its method's signature (a test compares them).
"""

from __future__ import annotations

import builtins
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

from opendata._client import Client
from opendata._results import (
    DEFAULT_GC_GRACE,
    Format,
    GcResult,
    Mode,
    Partition,
    PushResult,
    ShardUrl,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from opendata_core.documents import IndexEntry, MetadataDocument, Provenance
    from opendata_core.ids import DatasetId
    from opendata_core.metadata import DatasetMetadata

__all__ = ["gc", "info", "list", "load", "push", "scan", "search", "urls"]


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
) -> pa.Table: ...


def load(
    id: str | DatasetId,
    *,
    start: object = None,
    end: object = None,
    columns: Sequence[str] | None = None,
    filters: Any = None,
    format: Format = "pandas",
) -> Any:
    """Load a dataset as a DataFrame; see :meth:`Client.load`.

    Example:
        >>> import opendata as od
        >>> df = od.load("ecb/euro-fx-reference-rates", start="2024-01-01")  # doctest: +SKIP
    """
    return _client().load(id, start=start, end=end, columns=columns, filters=filters, format=format)


def push(
    data: Any,
    id: str | DatasetId,
    *,
    metadata: str | os.PathLike[str] | DatasetMetadata | None = None,
    mode: Mode = "replace",
    time_column: str | None = None,
    partition: Partition | None = None,
    provenance: Provenance | None = None,
    dry_run: bool = False,
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
    )


def scan(id: str | DatasetId, *, start: object = None, end: object = None) -> pl.LazyFrame:
    """A polars LazyFrame over the selected shards; see :meth:`Client.scan`."""
    return _client().scan(id, start=start, end=end)


def urls(
    id: str | DatasetId,
    *,
    start: object = None,
    end: object = None,
    signed: bool = False,
    expires: timedelta = timedelta(hours=1),
) -> builtins.list[ShardUrl]:
    """Shard URLs with checksums; see :meth:`Client.urls`."""
    return _client().urls(id, start=start, end=end, signed=signed, expires=expires)


def info(id: str | DatasetId) -> MetadataDocument:
    """A dataset's metadata, stats and preview; see :meth:`Client.info`."""
    return _client().info(id)


def search(
    query: str = "",
    *,
    topic: str | None = None,
    namespace: str | None = None,
    license: str | None = None,
    frequency: str | None = None,
    country: str | None = None,
    limit: int | None = None,
) -> builtins.list[IndexEntry]:
    """Search the index; see :meth:`Client.search` for the filters."""
    return _client().search(
        query,
        topic=topic,
        namespace=namespace,
        license=license,
        frequency=frequency,
        country=country,
        limit=limit,
    )


def list() -> builtins.list[IndexEntry]:
    """Every dataset in the index."""
    return _client().list()


def gc(
    id: str | DatasetId, *, older_than: timedelta = DEFAULT_GC_GRACE, dry_run: bool = False
) -> GcResult:
    """Remove unreferenced shards; see :meth:`Client.gc`."""
    return _client().gc(id, older_than=older_than, dry_run=dry_run)
