"""The commit's check of new shards: uploaded as announced, and decoding within a limit.

Every shard a commit adds (the live manifest does not list it) is read back from the store:
its size and sha256 must be those the manifest announces (obstore reports no stored checksum),
and it must decode, within core's decode limit (decision 0007), to the rows the manifest lists.
A decompression bomb is refused here and never reaches a reader.
"""

from __future__ import annotations

import asyncio
import re
from typing import Final

import anyio

from opendata_core.documents import Manifest
from opendata_core.errors import FormatError, shorten
from opendata_core.ids import DatasetId
from opendata_core.store import NotFound
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.store import RegistryStore

__all__ = ["check_shard", "decode_check", "verify_shards"]

_VERIFY_PARALLEL: Final = 4


async def verify_shards(
    store: RegistryStore,
    settings: Settings,
    ds: DatasetId,
    manifest: Manifest,
    current: Manifest | None,
) -> None:
    """Check every shard the live manifest does not list, else FormatError naming it.

    Each must be uploaded, with the announced size, sha256 and rows, and decode within its
    limit (decision 0007).

    Shards are read back at most :data:`_VERIFY_PARALLEL` at a time; one is decoded at a
    time, off the event loop, counting and dropping its batches: the decode holds about one
    batch, beside the shards being read.
    """
    live = {s.sha256 for s in current.shards} if current else set()
    cap = settings.tier(settings.publish_tier).max_shard_bytes
    todo = [(i, s) for i, s in enumerate(manifest.shards) if s.sha256 not in live]
    reading = asyncio.Semaphore(_VERIFY_PARALLEL)
    decoding = asyncio.Semaphore(1)

    async def check(i: int, sha256: str, size: int, rows: int) -> None:
        where = f"manifest.shards[{i}]"
        check_shard(where, sha256, size, cap)
        key = store.layout.shard(ds, sha256)
        async with reading:
            try:
                data, found_size, found_sha = await store.read_back(key, size)
            except NotFound:
                raise FormatError(
                    f"{ds}: {where} parts/{sha256}.parquet was never uploaded; nothing was changed",
                    document="commit",
                    field=where,
                ) from None
            if found_size != size or found_sha != sha256:
                what = f"{found_size} bytes" if found_size != size else "other bytes"
                raise FormatError(
                    f"{ds}: {where} parts/{sha256}.parquet holds {what} than announced "
                    f"({size} bytes, sha256 {sha256[:12]}…); nothing was changed",
                    document="commit",
                    field=where,
                )
            async with decoding:
                found_rows = await anyio.to_thread.run_sync(
                    decode_check, settings, ds, where, sha256, data
                )
        if found_rows != rows:
            raise FormatError(
                f"{ds}: {where} parts/{sha256}.parquet holds {found_rows:,} rows, the "
                f"manifest lists {rows:,}; nothing was changed",
                document="commit",
                field=f"{where}.rows",
            )

    await asyncio.gather(*(check(i, s.sha256, s.bytes, s.rows) for i, s in todo))


def decode_check(settings: Settings, ds: DatasetId, where: str, sha256: str, data: bytes) -> int:
    """Decode a new shard within its limit, counting and dropping the batches; its rows.

    The limit is core's rule (:func:`opendata_core.decoding.decode_limit`) with the
    registry's settings: a floor plus a ratio of the stored size (the decoded-to-stored
    ratio check), capped by ``OPENDATA_REGISTRY_MAX_DECODE_BYTES``.
    """
    # core's decoder needs pyarrow: imported on the first commit, not when the app starts
    from opendata_core.decoding import DecodeRefused, decode_limit, decode_parquet

    s = settings
    limit = decode_limit(len(data), s.max_decode_bytes, floor=s.decode_floor, ratio=s.decode_ratio)
    try:
        return decode_parquet(
            data,
            name=f"{ds}: {where} parts/{sha256}.parquet",
            limit=limit,
            setting="OPENDATA_REGISTRY_MAX_DECODE_BYTES",
            keep=False,
        ).rows
    except DecodeRefused as exc:
        raise FormatError(
            f"{exc}; nothing was changed"
            + (
                f" (the limit is OPENDATA_REGISTRY_DECODE_FLOOR {s.decode_floor:,} + "
                f"OPENDATA_REGISTRY_DECODE_RATIO {s.decode_ratio:,} x the shard's size, at "
                f"most OPENDATA_REGISTRY_MAX_DECODE_BYTES {s.max_decode_bytes:,})"
                if exc.over_limit
                else ""
            ),
            document="commit",
            field=where,
        ) from None


def check_shard(where: str, sha256: str, size: int, cap: int) -> None:
    """Refuse an announced shard whose sha256 is not hex or whose size is outside 1..``cap``."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise FormatError(
            f"{where}.sha256 = {shorten(sha256, 80)!r} is not 64 lower-case hex digits",
            document="request",
            field=f"{where}.sha256",
        )
    if size <= 0 or size > cap:
        raise FormatError(
            f"{where}.bytes = {size} is outside 1..{cap} (the largest shard this registry accepts)",
            document="request",
            field=f"{where}.bytes",
        )
