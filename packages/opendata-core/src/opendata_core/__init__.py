"""OpenData core: dataset IDs, ``opendata.yaml``, the object layout and the wire documents.

Pure Python (msgspec and ruamel.yaml only): no network, no DataFrame library.

Example:
    >>> import opendata_core as core
    >>> ds = core.DatasetId.parse("ecb/euro-fx-rates")
    >>> core.Layout().manifest(ds)
    'datasets/ecb/euro-fx-rates/manifest.json'
"""

from typing import TYPE_CHECKING

from opendata_core._findings import Finding
from opendata_core.documents import (
    FORMAT_VERSION,
    ErrorClass,
    Field,
    Index,
    IndexEntry,
    Manifest,
    MetadataDocument,
    Provenance,
    RunRecord,
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
    SchemaMismatch,
    StoreUnavailable,
    UnsupportedFormatVersion,
    VersionNotFound,
)
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.lifecycle import Lifecycle
from opendata_core.metadata import (
    FREQUENCIES,
    PARTITIONS,
    DatasetMetadata,
    Deprecation,
    Geo,
    MetadataReport,
    MetadataWarning,
    Retention,
    Source,
    check_metadata,
    load_metadata,
    update_metadata,
    validate_metadata,
)
from opendata_core.timerange import TimeRange, parse_range, select_range, select_shards

if TYPE_CHECKING:
    # What the module-level __getattr__ below provides, spelt out for type checkers (a
    # __getattr__ they can see would make every misspelt name type-check as ``object``).
    __version__: str
    Problem = Finding
    """Deprecated: the old name of :class:`Finding`."""
else:

    def __getattr__(name: str) -> object:
        """``__version__``, and the deprecated names of renamed exports.

        ``__version__`` is written once, in this package's pyproject.toml (the installed
        metadata). It is read when asked, not at import: ``importlib.metadata`` imports ``email``
        and with it ``socket``, and importing core stays free of network modules
        (``test_core_is_pure``). ``Problem`` is the old name of :class:`Finding` (``problems``
        is the HTTP error table).
        """
        if name == "__version__":
            from importlib.metadata import version

            return version("opendata-core")
        if name == "Problem":
            from opendata_core.deprecation import renamed

            renamed("opendata_core.Problem", "opendata_core.Finding")
            return Finding
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FORMAT_VERSION",
    "FREQUENCIES",
    "PARTITIONS",
    "ColumnNotFound",
    "ConflictError",
    "CorruptDataError",
    "DatasetId",
    "DatasetMetadata",
    "DatasetMoved",
    "DatasetNotFound",
    "DatasetWithdrawn",
    "Deprecation",
    "ErrorClass",
    "Field",
    "Finding",
    "FormatError",
    "Geo",
    "Index",
    "IndexEntry",
    "InvalidData",
    "InvalidDatasetId",
    "InvalidTransition",
    "Layout",
    "Lifecycle",
    "Manifest",
    "MetadataDocument",
    "MetadataError",
    "MetadataReport",
    "MetadataWarning",
    "OpenDataError",
    "PermissionDenied",
    "Provenance",
    "RangeOutsideCoverage",
    "Retention",
    "RunRecord",
    "SchemaMismatch",
    "Shard",
    "Source",
    "Stats",
    "StoreUnavailable",
    "TimeRange",
    "UnsupportedFormatVersion",
    "VersionNotFound",
    "check_metadata",
    "decode_document",
    "encode_document",
    "load_metadata",
    "parse_range",
    "schema_hash",
    "select_range",
    "select_shards",
    "update_metadata",
    "validate_metadata",
]
