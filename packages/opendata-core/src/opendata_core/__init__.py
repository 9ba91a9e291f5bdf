"""OpenData core: dataset IDs, ``opendata.yaml``, the object layout and the wire documents.

Pure Python (msgspec and ruamel.yaml only): no network, no DataFrame library.

Example:
    >>> import opendata_core as core
    >>> ds = core.DatasetId.parse("ecb/euro-fx-rates")
    >>> core.Layout().manifest(ds)
    'datasets/ecb/euro-fx-rates/manifest.json'
"""

from opendata_core._problems import Problem
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
    DatasetNotFound,
    FormatError,
    InvalidData,
    InvalidDatasetId,
    MetadataError,
    OpenDataError,
    PermissionDenied,
    RangeOutsideCoverage,
    SchemaMismatch,
    StoreUnavailable,
    UnsupportedFormatVersion,
)
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.metadata import (
    FREQUENCIES,
    PARTITIONS,
    DatasetMetadata,
    Geo,
    MetadataReport,
    MetadataWarning,
    Source,
    check_metadata,
    load_metadata,
    update_metadata,
    validate_metadata,
)
from opendata_core.timerange import TimeRange, parse_range, select_range, select_shards

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "FREQUENCIES",
    "PARTITIONS",
    "ColumnNotFound",
    "ConflictError",
    "CorruptDataError",
    "DatasetId",
    "DatasetMetadata",
    "DatasetNotFound",
    "ErrorClass",
    "Field",
    "FormatError",
    "Geo",
    "Index",
    "IndexEntry",
    "InvalidData",
    "InvalidDatasetId",
    "Layout",
    "Manifest",
    "MetadataDocument",
    "MetadataError",
    "MetadataReport",
    "MetadataWarning",
    "OpenDataError",
    "PermissionDenied",
    "Problem",
    "Provenance",
    "RangeOutsideCoverage",
    "RunRecord",
    "SchemaMismatch",
    "Shard",
    "Source",
    "Stats",
    "StoreUnavailable",
    "TimeRange",
    "UnsupportedFormatVersion",
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
