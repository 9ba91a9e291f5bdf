"""Everything a running registry holds: settings, database, store, limiter, usage, signer.

One :class:`Registry` per app (``app.state.registry``); the CLI builds one too for ``sync`` and
``keys``. Start-up migrates the database, syncs the catalogue once and starts the periodic sync
and the usage flusher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.errors import OpenDataError
from opendata_registry.db.engine import create_engine, migrate, session_factory
from opendata_registry.publishing import Publishing
from opendata_registry.services.hotcache import HotCache
from opendata_registry.services.limits import Limiter
from opendata_registry.services.sync import (
    SyncReport,
    acquire_lease,
    new_holder,
    release_lease,
    sync_catalogue,
)
from opendata_registry.services.usage import UsageRecorder
from opendata_registry.settings import Settings
from opendata_registry.signing import UrlSigner
from opendata_registry.store import RegistryStore, open_store

__all__ = ["Registry"]

log = logging.getLogger("opendata_registry")

_USAGE_FLUSH_SECONDS = 5.0


class Registry:
    """The registry's long-lived parts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings.database_url, schema=settings.database_schema)
        self.sessions = session_factory(self.engine)
        self.hot = HotCache(self.engine)
        self.store: RegistryStore = open_store(settings)
        self.limiter = Limiter(
            settings.redis_url,
            prefix=settings.redis_prefix,
            fail_open=settings.limits_fail_open,
            timeout=settings.redis_timeout,
        )
        self.usage = UsageRecorder(self.sessions)
        self.signer = UrlSigner(settings.secret)
        self.publishing = Publishing(settings, self.sessions)
        self._holder = new_holder()
        self._tasks: list[asyncio.Task[None]] = []
        self._readiness: dict[str, str] = {}
        """The last readiness of each dependency (to log changes, not every poll)."""

    def __repr__(self) -> str:
        return f"Registry(store={self.store.url!r})"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A database session for one unit of work."""
        async with self.sessions() as session:
            yield session

    async def migrate(self) -> None:
        """Bring the database to the current schema."""
        await migrate(self.engine, schema=self.settings.database_schema)

    async def sync(self, *, wait: bool = False) -> SyncReport | None:
        """Sync the catalogue unless another process holds the sync lease (then ``None``).

        ``wait=True`` waits for the other process's sync to finish and then syncs.
        """
        while True:
            async with self.sessions() as session:
                got = await acquire_lease(session, "sync", self._holder)
            if got or not wait:
                break
            await asyncio.sleep(0.5)
        if not got:
            return None
        try:
            return await sync_catalogue(self.sessions, self.store)
        finally:
            async with self.sessions() as session:
                await release_lease(session, "sync", self._holder)

    async def start(self) -> None:
        """Migrate, sync once, and start the background tasks."""
        await self.migrate()
        try:
            # Not waiting: when another worker or replica holds the lease, it is syncing.
            await self.sync()
        except OpenDataError as exc:
            log.warning("initial catalogue sync failed: %s", exc)
        if self.settings.sync_interval > 0:
            self._tasks.append(asyncio.create_task(self._sync_loop()))
        self._tasks.append(asyncio.create_task(self._flush_loop()))

    async def stop(self) -> None:
        """Stop the background tasks, write pending usage, close the database."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        try:
            await self.usage.flush()
        finally:
            await self.limiter.close()
            await self.publishing.close()
            self.hot.close()
            await self.engine.dispose()

    async def _sync_loop(self) -> None:
        interval = self.settings.sync_interval
        while True:
            # Jitter, so workers and replicas started together do not all ask at once.
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))  # noqa: S311
            try:
                await self.sync()
            except Exception:
                log.exception("periodic catalogue sync failed")

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(_USAGE_FLUSH_SECONDS)
            try:
                await self.usage.flush()
            except Exception:
                log.exception("writing usage counts failed")

    async def check_ready(self) -> tuple[bool, dict[str, str]]:
        """Whether every dependency the request path needs answers, and each one's state.

        The database (``SELECT 1``), Redis when configured (``PING``) and the store (one
        ``HEAD``) are asked at once, each for at most ``ready_timeout`` seconds. A state is
        ``ok``, ``down`` or ``timeout``; Redis down while limits fail open is ``degraded`` and
        does not make the registry unready (it serves with per-process limits). What went wrong
        goes to the log when a state changes, never into the answer.
        """
        checks: dict[str, Callable[[], Awaitable[Any]]] = {"database": self._ping_database}
        if self.settings.redis_url:
            checks["redis"] = self._ping_redis
        checks["store"] = self.store.ping
        states = await asyncio.gather(*(self._probe(name, fn) for name, fn in checks.items()))
        result = dict(zip(checks, states, strict=True))
        ready = all(state == "ok" for state in result.values())
        if result.get("redis") not in (None, "ok") and self.settings.limits_fail_open:
            others = [state for name, state in result.items() if name != "redis"]
            ready = all(state == "ok" for state in others)
            result["redis"] = "degraded"
        return ready, result

    async def _ping_database(self) -> None:
        async with self.sessions() as session:
            await session.execute(text("SELECT 1"))

    async def _ping_redis(self) -> None:
        if not await self.limiter.ping():
            raise ConnectionError("Redis did not answer PING")

    async def _probe(self, name: str, check: Callable[[], Awaitable[Any]]) -> str:
        detail = ""
        try:
            await asyncio.wait_for(check(), self.settings.ready_timeout)
        except TimeoutError:
            state = "timeout"
            detail = f"no answer in {self.settings.ready_timeout:g} s"
        except Exception as exc:  # whatever the driver raises, the dependency is not usable
            state = "down"
            detail = f"{type(exc).__name__}: {exc}"
        else:
            state = "ok"
        if self._readiness.get(name, "ok") != state:
            if state == "ok":
                log.warning("readiness: %s answers again", name)
            else:
                log.error("readiness: %s is %s (%s)", name, state, detail)
        self._readiness[name] = state
        return state
