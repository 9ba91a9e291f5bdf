"""A generated corpus of Parquet decompression bombs (issue 21 §1), shared by the client's and the
registry's tests.

Every physical encoding pyarrow writes x nesting (flat, list, struct, map, nested list) x every
codec pyarrow writes. Each bomb decodes to :data:`BOMB_BYTES` (several times the test budget
:data:`BUDGET`); its twin "honest" shard has the same layout and decodes to a fraction of the
budget. Files are written batch by batch (a small batch repeated), so no bomb is ever built in
memory whole. Where an encoding cannot shrink the data without a codec (PLAIN,
BYTE_STREAM_SPLIT, DELTA_LENGTH_BYTE_ARRAY with ``codec="none"``) the "bomb" is simply a file
larger than the budget (it decodes to :data:`PLAIN_BOMB_BYTES`): still refused, never small. RLE
booleans decode to 1 bit a value, so their bombs also decode to :data:`PLAIN_BOMB_BYTES` (50M
values) to keep the corpus quick to write.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

BUDGET = 4 << 20
"""The decode budget the corpus tests set (OPENDATA_MAX_DECODE_BYTES and the registry's).

Small so that 420 files are written in well under a minute on 2 shared cores: writing a bomb
encodes every value it decodes to (~150 MB/s here)."""
BOMB_BYTES = 24 << 20
"""What a bomb decodes to: six times the budget."""
PLAIN_BOMB_BYTES = 6 << 20
"""What an incompressible-layout "bomb" decodes to (its file is that big too)."""
HONEST_BYTES = 1 << 20
"""What an honest shard of the same layout decodes to."""

ENCODINGS = (
    "PLAIN",
    "RLE_DICTIONARY",
    "DELTA_BINARY_PACKED",
    "DELTA_LENGTH_BYTE_ARRAY",
    "DELTA_BYTE_ARRAY",
    "BYTE_STREAM_SPLIT",
    "RLE",
)
NESTINGS = ("flat", "list", "struct", "map", "nested_list")
CODECS = ("none", "snappy", "gzip", "brotli", "zstd", "lz4")
_INCOMPRESSIBLE = {"PLAIN", "BYTE_STREAM_SPLIT", "DELTA_LENGTH_BYTE_ARRAY"}
_BOOLEAN = "RLE"  # 1 bit per value: 6x the budget would be 200M values (~1.5 s each to write)


@dataclass(frozen=True)
class Case:
    """One file of the corpus."""

    encoding: str
    nesting: str
    codec: str
    bomb: bool
    path: Path
    rows: int
    decoded: int

    @property
    def name(self) -> str:
        kind = "bomb" if self.bomb else "honest"
        return f"{kind}-{self.encoding}-{self.nesting}-{self.codec}".lower().replace("_", "-")


def _leaf(encoding: str) -> tuple[pa.DataType, Any]:
    """The leaf type each encoding applies to, and the value repeated in a bomb."""
    if encoding == "DELTA_BINARY_PACKED":
        return pa.int64(), 7
    if encoding == "BYTE_STREAM_SPLIT":
        return pa.float64(), 1.5
    if encoding == "RLE":
        return pa.bool_(), True
    return pa.string(), "x" * 1000


def _nest(nesting: str, leaf: pa.DataType, value: Any, rows: int) -> pa.Array:
    """``rows`` rows of ``value`` under ``nesting`` (8 leaf values per nested row)."""
    if nesting == "flat":
        return pa.array([value] * rows, leaf)
    if nesting == "list":
        return pa.array([[value] * 8] * rows, pa.list_(leaf))
    if nesting == "struct":
        return pa.array([{"a": value}] * rows, pa.struct([("a", leaf)]))
    if nesting == "map":
        return pa.array([[(value, value)] * 8] * rows, pa.map_(leaf, leaf))
    assert nesting == "nested_list"
    return pa.array([[[value] * 2] * 4] * rows, pa.list_(pa.list_(leaf)))


def _write(case_dir: Path, encoding: str, nesting: str, codec: str, target: int) -> Case:
    leaf, value = _leaf(encoding)
    sample = pa.table({"v": _nest(nesting, leaf, value, 1024)})
    per_row = max(sample.nbytes / 1024, 1 / 8)
    batch_rows = max(1, min(1 << 20, int((256 << 10) / per_row)))
    batch = pa.table({"v": _nest(nesting, leaf, value, batch_rows)})
    repeats = max(1, target // batch.nbytes)
    options: dict[str, Any] = {"compression": codec}
    if codec == "brotli":
        options["compression_level"] = 1  # a valid brotli stream, written fast
    if encoding == "RLE_DICTIONARY":
        options["use_dictionary"] = True
    else:
        paths = _leaf_paths(sample)
        options["use_dictionary"] = False
        options["column_encoding"] = dict.fromkeys(paths, encoding)
    bomb = target > BUDGET
    path = case_dir / f"{'bomb' if bomb else 'honest'}-{encoding}-{nesting}-{codec}.parquet"
    with pq.ParquetWriter(path, batch.schema, **options) as writer:
        for _ in range(repeats):
            writer.write_table(batch, row_group_size=1 << 20)
    return Case(encoding, nesting, codec, bomb, path, batch_rows * repeats, batch.nbytes * repeats)


def _leaf_paths(table: pa.Table) -> list[str]:
    import io

    sink = io.BytesIO()
    pq.write_table(table, sink)
    meta = pq.read_metadata(io.BytesIO(sink.getvalue()))
    return [meta.schema.column(i).path for i in range(meta.num_columns)]


def generate(case_dir: Path) -> list[Case]:
    """Write the corpus (bombs and honest twins) into ``case_dir``."""
    case_dir.mkdir(parents=True, exist_ok=True)
    cases = []
    for encoding, nesting, codec in itertools.product(ENCODINGS, NESTINGS, CODECS):
        weak = (encoding in _INCOMPRESSIBLE and codec == "none") or encoding == _BOOLEAN
        big = PLAIN_BOMB_BYTES if weak else BOMB_BYTES
        cases.append(_write(case_dir, encoding, nesting, codec, big))
        cases.append(_write(case_dir, encoding, nesting, codec, HONEST_BYTES))
    return cases
