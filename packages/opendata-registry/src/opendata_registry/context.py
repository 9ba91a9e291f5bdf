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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.errors import OpenDataError
from opendata_registry.db.engine import create_engine, migrate, session_factory
from opendata_registry.db.leases import acquire_lease, new_holder, release_lease
from opendata_registry.domain.catalogue.snapshot import SnapshotInfo, read_info, write_snapshot
from opendata_registry.domain.catalogue.sync import (
    Progress,
    SyncReport,
    in_step_etag,
    sync_catalogue,
)
from opendata_registry.domain.catalogue.versions import EntryCache, VersionService
from opendata_registry.domain.downloads.services import DownloadService
from opendata_registry.domain.publishing.auth import Publishing
from opendata_registry.domain.usage.services import UsageRecorder
from opendata_registry.infra.hotcache import HotCache
from opendata_registry.infra.limits import Limiter
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.signing import UrlSigner
from opendata_registry.infra.store import RegistryStore, open_store

__all__ = ["Registry"]

log = logging.getLogger("opendata_registry")

_USAGE_FLUSH_SECONDS = 5.0
_STOP_SECONDS = 10.0
"""How long :meth:`Registry.stop` lets a background sync or usage write finish."""
_FULL_SYNC_SECONDS: Final = 3600.0
"""How often the periodic sync lists the whole bucket even when ``index.json`` did not change."""
_SYNC_LEASE: Final = timedelta(seconds=30)
"""How long a sync holds its lease without renewing it (it renews every 10 s)."""


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
        self.entries = EntryCache()
        """History entries read from the store (immutable, so kept for the process's life)."""
        self.versions = VersionService(self)
        self.downloads = DownloadService(self)
        self._holder = new_holder()
        self._listed_at = time.monotonic()
        """When this process's last sync listed the bucket."""
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
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

    async def sync(
        self,
        *,
        wait: bool = False,
        changed: bool = False,
        progress: Progress | None = None,
        batch_size: int = 500,
        snapshot: bool = True,
    ) -> SyncReport | None:
        """Sync the catalogue unless another process holds the sync lease (then ``None``).

        ``wait=True`` waits for the other process's sync to finish and then syncs.
        ``changed=True`` lists the bucket only when ``index.json`` changed since the last sync
        (:func:`~opendata_registry.domain.catalogue.sync.sync_catalogue`); ``snapshot=False``
        never fills an empty catalogue from the bucket's snapshot. The lease is
        renewed while the sync runs, so a sync killed midway holds it for at most
        :data:`_SYNC_LEASE` (then the next sync goes on from its last committed batch).
        """
        async with self._leased("sync", wait=wait) as got:
            if not got:
                return None
            return await sync_catalogue(
                self.sessions,
                self.store,
                changed=changed,
                progress=progress,
                batch_size=batch_size,
                snapshot=snapshot,
            )

    async def snapshot(self, *, force: bool = False) -> SnapshotInfo | None:
        """Write a catalogue snapshot to the bucket (``None``: not needed, or another process is).

        Not needed when the current snapshot was taken at the ``index.json`` the catalogue is
        in step with (nothing was published since), unless ``force``. One process at a time
        (the ``snapshot`` lease, renewed while it writes).
        """
        async with self._leased("snapshot") as got:
            if not got:
                return None
            if not force:
                current = await read_info(self.store)
                async with self.sessions() as session:
                    in_step = await in_step_etag(session)
                if current is not None and in_step and current.index_etag == in_step:
                    return None
            return await write_snapshot(self.sessions, self.store)

    @contextlib.asynccontextmanager
    async def _leased(self, name: str, *, wait: bool = False) -> AsyncIterator[bool]:
        """Hold the lease ``name`` (renewed) for the block; yields whether it was got.

        ``wait=True`` waits while another process holds it.
        """
        while True:
            async with self.sessions() as session:
                got = await acquire_lease(session, name, self._holder, _SYNC_LEASE)
            if got or not wait:
                break
            await asyncio.sleep(0.5)
        if not got:
            yield False
            return
        holding = asyncio.create_task(self._renew(name))
        try:
            yield True
        finally:
            holding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await holding
            async with self.sessions() as session:
                await release_lease(session, name, self._holder)

    async def _periodic_sync(self) -> None:
        """A ``changed`` sync (one HEAD request when nothing was published).

        Once every :data:`_FULL_SYNC_SECONDS` the bucket is listed anyway: that also finds what
        rewrites no ``index.json`` (a failed run's record, a producer that stopped before its
        index update).
        """
        full = time.monotonic() - self._listed_at >= _FULL_SYNC_SECONDS
        report = await self.sync(changed=not full)
        if report is not None and report.listed:
            self._listed_at = time.monotonic()

    async def _renew(self, name: str) -> None:
        """Renew the lease ``name`` every third of its life until cancelled."""
        while True:
            await asyncio.sleep(_SYNC_LEASE.total_seconds() / 3)
            try:
                async with self.sessions() as session:
                    await acquire_lease(session, name, self._holder, _SYNC_LEASE)
            except Exception:  # a missed renewal: another sync may start; syncs are idempotent
                log.warning("renewing the %s lease failed", name, exc_info=True)

    async def start(self) -> None:
        """Migrate, sync once, and start the background tasks."""
        await self.migrate()
        try:
            # Not waiting: when another worker or replica holds the lease, it is syncing.
            await self.sync()
        except OpenDataError as exc:
            log.warning("initial catalogue sync failed: %s", exc)
        self._stopping = asyncio.Event()  # bound to the loop that serves (tests start several)
        if self.settings.sync_interval > 0:
            interval = self.settings.sync_interval
            # Jitter, so workers and replicas started together do not all ask at once.
            sync_every = lambda: interval * random.uniform(0.9, 1.1)  # noqa: E731, S311
            self._every(sync_every, self._periodic_sync, "periodic catalogue sync failed")
        if self.settings.snapshot_interval > 0:
            every = self.settings.snapshot_interval
            snap_every = lambda: every * random.uniform(0.9, 1.1)  # noqa: E731, S311
            self._every(snap_every, self.snapshot, "writing the catalogue snapshot failed")
        self._every(lambda: _USAGE_FLUSH_SECONDS, self.usage.flush, "writing usage counts failed")

    async def stop(self) -> None:
        """Stop the background tasks, write pending usage, close the database."""
        # A loop asked to stop finishes the work it is doing (a sync or a usage write cancelled
        # inside a database call leaves a connection half reset); cancel only what hangs.
        self._stopping.set()
        if self._tasks:
            _, hanging = await asyncio.wait(self._tasks, timeout=_STOP_SECONDS)
            for task in hanging:
                task.cancel()
            for task in hanging:
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

    def _every(
        self, seconds: Callable[[], float], work: Callable[[], Awaitable[object]], failed: str
    ) -> None:
        """Run ``work`` every ``seconds()`` in the background until :meth:`stop`."""

        async def loop() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), seconds())
                if self._stopping.is_set():
                    return
                try:
                    await work()
                except Exception:
                    log.exception(failed)

        self._tasks.append(asyncio.create_task(loop()))

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
