"""Format 1.1 shard blocks: manifest checks, old/new reader compatibility, range helpers."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendata_core import FORMAT_VERSION, FormatError, Manifest, decode_document
from opendata_core.blocks import block_starts, coalesce, covering, hash_blocks
from opendata_core.documents import Block

FIXTURES = Path(__file__).parent / "fixtures"
SHA = "ab" * 32


def _manifest(blocks: list[list[object]]) -> bytes:
    return json.dumps(
        {
            "format": "1.1",
            "dataset_id": "a/b",
            "publish_id": "p",
            "published_at": "2026-11-25T00:00:00Z",
            "schema": [{"name": "x", "type": "int64"}],
            "schema_hash": "0" * 64,
            "row_count": 1,
            "bytes": 100,
            "shards": [
                {
                    "path": f"parts/{SHA}.parquet",
                    "sha256": SHA,
                    "rows": 1,
                    "bytes": 100,
                    "partition": "all",
                    "blocks": blocks,
                }
            ],
        }
    ).encode()


def test_this_version_writes_1_1() -> None:
    assert FORMAT_VERSION == "1.1"


def test_blocks_round_trip_as_compact_pairs() -> None:
    m = decode_document(_manifest([[60, SHA], [40, SHA]]), Manifest)
    assert m.shards[0].blocks == [Block(60, SHA), Block(40, SHA)]
    assert b'"blocks":[[60,"' in msgspec.json.encode(m)


@pytest.mark.parametrize(
    ("blocks", "field", "text"),
    [
        ([[60, SHA], [30, SHA]], "shards[0].blocks", "cover 90 bytes, but the shard has 100"),
        ([[0, SHA], [100, SHA]], "shards[0].blocks[0]", "has length 0"),
        ([[60, "XYZ"], [40, SHA]], "shards[0].blocks[0]", "sha256 = 'XYZ' is not 64"),
        ([[96, SHA], [4, SHA]], "shards[0].blocks[1]", "the last block is the Parquet footer"),
    ],
)
def test_bad_blocks_name_the_field(blocks: list[list[object]], field: str, text: str) -> None:
    with pytest.raises(FormatError, match=re.escape(text)) as info:
        decode_document(_manifest(blocks), Manifest)
    assert info.value.field == field


def test_wrong_block_shape_is_a_format_error() -> None:
    with pytest.raises(FormatError, match=r"shards\[0\]\.blocks"):
        decode_document(_manifest([[60, SHA, 1]]), Manifest)


def test_a_1_0_manifest_decodes_without_blocks() -> None:
    """Datasets published before 1.1 have no blocks: readers fetch their shards whole."""
    m = decode_document((FIXTURES / "manifest-1.0.json").read_bytes(), Manifest)
    assert m.format == "1.0"
    assert all(s.blocks == [] for s in m.shards)


class _Shard10(msgspec.Struct, kw_only=True):
    """The 1.0 reader's shard (format 1.0 of spec §5.2): no ``blocks``."""

    path: str
    sha256: str
    rows: int
    bytes: int
    partition: str
    min: str | None = None
    max: str | None = None
    null_counts: dict[str, int] = {}


class _Manifest10(msgspec.Struct, kw_only=True):
    format: str = "1.0"
    dataset_id: str
    shards: list[_Shard10]
    row_count: int
    bytes: int


def test_a_1_1_manifest_loads_with_the_1_0_readers_rules() -> None:
    """Older readers ignore unknown fields (§6): they see the same shards and fetch them whole."""
    data = (FIXTURES / "manifest-1.1.json").read_bytes()
    old = msgspec.json.decode(data, type=_Manifest10)
    new = decode_document(data, Manifest)
    assert int(old.format.split(".")[0]) == 1  # the 1.0 reader's major check passes
    assert [(s.path, s.sha256, s.bytes) for s in old.shards] == [
        (s.path, s.sha256, s.bytes) for s in new.shards
    ]
    assert all(s.blocks for s in new.shards)


def test_hash_blocks_cover_the_data() -> None:
    data = bytes(range(256)) * 10
    blocks = hash_blocks(data, [2000, 100, 100, 0, len(data), 5000])
    assert [b.length for b in blocks] == [100, 1900, 560]
    assert blocks[1].sha256 == hashlib.sha256(data[100:2000]).hexdigest()
    assert block_starts(blocks) == [0, 100, 2000, 2560]


def test_covering_refuses_ranges_outside() -> None:
    blocks = hash_blocks(b"x" * 10, [5])
    with pytest.raises(ValueError, match=r"byte range \[8, 11\) is not inside the shard's 10"):
        covering(blocks, 8, 11)
    with pytest.raises(ValueError, match=r"\[3, 3\) is not inside"):
        covering(blocks, 3, 3)


@given(
    lengths=st.lists(st.integers(1, 50), min_size=1, max_size=20),
    data=st.data(),
)
def test_covering_is_the_smallest_cover(lengths: list[int], data: st.DataObject) -> None:
    blocks = [Block(n, SHA) for n in lengths]
    starts = block_starts(blocks)
    start = data.draw(st.integers(0, starts[-1] - 1))
    end = data.draw(st.integers(start + 1, starts[-1]))
    first, stop, lo, hi = covering(blocks, start, end)
    assert (lo, hi) == (starts[first], starts[stop])
    assert lo <= start < starts[first + 1] and starts[stop - 1] < end <= hi


@given(
    ranges=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 100)), max_size=20),
    gap=st.integers(0, 50),
)
def test_coalesce_covers_every_range_and_keeps_gaps(
    ranges: list[tuple[int, int]], gap: int
) -> None:
    spans = [(a, a + n) for a, n in ranges]
    merged = coalesce(spans, gap)
    for a, b in spans:
        assert b == a or any(x <= a and b <= y for x, y in merged)
    for (_, b1), (a2, _) in itertools.pairwise(merged):
        assert a2 - b1 > gap
    assert all(b > a for a, b in merged)
