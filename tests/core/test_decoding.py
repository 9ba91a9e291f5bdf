"""core's bounded Parquet decode (opendata-core[parquet], decision 0007): skipped in core's own
pyarrow-free run; the bomb corpus is exercised through the client and the registry."""

from __future__ import annotations

import io

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pc = pytest.importorskip("pyarrow.compute")

from opendata_core.decoding import (  # noqa: E402 - after the skip
    PROBE_ROWS,
    DecodeRefused,
    decode_limit,
    decode_parquet,
    target_batch_bytes,
)


def parquet(table: object, **kw: object) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **kw)
    return sink.getvalue()


def test_the_limit_rule() -> None:
    assert decode_limit(0, 8 << 30) == 1 << 30
    assert decode_limit(10, 8 << 30) == (1 << 30) + 10_000
    assert decode_limit(100 << 20, 8 << 30) == 8 << 30
    assert decode_limit(100, 10**9, floor=1000, ratio=5) == 1500
    assert target_batch_bytes(1 << 20) == 256 << 10
    assert target_batch_bytes(8 << 30) == 16 << 20


def test_a_bomb_stops_within_one_batch_of_the_limit() -> None:
    data = parquet(
        pa.table({"s": ["y" * 10_000] * 20_000}),
        use_dictionary=False,
        column_encoding={"s": "DELTA_BYTE_ARRAY"},
        compression="zstd",
    )
    limit = 4 << 20
    with pytest.raises(DecodeRefused) as info:
        decode_parquet(data, name="datasets/x/parts/abc.parquet", limit=limit)
    err = info.value
    assert err.over_limit and err.limit == limit
    assert limit < err.decoded <= limit + target_batch_bytes(limit) + 10_000  # one row's slack
    assert str(err).startswith("datasets/x/parts/abc.parquet: exceeds OPENDATA_MAX_DECODE_BYTES")
    assert f"more than the {limit:,} allowed for its {len(data):,} bytes" in str(err)
    assert "raise OPENDATA_MAX_DECODE_BYTES" in str(err)


def test_the_setting_named_is_the_callers() -> None:
    data = parquet(pa.table({"s": ["y" * 1000] * 10_000}))
    with pytest.raises(DecodeRefused, match="exceeds OPENDATA_REGISTRY_MAX_DECODE_BYTES"):
        decode_parquet(data, name="x", limit=1 << 20, setting="OPENDATA_REGISTRY_MAX_DECODE_BYTES")


def test_a_footer_declaring_more_than_the_limit_is_refused_before_decoding() -> None:
    data = parquet(pa.table({"n": list(range(100_000))}), use_dictionary=False)
    with pytest.raises(DecodeRefused, match="its footer declares") as info:
        decode_parquet(data, name="x", limit=100_000)
    assert info.value.over_limit


def test_columns_filters_and_row_groups() -> None:
    n = 10_000
    table = pa.table({"k": list(range(n)), "s": [f"v{i % 7}" for i in range(n)]})
    data = parquet(table, row_group_size=1000)
    whole = decode_parquet(data, name="x", limit=1 << 30)
    assert whole.table is not None and whole.table.equals(table) and whole.rows == n
    assert whole.decoded >= table.nbytes
    part = decode_parquet(data, name="x", limit=1 << 30, columns=["s"], row_groups=[2, 3])
    assert part.table is not None and part.table.column_names == ["s"]
    assert part.table.num_rows == 2000
    kept = decode_parquet(data, name="x", limit=1 << 30, filter=pc.field("k") >= 9_990)
    assert kept.table is not None and kept.table.equals(table.slice(9_990))
    assert kept.decoded < whole.decoded / 5  # row groups pruned by their statistics
    ends = (pc.field("k") < 100) | (pc.field("k") >= 9_900)  # the first and last row groups
    for groups in (None, [0, 3, 9]):
        got = decode_parquet(data, name="x", limit=1 << 30, filter=ends, row_groups=groups)
        assert got.table is not None  # in file order (test_ranged's property found a reorder)
        assert got.table.column("k").to_pylist() == [*range(100), *range(9_900, n)]
    dropped = decode_parquet(data, name="x", limit=1 << 30, keep=False)
    assert dropped.table is None and dropped.decoded == whole.decoded


def test_more_rows_than_the_probe_are_counted_once() -> None:
    n = PROBE_ROWS * 3 + 5
    table = pa.table({"k": list(range(n))})
    got = decode_parquet(parquet(table), name="x", limit=1 << 30)
    assert got.table is not None and got.table.equals(table)
    # Once (the probe's rows are decoded again but not counted again; bitmaps round up).
    assert table.nbytes <= got.decoded < table.nbytes + 8 * PROBE_ROWS


@pytest.mark.parametrize("data", [b"", b"PAR1 not parquet", b"PAR1" + b"\0" * 100 + b"PAR1"])
def test_not_parquet_is_refused_with_the_reason(data: bytes) -> None:
    with pytest.raises(DecodeRefused, match="^x: not a readable Parquet file: ") as info:
        decode_parquet(data, name="x", limit=1 << 20)
    assert not info.value.over_limit


def test_a_local_path_is_read(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "f.parquet"
    path.write_bytes(parquet(pa.table({"k": [1, 2, 3]})))
    assert decode_parquet(path, name="x", limit=1 << 20).rows == 3
