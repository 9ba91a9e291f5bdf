"""Object stores: a local folder and S3-compatible storage (via obstore).

Both implement :class:`opendata_core.store.Store` (the interface lives in core, so the registry
implements the same one); :func:`open_store` is the one place that maps a store URL to an
implementation.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from opendata_core.errors import PermissionDenied, shorten
from opendata_core.files import new_file_mode
from opendata_core.store import (
    NotFound,
    ObjectInfo,
    ObjectTooLarge,
    PreconditionFailed,
    RangeNotSatisfiable,
    Store,
)

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Store

__all__ = [
    "LocalStore",
    "ObjectInfo",
    "ObjectTooLarge",
    "PreconditionFailed",
    "S3CompatibleStore",
    "Store",
    "open_store",
]


# ---------------------------------------------------------------------------------------------
# Local folder

_TMP = ".tmp-"
"""Temporary files of writes in progress; ``gc`` removes stale ones after the grace period."""


class LocalStore(Store):
    """A folder on disk: the embedded default (no server, no keys).

    Writes go to a temporary file in the same folder and are renamed into place, so readers never
    see a partial object. Conditional writes hold an exclusive ``flock`` on a per-key lock file.
    The ETag of a local object is the sha256 of its bytes (only small documents are written
    conditionally).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if (
            not key
            or key.startswith("/")
            or any(p in ("", ".", "..") for p in parts[:-1])
            or parts[-1] in (".", "..")
        ):
            raise ValueError(f"invalid key {key!r}")
        return self.root.joinpath(*parts)

    @staticmethod
    def _etag(data: bytes | memoryview) -> str:
        return hashlib.sha256(data).hexdigest()[:32]

    def get(self, key: str, *, max_bytes: int | None = None) -> tuple[bytes, str]:
        try:
            with self._path(key).open("rb") as fh:
                if max_bytes is None:
                    data = fh.read()
                else:
                    size = os.fstat(fh.fileno()).st_size
                    data = fh.read(max_bytes + 1)  # stops there even if the file grew
                    if max(size, len(data)) > max_bytes:
                        raise ObjectTooLarge(key, max(size, len(data)))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(key) from None
        except PermissionError as exc:
            raise self._refused("read", key, exc) from None
        return data, self._etag(data)

    def _refused(self, verb: str, key: str, exc: OSError) -> PermissionDenied:
        return PermissionDenied(
            f"cannot {verb} {key} in {self.url}: {exc.strerror}",
            hint=f"check that your user may {verb} the files under {self.root}",
        )

    INTERNAL = "~opendata"
    """The store's own folder at the root; ``~`` is in no key (ids and prefixes exclude it)."""

    @contextlib.contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        lock_dir = self.root / self.INTERNAL / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        # Imported here: fcntl is POSIX-only, and only conditional writes to a local folder need
        # it (reading, and every S3/R2 store, work on Windows too).
        import fcntl

        with open(lock_dir / name, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def put(
        self, key: str, data: bytes, *, if_absent: bool = False, if_match: str | None = None
    ) -> str:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP)
        except PermissionError as exc:
            raise self._refused("write", key, exc) from None
        try:
            os.chmod(tmp, new_file_mode())  # mkstemp's 0600: as any other tool's files
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            if if_absent:
                try:
                    os.link(tmp, path)  # atomic create-if-absent
                except FileExistsError:
                    raise PreconditionFailed(key) from None
            elif if_match is not None:
                with self._lock(key):
                    try:
                        current = self._etag(path.read_bytes())
                    except FileNotFoundError:
                        current = None
                    if current != if_match:
                        raise PreconditionFailed(key)
                    os.replace(tmp, path)
            else:
                os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return self._etag(data)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix.rstrip("/")) if prefix.rstrip("/") else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            if Path(dirpath) == self.root:
                dirnames[:] = [d for d in dirnames if d != self.INTERNAL]
            for name in filenames:
                if name.startswith(_TMP):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                st = full.stat()
                yield ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def temporaries(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix.rstrip("/")) if prefix.rstrip("/") else self.root
        if not base.is_dir():
            return
        for dirpath, _, filenames in os.walk(base):
            for name in filenames:
                if name.startswith(_TMP):
                    full = Path(dirpath) / name
                    with contextlib.suppress(FileNotFoundError):
                        st = full.stat()
                        key = full.relative_to(self.root).as_posix()
                        yield ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> Sequence[bytes | memoryview]:
        try:
            with self._path(key).open("rb") as fh:
                out = []
                for a, b in ranges:
                    fh.seek(a)
                    out.append(fh.read(b - a))
                return out
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(key) from None
        except PermissionError as exc:
            raise self._refused("read", key, exc) from None

    def local_path(self, key: str) -> Path:
        return self._path(key)


# ---------------------------------------------------------------------------------------------
# S3-compatible (AWS S3, Cloudflare R2, MinIO, moto) through obstore

T = TypeVar("T")


