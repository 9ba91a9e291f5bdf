"""Where things are inside a Parquet file: the footer, each column chunk (format 1.1 blocks).

Imported only when a shard is written or read by ranges (it needs pyarrow).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from opendata_core.blocks import hash_blocks
from opendata_core.documents import FOOTER_TAIL, Block

__all__ = ["RANGED_MIN_BYTES", "Chunk", "chunks", "footer_start", "shard_blocks"]

RANGED_MIN_BYTES = 1 << 20
"""Shards smaller than this get no blocks: a ranged read of them saves too little (0004)."""


@dataclass(frozen=True)
class Chunk:
    """One column chunk: its row group, top-level column name and bytes ``[start, end)``."""

    row_group: int
    column: str
    start: int
    end: int


def footer_start(tail: bytes | memoryview, size: int) -> int:
    """The offset of the Parquet file metadata, from the file's last 8 bytes.

    Raises:
        ValueError: the tail is not ``<length>PAR1`` or the length does not fit the file.
    """
    tail = bytes(tail[-FOOTER_TAIL:])
    if len(tail) != FOOTER_TAIL or tail[4:] != b"PAR1":
        raise ValueError("the file does not end with the Parquet magic 'PAR1'")
    length: int = struct.unpack("<I", tail[:4])[0]
    start = size - FOOTER_TAIL - length
    if start < 4:
        raise ValueError(f"the footer length {length:,} does not fit a {size:,}-byte file")
    return start


def chunks(meta: pq.FileMetaData) -> list[Chunk]:
    """Every column chunk of a file, from its (already verified) metadata."""
    out = []
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for c in range(group.num_columns):
            col = group.column(c)
            start = col.data_page_offset
            if col.has_dictionary_page and col.dictionary_page_offset is not None:
                start = min(start, col.dictionary_page_offset)
            name = col.path_in_schema.split(".", 1)[0]
            out.append(Chunk(rg, name, start, start + col.total_compressed_size))
    return out


def shard_blocks(data: pa.Buffer | bytes | memoryview, min_bytes: int | None = None) -> list[Block]:
    """A shard's blocks (format 1.1): cut at every column-chunk start and at the footer.

    ``[]`` for shards under :data:`RANGED_MIN_BYTES` (``min_bytes``), which readers fetch whole.
    """
    view = memoryview(data)
    size = len(view)
    if size < (RANGED_MIN_BYTES if min_bytes is None else min_bytes):
        return []
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    footer = footer_start(view[-FOOTER_TAIL:], size)
    # The magic "PAR1" at offset 0 joins the first chunk's block (no 4-byte block).
    cuts = {c.start for c in chunks(meta) if c.start > 4} | {footer}
    return hash_blocks(view, cuts)
