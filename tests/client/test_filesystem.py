"""``opendata://``: the fsspec filesystem engines read through (pandas/pyarrow here).

Every test runs on the local folder store and on moto's S3 server (the ``client`` fixture); the
filesystem is opened with ``store=`` as a user passes ``storage_options``. Registry mode (links
signed and renewed by a real registry) is exercised through Dask in test_dask.py.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest

import opendata as od
from opendata._stores import LocalStore, S3CompatibleStore
from opendata_core.documents import Manifest

from .engines import DATASET, double_x, prices, publish

AS_LOADED = {"date_as_object": False}
"""pyarrow's to_pandas option that gives od.load's dates (datetime64[ms], not objects)."""


def _options(client: od.Client) -> dict[str, Any]:
    if isinstance(client.store, LocalStore):
        return {"store": client.store.url}
    assert isinstance(client.store, S3CompatibleStore)
    return {"store": f"{client.store.url}/{client.layout.prefix}"}


@pytest.fixture
def published(client: od.Client) -> tuple[od.Client, Manifest, dict[str, Any]]:
    return client, publish(client), _options(client)


_SMALL: list[Path] = []


def _small_store(factory: pytest.TempPathFactory) -> Path:
    """One local store with the dataset, shared by the tests that only read its listing."""
    if not _SMALL:
        root = factory.mktemp("small") / "store"
        publish(od.Client(store=root))
        _SMALL.append(root)
    return _SMALL[0]


def read(url: str, options: dict[str, Any], **kwargs: Any) -> pd.DataFrame:
    if int(pd.__version__.split(".")[0]) >= 3:
        return pd.read_parquet(url, storage_options=options, to_pandas_kwargs=AS_LOADED, **kwargs)
    # pandas 2 has no to_pandas_kwargs: the same read through pyarrow, on the same filesystem.
    import pyarrow.parquet as pq

    fs, path = fsspec.core.url_to_fs(url, **options)
    return pq.read_table(path, filesystem=fs, **kwargs).to_pandas(**AS_LOADED)


def test_read_parquet_returns_exactly_what_load_returns(
    published: tuple[od.Client, Manifest, dict[str, Any]],
) -> None:
    client, _, options = published
    pd.testing.assert_frame_equal(read(f"opendata://{DATASET}", options), client.load(DATASET))
    pd.testing.assert_frame_equal(
        read(f"opendata://{DATASET}", options, columns=["date", "x"]),
        client.load(DATASET, columns=["date", "x"]),
    )


def test_a_dataset_is_a_folder_of_one_file_per_shard(
    published: tuple[od.Client, Manifest, dict[str, Any]],
) -> None:
    _, manifest, options = published
    fs = fsspec.filesystem("opendata", **options)
    assert fs.ls("", detail=False) == ["me"]
    assert fs.ls("opendata://me", detail=False) == [DATASET]
    files = fs.ls(f"opendata://{DATASET}")
    assert [f["name"] for f in files] == [f"{DATASET}/{y}.parquet" for y in (2021, 2022, 2023)]
    for info, shard in zip(files, manifest.shards, strict=True):
        assert info["type"] == "file"
        assert (info["size"], info["sha256"], info["rows"]) == (
            shard.bytes,
            shard.sha256,
            shard.rows,
        )
        assert (info["min"], info["max"]) == (shard.min, shard.max)
        assert info["version"] == manifest.publish_id
    assert fs.info(DATASET)["type"] == "directory"
    assert fs.modified(f"{DATASET}/2021.parquet") == manifest.published_at  # DuckDB asks
    assert fs.ukey(f"{DATASET}/2022.parquet") == manifest.shards[1].sha256
    assert fs.cat_file(f"{DATASET}/2023.parquet", start=0, end=4) == b"PAR1"


def test_a_time_range_selects_shards_by_query_or_by_glob(
    published: tuple[od.Client, Manifest, dict[str, Any]],
) -> None:
    client, _, options = published
    fs = fsspec.filesystem("opendata", **options)
    in_range = f"{DATASET}?start=2022-03&end=2023-01-15"
    assert fs.ls(in_range, detail=False) == [f"{in_range}/2022.parquet", f"{in_range}/2023.parquet"]
    assert fs.glob(f"opendata://{DATASET}/202[12]*") == [
        f"{DATASET}/2021.parquet",
        f"{DATASET}/2022.parquet",
    ]
    assert fs.glob(f"{in_range}/*3.parquet") == [f"{in_range}/2023.parquet"]
    # Whole shards: rows outside the range stay (the engine filters on the time column).
    got = read(f"opendata://{DATASET}?start=2022&end=2022", options)
    pd.testing.assert_frame_equal(got, client.load(DATASET, start="2022", end="2022"))
    filtered = read(
        f"opendata://{DATASET}?start=2022-03",
        options,
        filters=[("date", ">=", pd.Timestamp("2022-03-01").date())],
    )
    pd.testing.assert_frame_equal(filtered, client.load(DATASET, start="2022-03"))


def test_a_pinned_version_keeps_reading_what_it_pinned(
    published: tuple[od.Client, Manifest, dict[str, Any]],
) -> None:
    client, first, options = published
    before = client.load(DATASET)
    changed = prices()
    changed["x"] = changed["x"] + 1
    client.push(changed, DATASET, time_column="date", partition="year")
    assert client.manifest(DATASET).publish_id != first.publish_id
    pinned = f"opendata://{DATASET}@{first.publish_id}"
    pd.testing.assert_frame_equal(read(pinned, options), before)
    prefix = f"opendata://{DATASET}@{first.publish_id[:-3]}"  # a unique prefix
    pd.testing.assert_frame_equal(read(prefix, options, columns=["x"]), before[["x"]])
    fresh = fsspec.filesystem("opendata", use_listings_cache=False, **options)
    assert fresh.info(DATASET)["version"] == client.manifest(DATASET).publish_id


@pytest.mark.parametrize("columns", [None, ["y"], ["x"]], ids=["all", "other-column", "damaged"])
def test_damaged_bytes_raise_corrupt_data_whatever_is_read(
    published: tuple[od.Client, Manifest, dict[str, Any]], columns: list[str] | None
) -> None:
    client, manifest, options = published
    for shard in manifest.shards:  # a block-verified shard and a whole one
        double_x(client, shard)
    for year in (2021, 2023):
        with pytest.raises(od.CorruptDataError, match=r"me/prices: .* is corrupt"):
            read(f"opendata://{DATASET}/{year}.parquet", options, columns=columns)


def test_ranged_reads_move_only_the_blocks_they_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = od.Client(store=tmp_path / "store")
    manifest = publish(client)
    expected = client.load(DATASET, end="2021")["volume"].tolist()
    moved: list[tuple[str, int]] = []
    ranges, get = LocalStore.get_ranges, LocalStore.get

    def recording(self: LocalStore, key: str, spans: Any) -> Any:
        moved.append((key, sum(b - a for a, b in spans)))
        return ranges(self, key, spans)

    def no_whole_get(self: LocalStore, key: str, **kw: Any) -> Any:
        assert "/parts/" not in key, f"{key} was read whole"
        return get(self, key, **kw)

    monkeypatch.setattr(LocalStore, "get_ranges", recording)
    fs = fsspec.filesystem("opendata", store=str(tmp_path / "store"))
    shard = manifest.shards[0]
    monkeypatch.setattr(LocalStore, "get", no_whole_get)
    with fs.open(f"{DATASET}/2021.parquet") as fh:
        got = pd.read_parquet(fh, columns=["volume"])
    assert got["volume"].tolist() == expected
    assert {key for key, _ in moved} == {
        client.layout.resolve(od.DatasetId.parse(DATASET), shard.path)
    }
    # The footer and the volume column: 7% of the shard.
    assert sum(n for _, n in moved) < shard.bytes * 0.1


def test_remote_reads_go_through_the_verified_cache(s3_client: od.Client) -> None:
    manifest = publish(s3_client)
    options = _options(s3_client)
    first = read(f"opendata://{DATASET}", options)
    assert od.cache().info().entries >= len(manifest.shards)
    keys: list[str] = []
    get, get_ranges = S3CompatibleStore.get, S3CompatibleStore.get_ranges
    try:
        S3CompatibleStore.get = lambda self, key, **kw: keys.append(key) or get(self, key, **kw)  # type: ignore[method-assign]
        S3CompatibleStore.get_ranges = lambda self, key, spans: (
            keys.append(key)
            or get_ranges(  # type: ignore[method-assign]
                self, key, spans
            )
        )
        fsspec.filesystem("opendata", **options).invalidate_cache()
        pd.testing.assert_frame_equal(read(f"opendata://{DATASET}", options), first)
    finally:
        S3CompatibleStore.get, S3CompatibleStore.get_ranges = get, get_ranges  # type: ignore[method-assign]
    # Only documents (the manifest, and the lifecycle every read checks): no shard byte again.
    assert all(k.endswith(("manifest.json", "lifecycle.json")) for k in keys), keys


def test_engine_options_are_accepted_and_ignored(
    published: tuple[od.Client, Manifest, dict[str, Any]],
) -> None:
    client, _, options = published
    url = f"opendata://{DATASET}/2023.parquet"
    # Dask passes default_cache; others cache_type, block_size, cache_options.
    with fsspec.open(url, "rb", default_cache="readahead", **options) as fh:
        whole = fh.read()
    fs = fsspec.filesystem("opendata", **options)
    with fs.open(url, cache_type="bytes", block_size=7, cache_options={"trim": True}) as fh:
        assert fh.read() == whole
    assert fs.cat_ranges([url, url], [0, -4], [4, None]) == [b"PAR1", b"PAR1"]
    expected = client.load(DATASET, start="2023")
    assert len(pd.read_parquet(io.BytesIO(whole))) == len(expected)


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        (
            "opendata://me/prices?since=2024",
            ValueError,
            "unknown query key 'since'; use start= and end=",
        ),
        ("opendata://me/prices?start=soon", ValueError, "start='soon' is not a date or time"),
        ("opendata://me/prices?start=2030", od.RangeOutsideCoverage, "2021-01-01 .. 2023-12-31"),
        ("opendata://Me_/prices", od.InvalidDatasetId, "namespace"),
        ("opendata://me/price", od.DatasetNotFound, "did you mean 'me/prices'?"),
        (
            "opendata://me/prices/2020.parquet",
            FileNotFoundError,
            "no such file; the files are 2021.parquet",
        ),
        ("opendata://me/prices/2021.parquet/x", FileNotFoundError, "paths are ns/name/file"),
        (
            "opendata://me?start=2021/prices",
            ValueError,
            "a query (?start=&end=) belongs after the dataset",
        ),
    ],
)
def test_bad_paths_say_what_is_wrong_and_the_fix(
    tmp_path_factory: pytest.TempPathFactory, path: str, error: type[Exception], message: str
) -> None:
    fs = fsspec.filesystem("opendata", store=str(_small_store(tmp_path_factory)))
    with pytest.raises(error) as info:
        fs.ls(path)
    assert message in str(info.value)


def test_the_filesystem_is_read_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    fs = fsspec.filesystem("opendata", store=str(_small_store(tmp_path_factory)))
    with pytest.raises(PermissionError, match=r"read-only \(mode 'wb'\); publish with od.push"):
        fs.open(f"{DATASET}/2021.parquet", "wb")
    with pytest.raises(IsADirectoryError, match="is a folder; open one of its files"):
        fs.open(DATASET)
