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
  opened it yet sees a miss;
* pinned for engines that read a path later (``scan``'s lazy polars plan, ``urls(local=True)``):
  :meth:`Cache.pin` hard-links the entry into this process's folder under ``.pins``, so
  eviction (by any process) removes the entry's name but not the pinned file. The pins live until
  the process exits (then, or by the next eviction of any process after it died, they are
  deleted); their bytes are outside the cap meanwhile.

Beside the bytes, :meth:`Cache.remember` keeps the last manifest a registry served for each
dataset (and pin) under ``.manifests``, so that a load whose shards are all cached still works
while the registry cannot be reached (with a warning that it may be stale).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cache", "CacheInfo"]

_TMP = ".tmp-"
_PINS = ".pins"
_MANIFESTS = ".manifests"


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
        self._pins: tuple[int, Path] | None = None  # (pid, folder): a forked child makes its own
        self._lock = threading.Lock()

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

    def pin(self, sha256: str, length: int) -> Path | None:
        """A file with the entry's bytes that no eviction removes before this process ends.

        For engines that open a path later (polars' lazy scan). The file is a hard link to the
        entry in this process's pin folder, re-hashed now (a damaged entry is dropped); None
        when the entry is missing or damaged, or the file system has no hard links.
        """
        if not self.enabled:
            return None
        folder = self._pin_folder()
        pinned = folder / sha256
        tmp = folder / f"{_TMP}{secrets.token_hex(4)}"
        try:
            os.link(self._entry(sha256), tmp)  # from here on the bytes are ours to keep
            os.replace(tmp, pinned)
        except OSError:
            tmp.unlink(missing_ok=True)
            return None
        with pinned.open("rb") as fh:
            data = fh.read(length + 1)
        if len(data) != length or hashlib.sha256(data).hexdigest() != sha256:
            pinned.unlink(missing_ok=True)
            self.get(sha256, length)  # drops the entry if it is the damaged one
            return None
        with contextlib.suppress(OSError):
            os.utime(self._entry(sha256))  # recently used
        return pinned

    def _pin_folder(self) -> Path:
        with self._lock:
            pid = os.getpid()
            if self._pins is None or self._pins[0] != pid:
                folder = self.path / _PINS / f"{pid}-{secrets.token_hex(4)}"
                folder.mkdir(parents=True, exist_ok=True)
                atexit.register(shutil.rmtree, folder, ignore_errors=True)
                self._pins = (pid, folder)
            return self._pins[1]

    def _drop_stale_pins(self) -> None:
        """Delete the pin folders of processes that are gone (one that crashed left them)."""
        try:
            folders = list((self.path / _PINS).iterdir())
        except OSError:
            return
        for folder in folders:
            pid = folder.name.split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)

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

    def remember(self, name: str, version: str, document: bytes) -> None:
        """Keep ``document`` (a manifest served for ``version``) as the last one of ``name``.

        ``name`` is a hex digest naming a dataset and pin of one registry. Written once per
        version; a later load of the same version only refreshes its time (when last seen).
        """
        if not self.enabled:
            return
        folder = self.path / _MANIFESTS
        target = folder / f"{name}.{hashlib.sha256(version.encode()).hexdigest()[:16]}"
        try:
            os.utime(target)
            return
        except FileNotFoundError:
            pass
        except OSError:
            return
        tmp = folder / f"{_TMP}{secrets.token_hex(4)}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(document)
            os.replace(tmp, target)
        except OSError:
            tmp.unlink(missing_ok=True)
            return
        for other in folder.glob(f"{name}.*"):
            if other != target:
                other.unlink(missing_ok=True)

    def recall(self, name: str) -> tuple[bytes, float] | None:
        """The last document :meth:`remember` kept for ``name`` and when it was last seen."""
        if not self.enabled:
            return None
        found = []
        for path in (self.path / _MANIFESTS).glob(f"{name}.*"):
            with contextlib.suppress(OSError):
                found.append((path.stat().st_mtime, path))
        for seen, path in sorted(found, reverse=True):
            with contextlib.suppress(OSError):
                return path.read_bytes(), seen
        return None

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
        if total > self.max_bytes:
            self._drop_stale_pins()
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
        self._drop_stale_pins()
        shutil.rmtree(self.path / _MANIFESTS, ignore_errors=True)
        for e in list(self.path.iterdir()):
            if e.is_file():
                with contextlib.suppress(FileNotFoundError):
                    freed += e.stat().st_size
                    e.unlink()
        return freed


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows: keep the pins
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True
