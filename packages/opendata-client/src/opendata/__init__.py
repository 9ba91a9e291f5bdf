"""OpenData: load and publish open datasets.

Example:
    >>> import opendata as od
    >>> df = od.load("ecb/euro-fx-reference-rates", start="2024-01-01")  # doctest: +SKIP
    >>> od.search("exchange rates")  # doctest: +SKIP

``import opendata`` is light: pyarrow, polars and pandas are imported when first needed.

Every error the package raises and every type its functions take or return is exported here
(the documents and errors are defined in ``opendata-core`` and shared with the registry).
"""

from importlib.metadata import version as _metadata_version

from opendata._cache import Cache, CacheInfo
from opendata._client import Client, GcResult, PushResult, ShardUrl
from opendata._config import Settings, settings
from opendata._functions import cache, gc, info, list, load, push, scan, search, to_dask, urls
from opendata._index import Catalog
from opendata._stores import LocalStore, S3CompatibleStore, Store
from opendata_core.documents import (
    Field,
    Index,
    IndexEntry,
    Manifest,
    MetadataDocument,
    Provenance,
    RunRecord,
    Shard,
    Stats,
)
from opendata_core.errors import (
    ColumnNotFound,
    ConflictError,
    CorruptDataError,
    DatasetMoved,
    DatasetNotFound,
    DatasetWithdrawn,
    FormatError,
    InvalidData,
    InvalidDatasetId,
    InvalidTransition,
    MetadataError,
    OpenDataError,
    PermissionDenied,
    RangeOutsideCoverage,
    RateLimited,
    SchemaMismatch,
    ServiceUnavailable,
    StoreUnavailable,
    Unauthenticated,
    UnsupportedFormatVersion,
    VersionNotFound,
)
from opendata_core.ids import DatasetId
from opendata_core.metadata import DatasetMetadata

# The version is written once, in this package's pyproject.toml; the installed metadata carries it.
__version__ = _metadata_version("opendata-client")

__all__ = [
    "Cache",
    "CacheInfo",
    "Catalog",
    "Client",
    "ColumnNotFound",
    "ConflictError",
    "CorruptDataError",
    "DatasetId",
    "DatasetMetadata",
    "DatasetMoved",
    "DatasetNotFound",
    "DatasetWithdrawn",
    "Field",
    "FormatError",
    "GcResult",
    "Index",
    "IndexEntry",
    "InvalidData",
    "InvalidDatasetId",
    "InvalidTransition",
    "LocalStore",
    "Manifest",
    "MetadataDocument",
    "MetadataError",
    "OpenDataError",
    "PermissionDenied",
    "Provenance",
    "PushResult",
    "RangeOutsideCoverage",
    "RateLimited",
    "RunRecord",
    "S3CompatibleStore",
    "SchemaMismatch",
    "ServiceUnavailable",
    "Settings",
    "Shard",
    "ShardUrl",
    "Stats",
    "Store",
    "StoreUnavailable",
    "Unauthenticated",
    "UnsupportedFormatVersion",
    "VersionNotFound",
    "cache",
    "gc",
    "info",
    "list",
    "load",
    "push",
    "scan",
    "search",
    "settings",
    "to_dask",
    "urls",
]

# Reprs and docs name the public module (``opendata.Client``), not the private one it lives in,
# as httpx's ``__init__`` does: every public class and function defined in this package. The
# documents and errors defined in opendata-core keep their module: they are shared with the
# registry, and msgspec resolves their (string) annotations through ``__module__``.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(f"{__name__}._"):
        _obj.__module__ = __name__
del _name, _obj
