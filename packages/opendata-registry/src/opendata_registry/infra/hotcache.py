"""The request path's cache: keys, manifests and shard plans, valid while the database is unchanged.

``download`` is the registry's hottest call; without this cache each one opened two database
sessions (the key, then the manifest) and decoded the manifest's JSON again. Entries are trusted
only while the database's change counter (``registry_generation``, bumped by triggers on
``api_keys`` and ``datasets``; migration 0003) still has the value it had when they were read.
The counter is read once per request, so a key revoked by the CLI, another worker or another
replica fails on its next request, and a commit or sync is served at once.

Reading the counter is the one per-request database access: on the embedded SQLite file through
a plain read-only ``sqlite3`` connection (a few microseconds; aiosqlite's thread hand-off costs
far more than the query), on PostgreSQL one primary-key read through the engine.

Each map holds at most :data:`MAX_ENTRIES` entries and drops the least recently used one past
that (``cachetools.LRUCache``). Decision 0008 records the design and its measurements.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from cachetools import LRUCache
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from opendata_core.documents import Manifest, Shard
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import Lifecycle
from opendata_registry.infra.identity import Caller

if TYPE_CHECKING:
    from litestar.types import Scope

__all__ = ["MAX_ENTRIES", "HotCache", "PlanKey", "ShardPlan", "read_generation"]

MAX_ENTRIES: Final = 10_000
"""Entries per map (keys, manifests, plans); past it the least recently used one is dropped."""
_READ: Final = "SELECT value FROM registry_generation WHERE id = 1"

K = TypeVar("K")
V = TypeVar("V")
PlanKey = tuple[str, str, str | None, str | None]
"""``(dataset id, publish id, start, end)``: a range of one publish, as the request gave it."""


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """What a download of one range of one publish signs: the same for every caller."""

    ds: DatasetId
    available: list[str]
    """The manifest's column names (a request's ``columns`` must be among them)."""
    shards: list[Shard]
    keys: list[str]
    """Each shard's object key in the store."""
    total: int
    """Bytes of the shards: what the download costs the caller's byte budget."""


async def read_generation(connection: AsyncConnection | AsyncSession) -> int:
    """The database's change counter, read on ``connection`` (-1 if it has no row)."""
    row = (await connection.execute(text(_READ))).first()
    return int(row[0]) if row else -1


class HotCache:
    """API keys by hash, current manifests by dataset id and shard plans, for one process.

    Example:
        >>> cache = HotCache.__new__(HotCache)
        >>> cache._generation = None
        >>> cache._valid(0), cache._valid(0), cache._valid(1)
        (False, True, False)
        >>> cache.remember_caller(0, "hash", Caller(tier="free", subject="key:1"))  # stale: dropped
        >>> cache.caller("hash") is None
        True
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        url = engine.url
        self._sqlite_path = (
            url.database
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
            else None
        )
        self._sqlite: sqlite3.Connection | None = None
        self._generation: int | None = None
        self._keys: LRUCache[str, Caller] = LRUCache(MAX_ENTRIES)
        self._manifests: LRUCache[str, Manifest] = LRUCache(MAX_ENTRIES)
        self._lifecycles: LRUCache[str, tuple[Lifecycle | None]] = LRUCache(MAX_ENTRIES)
        self._plans: LRUCache[PlanKey, ShardPlan] = LRUCache(MAX_ENTRIES)

    async def generation(self) -> int:
        """The database's change counter now."""
        if self._sqlite_path is not None:
            if self._sqlite is None:
                self._sqlite = sqlite3.connect(
                    f"file:{self._sqlite_path}?mode=ro",
                    uri=True,
                    check_same_thread=False,
                    isolation_level=None,  # autocommit: every read sees the newest commit
                )
            row = self._sqlite.execute(_READ).fetchone()
        else:
            async with self._engine.connect() as conn:
                return await read_generation(conn)
        return int(row[0]) if row else -1

    async def refresh(self) -> int:
        """Drop every entry if the database changed since they were read (once per request).

        Returns the generation to pass to ``remember_*`` for what this request reads next.
        """
        generation = await self.generation()
        self._valid(generation)
        return generation

    async def for_request(self, scope: Scope) -> int:
        """:meth:`refresh`, at most once per request (the value is kept in the request's state)."""
        state = scope.setdefault("state", {})
        generation = state.get("cache_generation")
        if not isinstance(generation, int):
            generation = await self.refresh()
            state["cache_generation"] = generation
        return generation

    def _valid(self, generation: int) -> bool:
        if generation == self._generation:
            return True
        self._keys = LRUCache(MAX_ENTRIES)
        self._manifests = LRUCache(MAX_ENTRIES)
        self._lifecycles = LRUCache(MAX_ENTRIES)
        self._plans = LRUCache(MAX_ENTRIES)
        self._generation = generation
        return False

    def caller(self, key_hash: str) -> Caller | None:
        """The cached caller of a key (by its sha256), if any."""
        return self._keys.get(key_hash)

    def remember_caller(self, generation: int, key_hash: str, caller: Caller) -> None:
        """Cache a key that authenticated (never a failed one: those are cheap to refuse).

        Only if nothing changed since ``generation`` was read: a request that read the key
        before a revocation must not store it after another request saw the revocation.
        """
        self._remember(self._keys, generation, key_hash, caller)

    def manifest(self, dataset_id: str) -> Manifest | None:
        """The cached current manifest of a dataset, if any."""
        return self._manifests.get(dataset_id)

    def remember_manifest(self, generation: int, dataset_id: str, manifest: Manifest) -> None:
        """Cache a dataset's current manifest read at ``generation`` (see remember_caller)."""
        self._remember(self._manifests, generation, dataset_id, manifest)

    def lifecycle(self, dataset_id: str) -> tuple[Lifecycle | None] | None:
        """The cached ``lifecycle.json`` of a dataset as a 1-tuple, if cached.

        ``(None,)``: the dataset has none; ``None``: not cached.
        """
        return self._lifecycles.get(dataset_id)

    def remember_lifecycle(self, generation: int, dataset_id: str, doc: Lifecycle | None) -> None:
        """Cache a dataset's lifecycle read at ``generation`` (see remember_caller).

        Migration 0014 makes every write to a lifecycle bump the generation.
        """
        self._remember(self._lifecycles, generation, dataset_id, (doc,))

    def plan(self, key: PlanKey) -> ShardPlan | None:
        """The shard plan kept for ``key`` (a pure function of that publish's manifest)."""
        return self._plans.get(key)

    def remember_plan(self, generation: int, key: PlanKey, plan: ShardPlan) -> None:
        """Keep a plan derived from a manifest read at ``generation`` (see remember_caller)."""
        self._remember(self._plans, generation, key, plan)

    def _remember(self, entries: LRUCache[K, V], generation: int, key: K, value: V) -> None:
        if generation == self._generation:
            entries[key] = value

    def close(self) -> None:
        """Close the SQLite reader."""
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
