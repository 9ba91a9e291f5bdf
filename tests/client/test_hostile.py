"""Hostile or damaged data in the store: tampered manifests, decompression bombs, oversized
objects, a damaged local cache. Every case is a clear OpenData error, never wrong data."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import msgspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import opendata as od
from opendata._stores import ObjectTooLarge
from opendata_core import DatasetId
from opendata_core.documents import Manifest, Shard, encode_document
from opendata_core.errors import FormatError

from .test_push_load import daily

DS = DatasetId.parse("me/prices")


def tamper(client: od.Client, **changes: Any) -> None:
    """Rewrite the published manifest with some fields changed (as a hostile writer could)."""
    data, _ = client.store.get(client.layout.manifest(DS))
    doc = msgspec.json.decode(bytes(data))
    doc.update(changes)
    client.store.put(client.layout.manifest(DS), msgspec.json.encode(doc))


def publish_raw(
    client: od.Client, payload: bytes, *, rows: int, listed_bytes: int | None = None
) -> None:
    """Publish one hand-made shard under a correct manifest (hash and size match the bytes)."""
    digest = hashlib.sha256(payload).hexdigest()
    client.store.put(client.layout.shard(DS, digest), payload)
    size = len(payload) if listed_bytes is None else listed_bytes
    shard = Shard(
        path=f"parts/{digest}.parquet", sha256=digest, rows=rows, bytes=size, partition="all"
    )
    schema = pq.read_schema(io.BytesIO(payload)) if listed_bytes is None else pa.schema([])
    from opendata._arrow import schema_fields

    fields = schema_fields(schema)
    from opendata_core.documents import schema_hash

    manifest = Manifest(
        dataset_id=str(DS),
        publish_id="20250101T000000Z-hostile",
        published_at=pd.Timestamp("2025-01-01", tz="UTC").to_pydatetime(),
        schema=fields,
        schema_hash=schema_hash(fields),
        row_count=rows,
        bytes=size,
        shards=[shard],
    )
    client.store.put(client.layout.manifest(DS), encode_document(manifest))


def parquet(table: pa.Table, **kwargs: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **kwargs)
    return sink.getvalue()


# ---------------------------------------------------------------------------------------------
# Item 4: manifests are checked as a whole


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"time_column": "when"}, "time_column", "'when' is not a column of the schema"),
        ({"min_time": "garbage"}, "min_time", "'garbage' is not an ISO 8601"),
        ({"row_count": 1}, "row_count", "is not the sum of the shards' rows"),
    ],
)
def test_tampered_manifest_is_a_format_error(
    client: od.Client, change: dict[str, Any], field: str, text: str
) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    tamper(client, **change)
    with pytest.raises(FormatError, match=text) as info:
        client.load("me/prices")
    assert info.value.field == field
    assert info.value.document == "me/prices/manifest.json"


def test_the_same_shard_listed_twice_is_refused(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    manifest = client.manifest("me/prices")
    shards = msgspec.to_builtins(manifest.shards)
    twice = [*shards, shards[0]]
    tamper(
        client,
        shards=twice,
        row_count=manifest.row_count + shards[0]["rows"],
        bytes=manifest.bytes + shards[0]["bytes"],
    )
    with pytest.raises(FormatError, match=r"shards\[6\]\.sha256 = .* lists the same shard twice"):
        client.load("me/prices")


def test_a_path_outside_parts_is_refused(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date")
    (shard,) = msgspec.to_builtins(client.manifest("me/prices").shards)
    shard["path"] = "parts/../../other/ds/parts/x.parquet"
    tamper(client, shards=[shard])
    with pytest.raises(FormatError, match=r"shards\[0\]\.path = .* is not 'parts/<its sha256>"):
        client.load("me/prices")


def test_an_empty_version_loads_as_no_rows(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date")
    tamper(client, shards=[], row_count=0, bytes=0, min_time=None, max_time=None)
    out = client.load("me/prices")
    assert len(out) == 0
    assert list(out.columns) == ["date", "symbol", "close", "volume"]
    assert len(client.load("me/prices", columns=["close"], start="2024-01-01").columns) == 1


def test_shard_rows_must_match_the_file(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date")
    (shard,) = msgspec.to_builtins(client.manifest("me/prices").shards)
    shard["rows"] += 7  # the manifest claims rows the file does not hold
    tamper(client, shards=[shard], row_count=shard["rows"])
    with pytest.raises(
        od.CorruptDataError, match="the file holds 4,384 rows, the manifest lists 4,391"
    ):
        client.load("me/prices")


# ---------------------------------------------------------------------------------------------
# Item 3: hostile shards are refused while they are decoded (issue 21 §1: decision 0007; the
# generated corpus of every encoding x nesting x codec is in test_decode_budget.py)


def _bomb() -> bytes:
    """One 100 KB string, dictionary-encoded, 20,000 rows: ~3 KB that decode to 2 GB."""
    big = "x" * 100_000
    table = pa.table({"s": pa.array([big] * 20_000, pa.string())})
    return parquet(table, compression="zstd")


def test_dictionary_bomb_is_refused_while_decoding(
    client: od.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = _bomb()
    assert len(payload) < 10_000
    publish_raw(client, payload, rows=20_000)
    monkeypatch.setenv("OPENDATA_MAX_DECODE_BYTES", str(16 << 20))
    small = od.Client(store=client.store, prefix=client.layout.prefix)
    with pytest.raises(
        od.CorruptDataError,
        match=r"exceeds OPENDATA_MAX_DECODE_BYTES: decoding stopped after 1[67],[0-9,]+ bytes, "
        r"more than the 16,777,216 allowed for its [0-9,]+ bytes",
    ) as info:
        small.load("me/prices")
    assert "parts/" in str(info.value)
    assert info.value.hint is not None and "OPENDATA_MAX_DECODE_BYTES" in info.value.hint
    with pytest.raises(od.CorruptDataError, match="exceeds OPENDATA_MAX_DECODE_BYTES"):
        small.scan("me/prices").collect()


def test_many_repeated_strings_are_not_a_bomb(client: od.Client) -> None:
    """Real data with a large dictionary passes."""
    n = 200_000
    names = [f"{i:050d}" for i in range(5_000)]
    table = pa.table({"name": pa.array([names[i % 5_000] for i in range(n)], pa.string())})
    publish_raw(client, parquet(table), rows=n)
    assert len(client.load("me/prices")) == n


def test_a_load_returns_what_a_plain_read_returns_and_a_bomb_is_refused_when_decoded(
    client: od.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dictionary text, categories and numbers load exactly as ``pq.read_table`` reads them
    (whole, by columns, filtered); a bomb column is refused when it is decoded, also under a
    filter (the bytes count before filtering), and costs nothing when it is not."""
    n = 200_000
    names = [f"{i:050d}" for i in range(5_000)]
    table = pa.table(
        {
            "name": pa.array([names[i % 5_000] for i in range(n)], pa.large_string()),
            "kind": pa.array([["a", "b", None][i % 3] for i in range(n)]).dictionary_encode(),
            "n": pa.array(range(n), pa.int64()),
        }
    )
    payload = parquet(table)
    publish_raw(client, payload, rows=n)
    plain = pq.read_table(io.BytesIO(payload))
    got = client.load("me/prices", format="arrow")
    assert got.schema == plain.schema and got.equals(plain)
    got = client.load("me/prices", columns=["kind", "name"], format="arrow")
    assert got.equals(plain.select(["kind", "name"]))
    assert client.load("me/prices", filters=[("n", "<", 10)], format="arrow").equals(
        plain.slice(0, 10)
    )

    monkeypatch.setenv("OPENDATA_MAX_DECODE_BYTES", str(16 << 20))
    small = od.Client(store=client.store, prefix=client.layout.prefix)
    bomb = pa.table({"s": pa.array(["x" * 100_000] * 20_000), "n": range(20_000)})
    publish_raw(client, parquet(bomb, compression="zstd"), rows=20_000)
    for kw in ({"filters": [("n", "<", 2)]}, {}, {"columns": ["s"]}):
        with pytest.raises(od.CorruptDataError, match="exceeds OPENDATA_MAX_DECODE_BYTES"):
            small.load("me/prices", **kw)
    assert small.load("me/prices", columns=["n"])["n"].tolist() == list(range(20_000))


