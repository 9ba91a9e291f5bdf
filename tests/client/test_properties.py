"""Property tests: a ranged load equals filtering the full frame."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opendata as od

FIRST, LAST = dt.date(2020, 1, 1), dt.date(2023, 12, 31)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[od.Client, pd.DataFrame]:
    client = od.Client(store=tmp_path_factory.mktemp("store"))
    days = pd.date_range(FIRST, LAST, freq="D")
    rng = np.random.default_rng(7)
    keep = rng.random(len(days)) > 0.3  # gaps, so some ranges fall between rows
    df = pd.DataFrame({"date": days[keep].date, "v": rng.integers(0, 100, keep.sum())})
    client.push(df, "me/series", time_column="date", partition="month")
    return client, df


dates = st.dates(min_value=FIRST - dt.timedelta(days=40), max_value=LAST + dt.timedelta(days=40))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=st.none() | dates, end=st.none() | dates)
def test_load_range_equals_filtering(
    published: tuple[od.Client, pd.DataFrame], start: dt.date | None, end: dt.date | None
) -> None:
    client, full = published
    if start is not None and end is not None and start > end:
        with pytest.raises(ValueError, match="is after end"):
            client.load("me/series", start=start, end=end)
        return
    mask = pd.Series(True, index=full.index)
    if start is not None:
        mask &= full["date"] >= start
    if end is not None:
        mask &= full["date"] <= end
    expected = full[mask].reset_index(drop=True)
    expected["date"] = pd.to_datetime(expected["date"]).astype("datetime64[ms]")
    outside = (start is not None and start > full["date"].max()) or (
        end is not None and end < full["date"].min()
    )
    if outside:
        with pytest.raises(od.RangeOutsideCoverage):
            client.load("me/series", start=start, end=end)
        return
    got = client.load("me/series", start=start, end=end)
    pd.testing.assert_frame_equal(got, expected)
    lazy = client.scan("me/series", start=start, end=end).collect().to_pandas()
    assert lazy["v"].tolist() == expected["v"].tolist()


def test_import_opendata_is_light() -> None:
    code = "import sys, opendata; print(sorted(m for m in ('pyarrow', 'polars', 'pandas', 'numpy', 'obstore', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


PUBLIC = [
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


def test_public_api_is_pinned() -> None:
    assert od.__all__ == PUBLIC  # sorted: classes first, then functions
    assert od.__all__ == sorted(od.__all__, key=lambda s: (s[0].islower(), s))
    for name in PUBLIC:
        assert getattr(od, name) is not None


def test_every_core_error_is_exported() -> None:
    from opendata_core import errors

    classes = {n for n in errors.__all__ if isinstance(getattr(errors, n), type)}
    assert classes <= set(od.__all__), classes - set(od.__all__)


def test_public_names_say_opendata() -> None:
    """Every public class and function of the client says ``opendata``; core's keep their home."""
    import importlib
    import inspect

    assert repr(od.Client).startswith("<class 'opendata.Client'>")
    checked = set()
    for name in od.__all__:
        obj = getattr(od, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        checked.add(name)
        if obj.__module__ == "opendata":
            continue
        # Defined in opendata-core (shared with the registry): its module really holds it.
        assert obj.__module__.startswith("opendata_core."), (name, obj.__module__)
        home = importlib.import_module(obj.__module__)
        assert getattr(home, obj.__qualname__) is obj, (name, obj.__module__)
    assert {"cache", "Cache", "CacheInfo", "Client", "load"} <= checked
    for name in ("cache", "Cache", "CacheInfo", "Catalog", "Client", "LocalStore", "load", "urls"):
        assert getattr(od, name).__module__ == "opendata", name


def test_core_documents_still_decode_after_import_opendata() -> None:
    """The ``__module__`` loop leaves core's msgspec documents alone (their annotations resolve)."""
    import subprocess
    import sys

    code = (
        "import opendata, msgspec\n"
        "from opendata_core.documents import Manifest\n"
        "try:\n"
        "    msgspec.json.decode(b'{}', type=Manifest)\n"
        "except msgspec.ValidationError as e:\n"
        "    print('validation', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("validation Object missing required field"), out


def test_urls_point_at_verifiable_files(published: tuple[od.Client, pd.DataFrame]) -> None:
    import hashlib
    from urllib.parse import urlparse

    client, _ = published
    urls = client.urls("me/series", start="2021-02-01", end="2021-03-31")
    assert [u.partition for u in urls] == ["2021-02", "2021-03"]
    for u in urls:
        data = Path(urlparse(u.url).path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == u.sha256
        assert len(data) == u.bytes


def test_import_opendata_does_not_load_yaml() -> None:
    code = "import sys, opendata; print('ruamel.yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_import_opendata_needs_no_fcntl() -> None:
    # fcntl is POSIX-only: only the local store's conditional writes import it.
    code = "import sys; sys.modules['fcntl'] = None; import opendata; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
