"""A dataset's kept versions, read from the bucket's history entries by core's rules (spec §8).

The registry answers exactly what a reader of the bucket itself gets (``od.Client(store)``): the
chain of ``versions/<publish_id>.json`` entries reachable from the current manifest
(:func:`~opendata_core.versions.manifest_chain`), a version chosen by id, prefix or ``as_of``
(:func:`~opendata_core.versions.select_manifest`), and the same ``VersionNotFound`` messages. The
current manifest is the catalogue's (the one ``download`` serves); the history takes one LIST of
``versions/`` per call, so a version that retention removed is gone at once, and the GETs of the
entries not read before: an entry never changes, so each is read once per process
(:class:`EntryCache`).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Final, Protocol

from cachetools import LRUCache

from opendata_core.api import VersionList
from opendata_core.documents import Manifest
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import Lifecycle
from opendata_core.store import NotFound
from opendata_core.versions import (
    decode_entry,
    entry_publish_id,
    manifest_chain,
    select_manifest,
    summaries,
)
from opendata_registry.db.engine import SessionMaker
from opendata_registry.domain.catalogue.lifecycle import read_lifecycle
from opendata_registry.domain.catalogue.services import CatalogueService
from opendata_registry.infra.hotcache import HotCache
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.store import RegistryStore

__all__ = ["EntryCache", "VersionParts", "VersionService"]

_MAX_ENTRIES: Final = 20_000
_CONCURRENT_GETS: Final = 8


class EntryCache:
    """History entries by ``(dataset id, publish id)``: immutable, so never invalidated.

    Bounded: past :data:`_MAX_ENTRIES` the least recently used entry is dropped.
    """

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self._entries: LRUCache[tuple[str, str], Manifest] = LRUCache(max_entries)

    def get(self, dataset_id: str, publish_id: str) -> Manifest | None:
        """The cached entry, if any."""
        return self._entries.get((dataset_id, publish_id))

    def put(self, manifest: Manifest) -> None:
        """Keep an entry that was read and checked."""
        self._entries[(manifest.dataset_id, manifest.publish_id)] = manifest


class VersionParts(Protocol):
    """What the versions use of the running registry (the app's :class:`~.context.Registry`)."""

    @property
    def settings(self) -> Settings: ...  # noqa: D102
    @property
    def store(self) -> RegistryStore: ...  # noqa: D102
    @property
    def sessions(self) -> SessionMaker: ...  # noqa: D102
    @property
    def hot(self) -> HotCache: ...  # noqa: D102
    @property
    def entries(self) -> EntryCache: ...  # noqa: D102


class VersionService:
    """Lists and resolves versions; the current manifest comes from the request's hot cache."""

    def __init__(self, registry: VersionParts) -> None:
        self.registry = registry

    async def current(self, dataset_id: str, generation: int | None = None) -> Manifest:
        """The current manifest (DatasetNotFound with close matches when there is none).

        ``generation``: the request's value of the cache's change counter; without it the
        catalogue is read.
        """
        hot = self.registry.hot
        if generation is not None and (cached := hot.manifest(dataset_id)) is not None:
            return cached
        async with self.registry.sessions() as session:
            manifest = await CatalogueService(session, self.registry.settings).manifest(dataset_id)
        if generation is not None:
            hot.remember_manifest(generation, dataset_id, manifest)
        return manifest

    async def lifecycle(self, dataset_id: str, generation: int | None = None) -> Lifecycle | None:
        """The dataset's own ``lifecycle.json`` (``None``: it has none), as ``GET …/lifecycle``.

        Kept in the hot cache with the manifest (``generation`` as in :meth:`current`).
        """
        hot = self.registry.hot
        if generation is not None and (cached := hot.lifecycle(dataset_id)) is not None:
            return cached[0]
        async with self.registry.sessions() as session:
            doc = await read_lifecycle(session, dataset_id)
        if generation is not None:
            hot.remember_lifecycle(generation, dataset_id, doc)
        return doc

    async def history(self, current: Manifest) -> list[Manifest]:
        """The kept versions of ``current``'s dataset, oldest first, ``current`` last."""
        store, entries = self.registry.store, self.registry.entries
        ds = DatasetId.parse(current.dataset_id)
        prefix = store.layout.versions_prefix(ds)
        listed = set()
        async for obj in store.list(prefix):
            publish_id = entry_publish_id(obj.key, prefix)
            if publish_id is not None and publish_id != current.publish_id:
                listed.add(publish_id)
        found = {pid: m for pid in listed if (m := entries.get(current.dataset_id, pid))}
        gate = asyncio.Semaphore(_CONCURRENT_GETS)

        async def read(publish_id: str) -> Manifest | None:
            async with gate:
                try:
                    data, _ = await store.get(store.layout.version(ds, publish_id))
                except NotFound:
                    return None  # deleted by a collector since the LIST
            entry = decode_entry(data, current.dataset_id, publish_id)
            entries.put(entry)
            return entry

        missing = sorted(listed - set(found))
        for entry in await asyncio.gather(*(read(pid) for pid in missing)):
            if entry is not None:
                found[entry.publish_id] = entry
        return manifest_chain(current, found)

    async def versions(self, dataset_id: str) -> VersionList:
        """``GET …/versions``: the kept versions, newest first, with their summaries."""
        current = await self.current(dataset_id)
        history = await self.history(current)
        return VersionList(
            dataset_id=current.dataset_id, versions=list(reversed(summaries(history)))
        )

    async def resolve(
        self,
        dataset_id: str,
        version: str | None = None,
        as_of: str | date | datetime | None = None,
        *,
        generation: int | None = None,
    ) -> Manifest:
        """The manifest of the version asked for (the current one when neither is given)."""
        current = await self.current(dataset_id, generation)
        if version is None and as_of is None:
            return current
        if version is not None and as_of is None and version.strip() == current.publish_id:
            return current
        history = await self.history(current)
        return select_manifest(current.dataset_id, history, version=version, as_of=as_of)
