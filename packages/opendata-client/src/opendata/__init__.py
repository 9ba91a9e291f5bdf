"""OpenData: load and publish open datasets.

Example:
    >>> import opendata as od
    >>> df = od.load("ecb/euro-fx-reference-rates", start="2024-01-01")  # doctest: +SKIP
    >>> od.search("exchange rates")  # doctest: +SKIP

``import opendata`` is light: pyarrow, polars and pandas are imported when first needed.
"""

from opendata._api import cache, gc, info, list, load, push, scan, search, urls
from opendata._cache import Cache, CacheInfo
from opendata._client import Client, GcResult, PushResult, ShardUrl
from opendata._index import Index
from opendata._stores import LocalStore, S3CompatibleStore, Store
from opendata_core.errors import (
    ColumnNotFound,
    ConflictError,
    CorruptDataError,
    DatasetNotFound,
    OpenDataError,
    PermissionDenied,
    RangeOutsideCoverage,
    SchemaMismatch,
    StoreUnavailable,
)

__version__ = "0.1.0"

__all__ = [
    "Cache",
    "CacheInfo",
    "Client",
    "ColumnNotFound",
    "ConflictError",
    "CorruptDataError",
    "DatasetNotFound",
    "GcResult",
    "Index",
    "LocalStore",
    "OpenDataError",
    "PermissionDenied",
    "PushResult",
    "RangeOutsideCoverage",
    "S3CompatibleStore",
    "SchemaMismatch",
    "ShardUrl",
    "Store",
    "StoreUnavailable",
    "cache",
    "gc",
    "info",
    "list",
    "load",
    "push",
    "scan",
    "search",
    "urls",
]
