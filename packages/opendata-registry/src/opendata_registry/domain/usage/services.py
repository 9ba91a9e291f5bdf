"""Usage per caller and UTC day: requests, downloads, bytes signed, failures.

Counts are added up in memory and written every few seconds (and at shutdown) with additive
updates, so several replicas add to the same rows and a request never waits for a write.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.api import UsageDay
from opendata_registry.db.models import UsageCounter

__all__ = ["UsageRecorder"]

_FIELDS = ("requests", "downloads", "bytes", "failures")


class UsageRecorder:
    """Buffers usage counts and flushes them to the database."""

    def __init__(self, sessions: Callable[[], AsyncSession]) -> None:
        self._sessions = sessions
        self._pending: defaultdict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def record(
        self,
        subject: str,
        *,
        requests: int = 0,
        downloads: int = 0,
        nbytes: int = 0,
        failures: int = 0,
    ) -> None:
        """Add to today's counts of ``subject``."""
        counts = self._pending[(subject, datetime.now(UTC).date())]
        counts[0] += requests
        counts[1] += downloads
        counts[2] += nbytes
        counts[3] += failures

    async def flush(self) -> None:
        """Write the buffered counts (additive, so concurrent replicas do not lose counts)."""
        pending, self._pending = self._pending, defaultdict(lambda: [0, 0, 0, 0])
        if not pending:
            return
        async with self._sessions() as session:
            for (subject, day), counts in pending.items():
                await self._add(session, subject, day, counts)

    async def _add(self, session: AsyncSession, subject: str, day: date, counts: list[int]) -> None:
        values = {
            name: getattr(UsageCounter, name) + n for name, n in zip(_FIELDS, counts, strict=True)
        }
        for _ in range(3):
            async with session.begin():
                result = await session.execute(
                    update(UsageCounter)
                    .where(UsageCounter.subject == subject, UsageCounter.day == day)
                    .values(**values)
                )
                if getattr(result, "rowcount", 0) == 1:
                    return
            try:
                async with session.begin():
                    session.add(
                        UsageCounter(
                            subject=subject, day=day, **dict(zip(_FIELDS, counts, strict=True))
                        )
                    )
                return
            except IntegrityError:
                continue  # another replica created the row first: add to it

    async def report(self, subject: str, *, days: int = 30) -> list[UsageDay]:
        """The last ``days`` days of ``subject``'s usage, newest first (buffer flushed first)."""
        await self.flush()
        since = datetime.now(UTC).date() - timedelta(days=days - 1)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(UsageCounter)
                    .where(UsageCounter.subject == subject, UsageCounter.day >= since)
                    .order_by(UsageCounter.day.desc())
                )
            ).scalars()
            return [
                UsageDay(
                    day=r.day,
                    requests=r.requests,
                    downloads=r.downloads,
                    bytes=r.bytes,
                    failures=r.failures,
                )
                for r in rows
            ]
