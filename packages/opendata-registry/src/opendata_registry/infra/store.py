"""The bucket, read through obstore: a local folder or an S3-compatible (S3, R2) bucket.

obstore's configuration and the meaning of its errors are core's
(:mod:`opendata_core.objectstore`, shared with the client): a missing key is
:class:`~opendata_core.store.NotFound`, a lost conditional write
:class:`~opendata_core.store.PreconditionFailed`, anything else
:class:`~opendata_core.errors.StoreUnavailable`.

The registry only reads documents, lists keys, writes ``index.json`` and signs GET URLs; shard
bytes never pass through it, except on a local folder store (nothing there can pre-sign), where
:mod:`opendata_registry.domain.downloads.files` serves them under HMAC-signed URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from opendata_core.errors import OpenDataError, PermissionDenied, StoreUnavailable, first_line
from opendata_core.layout import Layout
from opendata_core.store import NotFound
from opendata_core.storeurl import parse_store_url

if TYPE_CHECKING:
    from obstore.store import LocalStore, S3Store

    from opendata_registry.infra.settings import Settings

__all__ = ["ObjectMeta", "RegistryStore", "open_store"]

T = TypeVar("T")


@dataclass(frozen=True)
class ObjectMeta:
    """A listed object."""

    key: str
    size: int
    etag: str
    last_modified: datetime


class RegistryStore:
    """One bucket (or folder) and the key layout inside it."""

    def __init__(
        self,
        store: LocalStore | S3Store,
        *,
        url: str,
        layout: Layout,
        root: Path | None,
        endpoint: str | None = None,
    ):
        self._store = store
        self.url = url
        """The store as shown to operators (never with credentials)."""
        self.layout = layout
        self.root = root
        """The folder of a local store, else ``None``."""
        self.endpoint = endpoint or url
        """How the operator's log names the server."""

    @property
    def can_sign(self) -> bool:
        """Whether the store itself pre-signs URLs (S3/R2); a local folder cannot."""
        return self.root is None

    @contextlib.contextmanager
    def _translated(self, key: str) -> Iterator[None]:
        """Obstore's errors as core's (:mod:`opendata_core.objectstore`), refusals as outages."""
        from opendata_core.objectstore import translated

        try:
            with translated(url=self.url, key=key, endpoint=self.endpoint):
                yield
        except PermissionDenied as exc:
            # The registry's own credentials were refused: an outage for the caller (503), not
            # a refusal of the caller (403).
            raise StoreUnavailable(self.url, exc.message) from None

    async def _call(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        with self._translated(key):
            return await fn()

    async def get(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and ETag; raises :class:`~opendata_core.store.NotFound`."""
        import obstore

        async def run() -> tuple[bytes, str]:
            result = await obstore.get_async(self._store, key)
            data = await result.bytes_async()
            return bytes(data), str(result.meta.get("e_tag") or "")

        return await self._call(key, run)

    async def get_or_none(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or ``None`` when it does not exist."""
        try:
            return await self.get(key)
        except NotFound:
            return None

    async def etag(self, key: str) -> str:
        """The object's ETag (one HEAD request), ``""`` when it does not exist."""
        import obstore

        try:
            meta = await self._call(key, lambda: obstore.head_async(self._store, key))
        except NotFound:
            return ""
        return str(meta.get("e_tag") or "")

    async def get_many(
        self, keys: Sequence[str], *, limit: asyncio.Semaphore
    ) -> list[bytes | None]:
        """Each key's bytes (``None`` when it does not exist), read concurrently.

        An S3 bucket is read with ``limit`` requests in flight (obstore's async API); a local
        folder is read with plain file reads in one worker thread (obstore's async reads of a
        local file are many times slower than reading it).
        """
        if self.root is not None:
            import anyio

            paths = [self.root / _checked(key) for key in keys]  # no resolve: 3 syscalls less
            return await anyio.to_thread.run_sync(_files_or_none, paths, abandon_on_cancel=True)

        async def one(key: str) -> bytes | None:
            async with limit:
                got = await self.get_or_none(key)
            return got[0] if got is not None else None

        return list(await asyncio.gather(*(one(key) for key in keys)))

    async def list(self, prefix: str) -> AsyncIterator[ObjectMeta]:
        """Every object under ``prefix`` (recursive)."""
        import obstore

        if self.root is not None:
            # A local folder is walked directly (3x faster than obstore's listing), with
            # obstore's ETags, so either lister's ETags compare equal.
            import anyio

            folder = self.local_path(prefix.rstrip("/")) if prefix.strip("/") else self.root
            found = await anyio.to_thread.run_sync(_walk, self.root, folder, abandon_on_cancel=True)
            for one in found:
                yield one
            return
        stream = obstore.list(self._store, prefix, chunk_size=1000)
        try:
            with self._translated(prefix):
                async for batch in stream:
                    for meta in batch:
                        yield ObjectMeta(
                            meta["path"],
                            int(meta["size"]),
                            str(meta.get("e_tag") or ""),
                            meta["last_modified"],
                        )
        except NotFound:
            return  # a local folder store not created yet: nothing under the prefix

    async def put(self, key: str, data: bytes, *, if_match: str | None = None) -> str:
        """Write ``data``; ``if_match=""`` creates only when absent.

        Raises :class:`~opendata_core.store.PreconditionFailed` when the condition does not hold.
        """
        import obstore

        mode: Any = "overwrite"
        if if_match == "":
            mode = "create"
        elif if_match is not None and self.root is None:
            mode = {"e_tag": if_match}
        # A local folder cannot write conditionally on an ETag (obstore: not implemented); the
        # caller compares contents first, and the window is one rename.
        result = await self._call(key, lambda: obstore.put_async(self._store, key, data, mode=mode))
        return str(result.get("e_tag") or "")

    async def copy(self, source: str, target: str) -> None:
        """Copy one object inside the store (server-side on S3/R2), replacing ``target``."""
        import obstore

        await self._call(source, lambda: obstore.copy_async(self._store, source, target))

    async def delete(self, key: str) -> None:
        """Delete one object (an absent one is not an error)."""
        import obstore

        try:
            await self._call(key, lambda: obstore.delete_async(self._store, key))
        except NotFound:
            return

    async def ping(self) -> None:
        """One cheap request: a listing under ``index.json`` (at most that one object).

        Raises StoreUnavailable when the store is not ok (refused access, a missing bucket too).
        """
        import obstore

        key = self.layout.index()
        try:
            await self._call(key, lambda: obstore.list_with_delimiter_async(self._store, key))
        except NotFound:
            raise StoreUnavailable(self.url, "the bucket does not exist") from None

    def sign_get(self, key: str, expires: timedelta) -> str:
        """A pre-signed GET URL made by the store (S3/R2 only)."""
        import obstore
        from obstore.store import S3Store

        if not isinstance(self._store, S3Store):
            raise RuntimeError("a local folder store cannot pre-sign; use the registry's URLs")
        try:
            return obstore.sign(self._store, "GET", key, expires)
        except Exception as exc:  # obstore's signing errors have no common base
            raise StoreUnavailable(self.url, f"cannot sign {key}: {first_line(exc)}") from None

    async def read_back(self, key: str, limit: int) -> tuple[bytes, int, str]:
        """An object's bytes, size and sha256, read back once (obstore reports no checksum).

        For the commit's check of an uploaded shard: the bytes hashed are the bytes decoded.
        Reading stops past ``limit`` bytes (the size then says so). Raises
        :class:`~opendata_core.store.NotFound`.
        """
        import hashlib

        import obstore

        if self.root is not None:  # a file: reading it directly is ~30x faster than obstore async
            import anyio

            path = self.local_path(key)
            return await anyio.to_thread.run_sync(_file_read, path, limit, abandon_on_cancel=True)

        async def run() -> tuple[bytes, int, str]:
            result = await obstore.get_async(self._store, key)
            h, parts, size = hashlib.sha256(), [], 0
            async for chunk in result.stream(min_chunk_size=1 << 20):
                size += len(chunk)
                if size > limit:
                    break
                h.update(chunk)
                parts.append(bytes(chunk))
            return b"".join(parts), size, h.hexdigest()

        return await self._call(key, run)

    def sign_put(self, key: str, expires: timedelta) -> str:
        """A pre-signed PUT URL made by the store (S3/R2 only)."""
        import obstore
        from obstore.store import S3Store

        if not isinstance(self._store, S3Store):
            raise RuntimeError("a local folder store cannot pre-sign; use the registry's URLs")
        try:
            return obstore.sign(self._store, "PUT", key, expires)
        except Exception as exc:  # obstore's signing errors have no common base
            raise StoreUnavailable(self.url, f"cannot sign {key}: {first_line(exc)}") from None

    def local_path(self, key: str) -> Path:
        """The file of ``key`` in a local folder store, refusing anything outside the folder."""
        if self.root is None:
            raise RuntimeError("not a local folder store")
        path = (self.root / _checked(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"invalid key {key!r}")
        return path


def _checked(key: str) -> str:
    """``key`` unless it could name anything outside the folder (``..``, empty parts)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or "\\" in key or "\x00" in key:
        raise ValueError(f"invalid key {key!r}")
    return key


def _walk(root: Path, folder: Path) -> list[ObjectMeta]:
    """Every file under ``folder`` as obstore's LocalStore lists it (its ETag format too)."""
    found: list[ObjectMeta] = []
    base = len(str(root)) + 1
    stack = [str(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir():
                stack.append(entry.path)
            elif "#" not in entry.name:  # obstore's in-progress uploads (``name#n``)
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                micros = st.st_mtime_ns // 1000
                found.append(
                    ObjectMeta(
                        entry.path[base:],
                        st.st_size,
                        f'"{st.st_ino:x}-{micros:x}-{st.st_size:x}"',
                        datetime.fromtimestamp(micros / 1e6, UTC),
                    )
                )
    return found


def _files_or_none(paths: list[Path]) -> list[bytes | None]:
    out: list[bytes | None] = []
    for path in paths:
        try:
            out.append(path.read_bytes())
        except FileNotFoundError:
            out.append(None)
    return out


def _file_read(path: Path, limit: int) -> tuple[bytes, int, str]:
    import hashlib

    h, parts, size = hashlib.sha256(), [], 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    break
                h.update(chunk)
                parts.append(chunk)
    except FileNotFoundError:
        raise NotFound(str(path)) from None
    return b"".join(parts), size, h.hexdigest()


def open_store(settings: Settings) -> RegistryStore:
    """Open the store that ``settings.store`` names (the client's URL grammar)."""
    from obstore.store import LocalStore

    from opendata_core.objectstore import s3_store

    parsed = parse_store_url(settings.store)
    try:
        layout = Layout(parsed.prefix)
    except ValueError as exc:
        raise OpenDataError(f"OPENDATA_STORE: {exc}") from None
    if parsed.is_local:
        assert parsed.path is not None
        root = Path(parsed.path).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return RegistryStore(LocalStore(root), url=str(root), layout=layout, root=root)
    assert parsed.bucket is not None
    endpoint = settings.aws_endpoint_url
    region = settings.aws_region
    if parsed.scheme == "r2":
        if not (endpoint or settings.r2_account_id):
            raise OpenDataError(
                "OPENDATA_STORE is an r2:// bucket but the Cloudflare account is not set",
                hint="set R2_ACCOUNT_ID, or AWS_ENDPOINT_URL to the R2 endpoint",
            )
        endpoint = endpoint or f"https://{settings.r2_account_id}.r2.cloudflarestorage.com"
        region = "auto"
    # An unset AWS_REGION means S3's default region here too (s3_store maps "" to it).
    store = s3_store(parsed.bucket, endpoint=endpoint, region=region or "")
    url = f"{parsed.scheme}://{parsed.bucket}" + (f"/{parsed.prefix}" if parsed.prefix else "")
    return RegistryStore(store, url=url, layout=layout, root=None, endpoint=endpoint or "AWS S3")