class S3CompatibleStore(Store):
    """An S3-compatible bucket through obstore; ``AWS_*`` variables pass through unchanged.

    Retries, timeouts and what each obstore error becomes are core's
    (:mod:`opendata_core.objectstore`), shared with the registry.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        retry_config: RetryConfig | None = None,
        client_options: ClientConfig | None = None,
        **config: Any,
    ) -> None:
        """Open ``bucket``; ``config`` is passed to :class:`obstore.store.S3Store` unchanged."""
        from opendata_core.objectstore import s3_store

        self.bucket = bucket
        self.url = f"s3://{bucket}"
        self.endpoint = endpoint or "AWS S3"
        """How error messages name the server."""
        self._store: S3Store = s3_store(
            bucket,
            endpoint=endpoint,
            region=region,
            retry_config=retry_config,
            client_options=client_options,
            **config,
        )

    def _call(self, key: str, fn: Callable[[], T]) -> T:
        from opendata_core.objectstore import translated

        with translated(url=self.url, key=key, endpoint=self.endpoint, bucket=self.bucket):
            return fn()

    def get(self, key: str, *, max_bytes: int | None = None) -> tuple[memoryview, str]:
        import obstore

        def run() -> tuple[memoryview, str]:
            result = obstore.get(self._store, key)
            etag = result.meta.get("e_tag") or ""
            # The size comes from the response headers, before the body is read; the body is
            # then read to exactly that length, so an oversized object is never downloaded.
            size = int(result.meta["size"])
            if max_bytes is not None and size > max_bytes:
                raise ObjectTooLarge(key, size)
            return memoryview(result.bytes()), etag

        return self._call(key, run)

    def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> Sequence[bytes | memoryview]:
        import obstore

        if not ranges:
            return []
        starts = [a for a, _ in ranges]
        ends = [b for _, b in ranges]

        def run() -> Any:
            try:
                # The caller coalesces (it knows what a gap costs); obstore fetches in parallel.
                return obstore.get_ranges(self._store, key, starts=starts, ends=ends, coalesce=0)
            except Exception as exc:
                if "416" in str(exc) or "Range Not Satisfiable" in str(exc):
                    raise RangeNotSatisfiable(key) from None
                raise

        result = self._call(key, run)
        return [memoryview(r) for r in result]

    def put(
        self, key: str, data: bytes, *, if_absent: bool = False, if_match: str | None = None
    ) -> str:
        import obstore

        mode: Any = "overwrite"
        if if_absent:
            mode = "create"
        elif if_match is not None:
            mode = {"e_tag": if_match}
        result = self._call(key, lambda: obstore.put(self._store, key, data, mode=mode))
        return str(result.get("e_tag") or "")

    def exists(self, key: str) -> bool:
        import obstore

        try:
            self._call(key, lambda: obstore.head(self._store, key))
        except NotFound:
            return False
        return True

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        import obstore

        batches = self._call(prefix, lambda: list(obstore.list(self._store, prefix)))
        for batch in batches:
            for meta in batch:
                yield ObjectInfo(meta["path"], int(meta["size"]), meta["last_modified"])

    def delete(self, key: str) -> None:
        import obstore

        with contextlib.suppress(NotFound):
            self._call(key, lambda: obstore.delete(self._store, key))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def sign(self, key: str, expires: timedelta) -> str:
        import obstore

        return str(self._call(key, lambda: obstore.sign(self._store, "GET", key, expires)))


def open_store(
    url: str,
    *,
    r2_account_id: str | None = None,
    endpoint: str | None = None,
    region: str | None = None,
) -> tuple[Store, str]:
    """Open the store a URL names; returns the store and the key prefix inside it.

    ``/path``, ``~/path`` and ``file:///path`` are local folders; ``s3://bucket/prefix`` uses the
    ``AWS_*`` environment; ``r2://bucket/prefix`` needs ``R2_ACCOUNT_ID``.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("", "file") and "@" in parsed.netloc:
        from opendata_core.errors import OpenDataError

        shown = f"{parsed.scheme}://<credentials>@{parsed.netloc.rsplit('@', 1)[1]}"
        raise OpenDataError(
            f"the store URL {shorten(shown)} has credentials in it; they were not used",
            hint="remove them from the URL (it ends up in logs and shell history) and set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
        )
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = parsed.path if parsed.scheme == "file" else url
        return LocalStore(path), ""
    prefix = parsed.path.strip("/")
    if parsed.scheme == "s3":
        return S3CompatibleStore(parsed.netloc, endpoint=endpoint, region=region), prefix
    if parsed.scheme == "r2":
        if not r2_account_id:
            from opendata_core.errors import OpenDataError

            raise OpenDataError(
                f"store {shorten(repr(url))} needs the Cloudflare account id",
                hint="set R2_ACCOUNT_ID, or use s3://bucket with AWS_ENDPOINT_URL",
            )
        return (
            S3CompatibleStore(
                parsed.netloc,
                endpoint=endpoint or f"https://{r2_account_id}.r2.cloudflarestorage.com",
                region="auto",
            ),
            prefix,
        )
    from opendata_core.errors import OpenDataError

    raise OpenDataError(
        f"unknown store {shorten(repr(url))}",
        hint="use a folder path, file:///path, s3://bucket/prefix or r2://bucket/prefix",
    )
