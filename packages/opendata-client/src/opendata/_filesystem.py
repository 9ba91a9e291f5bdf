"""``opendata://``: an fsspec filesystem over datasets, for engines built on fsspec.

Registered through the ``fsspec.specs`` entry point, so ``pd.read_parquet("opendata://ns/name")``,
``dd.read_parquet``, DuckDB's ``register_filesystem`` and anything else on fsspec address a
dataset without importing ``opendata`` first. Paths::

    opendata://                               the namespaces of the index
    opendata://ns                             the datasets of a namespace
    opendata://ns/name                        the current version: one file per shard
    opendata://ns/name@VERSION                a pinned version (publish id, or a unique prefix)
    opendata://ns/name?start=2024-03&end=2024-06   the shards that overlap the range
    opendata://ns/name/2024-0*.parquet        a glob over the partition labels

A shard's file is ``<partition>.parquet`` (``2024.parquet``, ``2024-03.parquet``,
``all.parquet``), ``<partition>.<n>.parquet`` for the second and later shards of one partition.
A range selects files; rows outside it stay in them (filter on the time column in the engine).

Resolution is the client's (:class:`~opendata.Client`: ``OPENDATA_REGISTRY`` or
``OPENDATA_STORE``, or the ``store=`` / ``registry=`` storage options), so signed links are
renewed as ``od.load`` renews them. Every byte an engine reads is verified before it is returned:
a format-1.1 shard read in ranges block by block against the manifest's block hashes, any other
read against the shard's sha256 (:class:`~opendata_core.errors.CorruptDataError` otherwise).
Verified bytes go through the local cache when it is on.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fsspec.spec import AbstractFileSystem

from opendata._verified_file import VerifiedFile
from opendata_core.ids import DatasetId

if TYPE_CHECKING:
    from opendata._client import Client
    from opendata_core.documents import Manifest, Shard

__all__ = ["OpenDataFileSystem", "client_for", "remote_options"]

PROTOCOL = "opendata"
DEFAULT_EXPIRY = 60.0
"""Seconds an unpinned resolution (the current version) is reused before it is asked again."""
_QUERY_KEYS = ("start", "end")
_LABEL = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


# ---------------------------------------------------------------------------------------------
# Which store: options that another process (a Dask worker) turns into the same client


def remote_options(client: Client) -> dict[str, Any]:
    """Storage options that open ``client``'s store in another process (no credentials).

    Workers read their credentials (``OPENDATA_API_KEY``, ``AWS_*``) from their own environment,
    so no key and no signed URL travels in a task graph.

    Raises:
        ValueError: a custom :class:`~opendata.Store` another process cannot open.
    """
    from opendata._registry import RegistryTransport
    from opendata._stores import LocalStore, S3CompatibleStore

    store = client.store
    if isinstance(store, RegistryTransport):
        return {"registry": store.url}
    if isinstance(store, LocalStore | S3CompatibleStore):
        options: dict[str, Any] = {"store": store.url, "prefix": client.layout.prefix}
        if isinstance(store, S3CompatibleStore) and store.endpoint.startswith("http"):
            options["endpoint"] = store.endpoint
        return options
    raise ValueError(
        f"{type(store).__name__} cannot be opened by another process: use a folder, s3://, "
        "r2:// or registry store (Client(store=...) or OPENDATA_REGISTRY)"
    )


def client_for(
    store: str | None = None,
    registry: str | None = None,
    prefix: str | None = None,
    endpoint: str | None = None,
    cache: bool | None = None,
) -> Client:
    """This process's client for these options and the current settings (one per combination).

    One client per process keeps its signed links (renewed when they expire) and its verified
    blocks across the files an engine opens; a change of ``OPENDATA_*`` makes a new one.
    """
    from opendata._config import settings

    return _client(settings(), store, registry, prefix, endpoint, cache)


@functools.lru_cache(maxsize=32)
def _client(
    s: Any,
    store: str | None,
    registry: str | None,
    prefix: str | None,
    endpoint: str | None,
    cache: bool | None,
) -> Client:
    from opendata._client import Client

    if registry is not None:
        from opendata._registry import RegistryTransport

        return Client(RegistryTransport(registry, api_key=s.api_key), cache=cache)
    if endpoint is not None and store is not None and store.startswith("s3://"):
        from opendata._stores import S3CompatibleStore

        bucket = store[len("s3://") :].split("/", 1)[0]
        return Client(
            S3CompatibleStore(bucket, endpoint=endpoint, region=s.aws_region),
            prefix=prefix,
            cache=cache,
        )
    return Client(store, prefix=prefix, cache=cache)


# ---------------------------------------------------------------------------------------------
# Paths


@dataclass(frozen=True)
class _Where:
    """A parsed path: the root, a namespace, a dataset folder or one shard's file."""

    namespace: str | None = None
    ds: DatasetId | None = None
    version: str | None = None
    start: str | None = None
    end: str | None = None
    file: str | None = None
    folder: str = ""
    """The dataset folder as the path spells it (``ns/name@v?start=2024``): its files' parent."""