def test_the_decode_ceiling_is_configurable(
    client: od.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.push(daily(), "me/prices", time_column="date")
    monkeypatch.setenv("OPENDATA_MAX_DECODE_BYTES", "1000")
    small = od.Client(store=client.store, prefix=client.layout.prefix)
    with pytest.raises(od.CorruptDataError, match="more than the 1,000 allowed"):
        small.load("me/prices")
    monkeypatch.setenv("OPENDATA_MAX_DECODE_BYTES", "lots")
    with pytest.raises(
        od.OpenDataError, match="OPENDATA_MAX_DECODE_BYTES='lots' is not a positive"
    ):
        od.Client(store=client.store)


def test_an_oversized_object_is_not_downloaded(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date")
    (shard,) = client.manifest("me/prices").shards
    key = client.layout.resolve(DS, shard.path)
    client.store.put(key, b"\0" * (4 << 20))  # 4 MB where a ~60 KB shard is listed
    with pytest.raises(
        od.CorruptDataError,
        match=f"the object is 4,194,304 bytes, the manifest lists {shard.bytes:,}",
    ):
        client.load("me/prices")
    # The store refuses before reading the body: its size is checked first.
    with pytest.raises(ObjectTooLarge) as info:
        client.store.get(key, max_bytes=shard.bytes)
    assert info.value.size == 4 << 20


# ---------------------------------------------------------------------------------------------
# Item 2: the scan cache is verified by content


def test_a_flipped_byte_in_the_cache_is_detected_and_refetched(s3_client: od.Client) -> None:
    df = daily()
    s3_client.push(df, "me/prices", time_column="date")
    expected = s3_client.scan("me/prices").collect().to_pandas()
    (shard,) = s3_client.manifest("me/prices").shards
    cached = s3_client.cache.path / shard.sha256
    raw = bytearray(cached.read_bytes())
    raw[len(raw) // 3] ^= 0x01  # same size, one bit different
    cached.write_bytes(bytes(raw))
    again = s3_client.scan("me/prices").collect().to_pandas()
    pd.testing.assert_frame_equal(again, expected)
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == shard.sha256  # refetched


def test_a_flipped_byte_in_a_local_store_is_detected(tmp_path: Any) -> None:
    client = od.Client(store=tmp_path / "store")
    client.push(daily(), "me/prices", time_column="date")
    (shard,) = client.manifest("me/prices").shards
    path = client.store.local_path(client.layout.resolve(DS, shard.path))
    assert path is not None
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(od.CorruptDataError, match="does not match the manifest"):
        client.scan("me/prices").collect()
