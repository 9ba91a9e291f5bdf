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

Example:
    >>> cache = HotCache.__new__(HotCache)
    >>> cache._generation, cache._keys, cache._manifests, cache._plans = 0, {}, {}, {}
    >>> cache._valid(0), cache._valid(1), cache._keys
    (True, False, {})
    >>> cache.remember_caller(0, "hash", Caller(tier="free", subject="key:1"))  # stale: dropped
    >>> cache.caller("hash") is None
    True
"""

from __future__ import annotations

import sqlite3
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from opendata_core.documents import Manifest
from opendata_registry.domain.keys.services import Caller

if TYPE_CHECKING:
    from litestar.types import Scope

__all__ = ["HotCache", "read_generation"]

_MAX_ENTRIES: Final = 10_000
"""Per map; past it the map starts over (a bound on memory, not an eviction policy)."""
_READ: Final = "SELECT value FROM registry_generation WHERE id = 1"


async def read_generation(connection: AsyncConnection | AsyncSession) -> int:
    """The database's change counter, read on ``connection`` (-1 if it has no row)."""
    row = (await connection.execute(text(_READ))).first()
    return int(row[0]) if row else -1


class HotCache:
    """API keys by hash and current manifests by dataset id, for one process."""

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
        self._keys: dict[str, Caller] = {}
        self._manifests: dict[str, Manifest] = {}
        self._plans: dict[Hashable, Any] = {}

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
        self._keys.clear()
        self._manifests.clear()
        self._plans.clear()
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

    def plan(self, key: Hashable) -> Any:
        """What :meth:`remember_plan` kept for ``key`` (a pure function of a cached manifest)."""
        return self._plans.get(key)

    def remember_plan(self, generation: int, key: Hashable, plan: Any) -> None:
        """Keep something derived from a manifest read at ``generation`` (see remember_caller)."""
        self._remember(self._plans, generation, key, plan)

    def _remember(self, entries: dict[Any, Any], generation: int, key: Any, value: Any) -> None:
        if generation != self._generation:
            return
        if len(entries) >= _MAX_ENTRIES:
            entries.clear()
        entries[key] = value

    def close(self) -> None:
        """Close the SQLite reader."""
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