def _parse(path: str) -> _Where:
    parts = path.strip("/").split("/") if path.strip("/") else []
    if len(parts) > 3:
        raise FileNotFoundError(f"opendata://{path}: no such file (paths are ns/name/file)")
    if any("?" in p for i, p in enumerate(parts) if i != 1):
        raise ValueError(
            f"opendata://{path}: a query (?start=&end=) belongs after the dataset, "
            "e.g. opendata://ns/name?start=2024-01&end=2024-06"
        )
    if not parts:
        return _Where()
    if len(parts) == 1:
        DatasetId.parse(f"{parts[0]}/x")  # the namespace rules
        return _Where(namespace=parts[0])
    head, _, query = parts[1].partition("?")
    bounds = _query(path, query)
    name, _, version = head.partition("@")
    ds = DatasetId.parse(f"{parts[0]}/{name}")
    return _Where(
        namespace=ds.namespace,
        ds=ds,
        version=version or None,
        start=bounds.get("start") or None,
        end=bounds.get("end") or None,
        file=parts[2] if len(parts) == 3 else None,
        folder=f"{parts[0]}/{parts[1]}",
    )


def _query(path: str, query: str) -> dict[str, str]:
    """``start``/``end`` from a query string (``+`` stays a plus: ``+00:00`` is an offset)."""
    out: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        if key not in _QUERY_KEYS:
            raise ValueError(
                f"opendata://{path}: unknown query key {unquote(key)!r}; use start= and end= "
                "(ISO 8601: 2024, 2024-03, 2024-03-01), e.g. ?start=2024-01&end=2024-06"
            )
        out[key] = unquote(value)
    return out


def file_names(manifest: Manifest) -> dict[str, Shard]:
    """Each shard of ``manifest`` by its file name (``<partition>.parquet``), in manifest order.

    A partition label that is not a plain name (only a hostile manifest has one) is replaced by
    the first 16 hex digits of the shard's sha256.
    """
    out: dict[str, Shard] = {}
    seen: dict[str, int] = {}
    for shard in manifest.shards:
        label = shard.partition if _LABEL.fullmatch(shard.partition) else shard.sha256[:16]
        n = seen.get(label, 0)
        seen[label] = n + 1
        out[f"{label}.{n}.parquet" if n else f"{label}.parquet"] = shard
    return out


@dataclass(frozen=True)
class _Listing:
    """One resolution of a dataset folder: its version and the files it selects."""

    manifest: Manifest
    files: dict[str, Shard]
    dataset: DatasetId
    """The id read: where the folder's id led (a moved id's new one)."""


# ---------------------------------------------------------------------------------------------
# The filesystem


class OpenDataFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec is untyped
    """``opendata://ns/name[@version][?start=&end=]``: datasets as folders of verified files.

    Args:
        store: A store URL (folder, ``s3://``, ``r2://``) instead of ``OPENDATA_STORE``.
        registry: A registry URL instead of ``OPENDATA_REGISTRY`` (the key is read from
            ``OPENDATA_API_KEY``).
        prefix: The key prefix inside the store.
        endpoint: The S3 endpoint for ``store`` (default ``AWS_ENDPOINT_URL``).
        cache: Keep verified bytes in the local cache (default ``OPENDATA_CACHE``).
        listings_expiry_time: Seconds a resolution of the current version is reused (default
            60); a pinned version is never asked again. ``use_listings_cache=False``: always ask.
        storage_options: Anything else engines pass (``default_cache``, ``cache_type``, ...)
            is accepted and ignored: reads are served from verified blocks.

    Example:
        >>> import pandas as pd
        >>> df = pd.read_parquet("opendata://ecb/euro-fx-rates?start=2024")  # doctest: +SKIP
        >>> import fsspec
        >>> fs = fsspec.filesystem("opendata")
        >>> fs.ls("ecb/euro-fx-rates", detail=False)  # doctest: +SKIP
        ['ecb/euro-fx-rates/2023.parquet', 'ecb/euro-fx-rates/2024.parquet']
    """

    protocol = PROTOCOL
    root_marker = ""

    def __init__(
        self,
        store: str | None = None,
        *,
        registry: str | None = None,
        prefix: str | None = None,
        endpoint: str | None = None,
        cache: bool | None = None,
        listings_expiry_time: float | None = DEFAULT_EXPIRY,
        use_listings_cache: bool = True,
        **storage_options: Any,
    ) -> None:
        super().__init__(
            store=store,
            registry=registry,
            prefix=prefix,
            endpoint=endpoint,
            cache=cache,
            listings_expiry_time=listings_expiry_time,
            use_listings_cache=use_listings_cache,
            **storage_options,
        )
        self._options = (store, registry, prefix, endpoint, cache)
        self._expiry = listings_expiry_time if use_listings_cache else 0.0
        self._lock = threading.Lock()
        self._listings: dict[tuple[Any, ...], tuple[float, _Listing]] = {}

    # -- resolution ------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The client paths are resolved with (this process's, for the current settings)."""
        return client_for(*self._options)

    def _listing(self, where: _Where) -> _Listing:
        assert where.ds is not None
        client = self.client
        key = (id(client), str(where.ds), where.version, where.start, where.end)
        now = time.monotonic()
        with self._lock:
            hit = self._listings.get(key)
        if hit is not None and (
            where.version is not None or self._expiry is None or now - hit[0] < self._expiry
        ):
            return hit[1]
        # As every read: a moved id's folder is its new id's (with the warning), a withdrawn
        # dataset's raises DatasetWithdrawn.
        ds, manifest, shards, _ = client._reader.select_live(
            where.ds, where.start, where.end, (where.version, None)
        )
        chosen = {s.sha256 for s in shards}
        files = {n: s for n, s in file_names(manifest).items() if s.sha256 in chosen}
        listing = _Listing(manifest, files, ds)
        with self._lock:
            if len(self._listings) > 1024:
                self._listings.clear()
            self._listings[key] = (now, listing)
        return listing

    def _shard(self, where: _Where) -> tuple[_Listing, Shard]:
        listing = self._listing(where)
        shard = listing.files.get(where.file or "")
        if shard is None:
            raise FileNotFoundError(
                f"opendata://{where.folder}/{where.file}: no such file; the files are "
                + ", ".join(list(listing.files)[:10])
            )
        return listing, shard

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget resolutions (all, or those of the dataset ``path`` names)."""
        with self._lock:
            if path is None:
                self._listings.clear()
                return
            ds = _parse(self._strip_protocol(path)).ds
            for key in [k for k in self._listings if ds is None or k[1] == str(ds)]:
                del self._listings[key]

    # -- what engines call -----------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith(f"{PROTOCOL}://"):
            path = path[len(PROTOCOL) + 3 :]
        elif path.startswith(f"{PROTOCOL}::"):
            path = path[len(PROTOCOL) + 2 :]
        return path.replace("/?", "?").strip("/")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        return {}  # the query string is part of the path (a time range), not options

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """A folder's entries: namespaces, datasets, or one dataset's shard files."""
        where = _parse(self._strip_protocol(path))
        if where.file is not None:
            info = self.info(path)
            return [info] if detail else [info["name"]]
        if where.ds is None:
            entries = self._catalogue(where.namespace)
        else:
            listing = self._listing(where)
            entries = [
                self._file_info(f"{where.folder}/{name}", listing.manifest, shard)
                for name, shard in listing.files.items()
            ]
        return entries if detail else [e["name"] for e in entries]

    def _catalogue(self, namespace: str | None) -> list[dict[str, Any]]:
        ids = sorted(e.id for e in self.client.list())
        if namespace is None:
            names = sorted({i.split("/")[0] for i in ids})
        else:
            names = [i for i in ids if i.split("/")[0] == namespace]
            if not names:
                raise FileNotFoundError(f"opendata://{namespace}: no dataset in this namespace")
        return [{"name": n, "size": 0, "type": "directory"} for n in names]

    def glob(self, path: str, maxdepth: int | None = None, **kwargs: Any) -> Any:
        """Fsspec's glob, except that a dataset folder's query (``?start=``) is no pattern."""
        stripped = self._strip_protocol(path)
        parts = stripped.split("/")
        if len(parts) < 2 or "?" not in parts[1]:
            return super().glob(path, maxdepth=maxdepth, **kwargs)
        folder, pattern = "/".join(parts[:2]), "/".join(parts[2:])
        entries = self.ls(folder, detail=True) if pattern else [self.info(folder)]
        found = {
            e["name"]: e
            for e in entries
            if not pattern or fnmatch.fnmatchcase(e["name"].rsplit("/", 1)[-1], pattern)
        }
        return found if kwargs.get("detail") else sorted(found)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """A file's size, sha256, rows, partition, time bounds and version; or a folder."""
        where = _parse(self._strip_protocol(path))
        if where.ds is None:
            if where.namespace is not None:
                self._catalogue(where.namespace)  # FileNotFoundError for an unknown namespace
            return {"name": where.namespace or "", "size": 0, "type": "directory"}
        if where.file is None:
            listing = self._listing(where)
            return {
                "name": where.folder,
                "size": 0,
                "type": "directory",
                "version": listing.manifest.publish_id,
                "mtime": listing.manifest.published_at,
            }
        listing, shard = self._shard(where)
        return self._file_info(f"{where.folder}/{where.file}", listing.manifest, shard)

    @staticmethod
    def _file_info(name: str, manifest: Manifest, shard: Shard) -> dict[str, Any]:
        return {
            "name": name,
            "size": shard.bytes,
            "type": "file",
            "sha256": shard.sha256,
            "rows": shard.rows,
            "partition": shard.partition,
            "min": shard.min,
            "max": shard.max,
            "version": manifest.publish_id,
            "mtime": manifest.published_at,
        }

    def modified(self, path: str) -> datetime:
        """When the version was published (shards never change within one)."""
        mtime = self.info(path).get("mtime")
        if mtime is None:
            raise IsADirectoryError(f"opendata://{path}: a namespace has no publish time")
        return mtime  # type: ignore[no-any-return]

    created = modified

    def ukey(self, path: str) -> str:
        """The shard's sha256 (its content never changes)."""
        return str(self.info(path)["sha256"])

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> VerifiedFile:
        if mode != "rb":
            raise PermissionError(
                f"opendata://{path} is read-only (mode {mode!r}); publish with od.push"
            )
        where = _parse(self._strip_protocol(path))
        if where.file is None:
            raise IsADirectoryError(f"opendata://{path} is a folder; open one of its files")
        listing, shard = self._shard(where)
        reader = self.client._reader
        return VerifiedFile(self, f"{where.folder}/{where.file}", reader, listing.dataset, shard)

    def cat_ranges(
        self,
        paths: list[str],
        starts: Any,
        ends: Any,
        max_gap: Any = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list[Any]:
        """Byte ranges of files, each file opened once (its verified blocks serve every range)."""
        n = len(paths)
        starts = [starts] * n if isinstance(starts, int | None) else list(starts)
        ends = [ends] * n if isinstance(ends, int | None) else list(ends)
        if not n == len(starts) == len(ends):
            raise ValueError("cat_ranges: paths, starts and ends differ in length")
        out: list[Any] = [None] * n
        by_path: dict[str, list[int]] = {}
        for i, p in enumerate(paths):
            by_path.setdefault(p, []).append(i)
        for p, indices in by_path.items():
            try:
                with self.open(p, "rb") as fh:
                    for i in indices:
                        out[i] = fh.read_range(starts[i], ends[i])
            except Exception as exc:
                if on_error == "raise":
                    raise
                for i in indices:
                    out[i] = exc
        return out
