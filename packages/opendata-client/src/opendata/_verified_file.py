"""One shard opened through ``opendata://``: reads served from verified bytes only."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from opendata_core.blocks import block_starts, covering

if TYPE_CHECKING:
    from opendata._read import Reader
    from opendata_core.documents import Shard
    from opendata_core.ids import DatasetId

__all__ = ["VerifiedFile"]

RECENT_BYTES: Final = 128 << 20
"""Verified bytes a process keeps in memory for files opened again (engines open a file to
read its footer while planning, then again to read it)."""


class _Recent:
    """Verified bytes by SHA-256 (whole shards and blocks), least recently used dropped first.

    Content-addressed, so an entry can never be stale; only bytes that passed their hash check
    are put here.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes | memoryview] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, sha256: str) -> bytes | memoryview | None:
        with self._lock:
            data = self._entries.get(sha256)
            if data is not None:
                self._entries.move_to_end(sha256)
            return data

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    def put(self, sha256: str, data: bytes | memoryview) -> None:
        if len(data) > self.max_bytes // 4:
            return
        with self._lock:
            if sha256 in self._entries:
                return
            self._entries[sha256] = data
            self._size += len(data)
            while self._size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped)


_RECENT = _Recent(RECENT_BYTES)


class VerifiedFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec is untyped
    """A shard opened for reading: every byte returned was checked against the manifest.

    A format-1.1 shard is fetched block by block (the blocks a read touches, coalesced, each
    checked against its SHA-256 and kept for later reads); once the reads would move most of
    the file, or when the shard has no blocks, it is fetched whole and checked against its
    sha256. Both come from this process's recently verified bytes, or the local cache, when they
    are there.
    """

    def __init__(
        self,
        fs: AbstractFileSystem,
        path: str,
        reader: Reader,
        ds: DatasetId | None,
        shard: Shard,
    ) -> None:
        assert ds is not None
        self._reader, self._ds, self._shard = reader, ds, shard
        self._key = reader.layout.resolve(ds, shard.path)
        self._starts = block_starts(shard.blocks) if shard.blocks else None
        self._held: dict[int, bytes | memoryview] = {}
        self._whole: bytes | memoryview | None = None
        self._checked_cache = False
        super().__init__(
            fs, path, mode="rb", cache_type="none", size=shard.bytes, block_size=shard.bytes or 1
        )

    def read_range(self, start: int | None, end: int | None) -> bytes:
        """Bytes ``[start, end)`` (negative: from the end), without moving the position."""
        size = self.size
        a = 0 if start is None else (start + size if start < 0 else start)
        b = size if end is None else (end + size if end < 0 else end)
        return self._fetch_range(max(0, a), min(size, b))

    def _fetch_range(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if start >= end:
            return b""
        if self._whole is None and self._starts is not None:
            if not self._checked_cache:
                self._checked_cache = True
                sha256, size = self._shard.sha256, self._shard.bytes
                self._whole = _RECENT.get(sha256) or self._reader.cache.get(sha256, size)
            if self._whole is None:
                got = self._blocks(start, end)
                if got is not None:
                    return got
        if self._whole is None:
            self._whole = self._fetch_whole()
        return bytes(self._whole[start:end])

    def _blocks(self, start: int, end: int) -> bytes | None:
        """The range from verified blocks, or None when the whole file is the better fetch."""
        from opendata._ranged import WHOLE_RATIO, fetch_blocks

        blocks, starts = self._shard.blocks, self._starts
        assert starts is not None
        first, stop, _, _ = covering(blocks, start, end, starts)
        for i in range(first, stop):
            if i not in self._held and (recent := _RECENT.get(blocks[i].sha256)) is not None:
                self._held[i] = recent
        missing = [i for i in range(first, stop) if i not in self._held]
        if missing:
            held = sum(blocks[i].length for i in self._held)
            if held + sum(blocks[i].length for i in missing) > WHOLE_RATIO * self._shard.bytes:
                return None
            got = fetch_blocks(self._reader, self._ds, self._key, self._shard, missing)
            for i, data in got.items():
                self._held[i] = data
                _RECENT.put(blocks[i].sha256, data)
        return b"".join(
            memoryview(self._held[i])[max(start, starts[i]) - starts[i] : end - starts[i]]
            for i in range(first, stop)
        )

    def _fetch_whole(self) -> bytes | memoryview:
        reader, shard = self._reader, self._shard
        self._held.clear()
        recent = _RECENT.get(shard.sha256)
        if recent is not None:
            return recent
        data, fresh = reader._verified_bytes(self._ds, self._key, shard)
        if fresh:
            reader.cache.put(shard.sha256, data)
        _RECENT.put(shard.sha256, data)
        return data
