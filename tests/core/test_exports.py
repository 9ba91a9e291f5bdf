from __future__ import annotations

import importlib
import importlib.metadata

import pytest

import opendata_core


def test_public_names_are_pinned() -> None:
    assert opendata_core.__all__ == sorted(
        opendata_core.__all__, key=lambda s: (not s.isupper(), s)
    )
    assert set(opendata_core.__all__) == {
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
        "Finding",
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
    }
    for name in opendata_core.__all__:
        assert getattr(opendata_core, name) is not None


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        ("InvalidData", ValueError),
        ("InvalidDatasetId", ValueError),
        ("MetadataError", ValueError),
        ("FormatError", ValueError),
        ("UnsupportedFormatVersion", ValueError),
        ("DatasetNotFound", LookupError),
        ("DatasetMoved", LookupError),
        ("DatasetWithdrawn", LookupError),
        ("InvalidTransition", ValueError),
        ("ColumnNotFound", LookupError),
        ("RangeOutsideCoverage", ValueError),
        ("SchemaMismatch", ValueError),
        ("PermissionDenied", PermissionError),
        ("ConflictError", RuntimeError),
        ("CorruptDataError", OSError),
        ("StoreUnavailable", ConnectionError),
    ],
)
def test_error_tree(error: str, builtin: type[Exception]) -> None:
    cls = getattr(opendata_core, error)
    assert issubclass(cls, opendata_core.OpenDataError)
    assert issubclass(cls, builtin)
    assert error in (opendata_core.errors.__doc__ or "")


def test_error_messages_say_how_to_fix() -> None:
    from opendata_core import errors as e

    nf = e.DatasetNotFound("ecb/fxx", ["ecb/fx"])
    assert str(nf) == "dataset 'ecb/fxx' not found; did you mean 'ecb/fx'?"
    assert e.DatasetNotFound("x/y").hint is not None
    col = e.ColumnNotFound("ecb/fx", "rte", ["date", "rate"])
    assert str(col) == "ecb/fx: no column 'rte'; columns are: date, rate"
    cov = e.RangeOutsideCoverage("ecb/fx", "2030-01-01 .. 2030-12-31", ("1999-01-04", "2024-04-30"))
    assert "outside the data's coverage (1999-01-04 .. 2024-04-30)" in str(cov)
    assert cov.coverage == ("1999-01-04", "2024-04-30")


def test_core_is_pure() -> None:
    """Core must not import network or DataFrame libraries."""
    import subprocess
    import sys

    code = (
        "import sys, opendata_core, opendata_core.metadata, opendata_core.documents;"
        "import opendata_core.objectstore, opendata_core.deprecation;"
        "opendata_core.parse_range('2024', '2024-03', 'timestamp[us]');"
        "opendata_core.check_metadata('x');"
        "heavy = {'pyarrow', 'polars', 'pandas', 'httpx', 'obstore', 'socket', 'urllib.request'};"
        "bad = heavy & set(sys.modules);"
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version() -> None:
    version = importlib.import_module("opendata_core").__version__
    assert version == importlib.metadata.version("opendata-core")
