"""The local cache: verified bytes named by their SHA-256 (whole shards and format-1.1 blocks).

One flat folder (``$OPENDATA_HOME/cache`` or ``OPENDATA_CACHE_DIR``) shared by ``load``, ``scan``
and every process of the user. An entry's name is the SHA-256 of its bytes, so it never changes:

* written to a temporary file in the same folder and renamed into place (readers never see a
  partial entry; two writers of the same entry write the same bytes);
* checked on write (the bytes must hash to the name) and on every read (a changed or truncated
  entry is deleted and reported as a miss, so the caller fetches it again);
* bounded by ``OPENDATA_CACHE_MAX``: after a write, the least recently used entries (by mtime,
  which every hit refreshes) are deleted until the total fits. A reader that opened an entry
  keeps reading it when another process evicts it (POSIX unlink), and a reader that has not
  opened it yet sees a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cache", "CacheInfo"]

_TMP = ".tmp-"


@dataclass(frozen=True)
class CacheInfo:
    """What ``od cache info`` prints."""

    path: Path
    entries: int
    bytes: int
    max_bytes: int
    enabled: bool


class Cache:
    """Content-addressed local cache; ``enabled=False`` turns lookups into misses, stores off."""

    def __init__(self, path: Path, *, max_bytes: int, enabled: bool = True) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.enabled = enabled

    def _entry(self, sha256: str) -> Path:
        return self.path / sha256

    def get(self, sha256: str, length: int) -> bytes | None:
        """The entry's bytes if present and intact (re-hashed now); a damaged entry is dropped."""
        if not self.enabled:
            return None
        entry = self._entry(sha256)
        try:
            with entry.open("rb") as fh:
                data = fh.read(length + 1)
        except (FileNotFoundError, IsADirectoryError):
            return None
        if len(data) != length or hashlib.sha256(data).hexdigest() != sha256:
            entry.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently used
        return data

    def path_of(self, sha256: str, length: int) -> Path | None:
        """The entry's file if present and intact (re-hashed now), for engines that read paths."""
        return self._entry(sha256) if self.get(sha256, length) is not None else None

    def put(self, sha256: str, data: bytes | memoryview) -> Path | None:
        """Store verified bytes under their hash; refuses (returns None) bytes that do not match."""
        if not self.enabled or hashlib.sha256(data).hexdigest() != sha256:
            return None
        self.path.mkdir(parents=True, exist_ok=True)
        entry = self._entry(sha256)
        tmp = self.path / f"{_TMP}{sha256[:16]}-{secrets.token_hex(4)}"
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
            os.replace(tmp, entry)
        except OSError:
            tmp.unlink(missing_ok=True)
            return None  # a full or read-only disk only costs the cache
        self.evict()
        return entry

    def _entries(self) -> list[tuple[float, int, Path]]:
        out = []
        try:
            with os.scandir(self.path) as it:
                for e in it:
                    if e.name.startswith(_TMP) or not e.is_file():
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        st = e.stat()
                        out.append((st.st_mtime, st.st_size, Path(e.path)))
        except FileNotFoundError:
            return []
        return out

    def evict(self) -> int:
        """Delete least recently used entries until the cache fits its cap; returns bytes freed."""
        entries = self._entries()
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _, size, path in sorted(entries):
            if total - freed <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            freed += size
        return freed

    def info(self) -> CacheInfo:
        entries = self._entries()
        return CacheInfo(
            self.path, len(entries), sum(s for _, s, _ in entries), self.max_bytes, self.enabled
        )

    def clear(self) -> int:
        """Delete every entry (and stale temporaries); returns bytes freed."""
        freed = 0
        if not self.path.is_dir():
            return 0
        for e in list(self.path.iterdir()):
            if e.is_file():
                with contextlib.suppress(FileNotFoundError):
                    freed += e.stat().st_size
                    e.unlink()
        return freed
