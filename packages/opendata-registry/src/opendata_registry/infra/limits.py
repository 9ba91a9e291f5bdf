"""Rate limits and download budgets with the ``limits`` library (memory, or Redis for replicas).

Two budgets per caller (an API key, or the IP address of an anonymous caller): requests per
minute and download bytes per day (the sum of the shard sizes signed for download). Each is a
fixed window (one counter per caller and budget that expires at the window's end, as GitHub's
API and Litestar's own rate-limit middleware count): ``RateLimit-Reset`` is exactly when the
budget refills, and every replica that shares the Redis URL and key prefix enforces one budget.
A caller can spend a budget at the end of one window and again at the start of the next.

Not the sliding window counter: under load (granian, 2 workers, the ``download`` benchmark) it
cost a fifth of the registry's throughput, 1.8-1.9k against 2.2-2.3k req/s for a fixed window,
and tripled the p99 at saturation (117-127 ms against 44-48 ms).

A fixed window of ``limits`` is one ``incr`` of its storage (:class:`FixedWindowRateLimiter`'s
``hit``); the window's stats would cost two more storage calls (a Redis round trip each), read
for the ``RateLimit-*`` headers of every answer. So the remaining budget comes from the count
the ``incr`` returns, and the window's end is remembered: the hit that opens a window (its
count equals its cost) sets it, and the storage is asked only for a window another replica
opened. A download's four storage calls (Redis round trips) became two; in-process, a
download went from 122-127 to 114-119 µs.

**While Redis is down.** Redis calls have short connect and socket timeouts
(``OPENDATA_REGISTRY_REDIS_TIMEOUT``), so a dead Redis fails a request in about that long, never
hangs it. The first failure opens an outage, logged once; during it Redis is asked again at most
once per :data:`PROBE_SECONDS` (by the next request that needs a limit), and every other request
meanwhile skips it. Fail closed (the default): a request that needs a limit answers 503
``unavailable`` with ``Retry-After``. Fail open (``OPENDATA_REGISTRY_LIMITS_FAIL_OPEN=1``): it is
counted in this process's memory instead, so each replica enforces its own budget. The first
Redis call that succeeds ends the outage (logged once) and the shared budgets are used again.

**Failed authentication.** Each failure is counted per client address and per key prefix (a
fixed window of a minute, the same storage); past the threshold the caller gets 429. The subjects
over their threshold are remembered in this process until their window ends
(:meth:`Limiter.blocked`), so that refusing them costs no storage call, and a request that
passes costs none either; another replica learns of the block at its first failure from that
subject.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, TypeVar

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError

from opendata_core.api import TierLimits
from opendata_core.errors import ServiceUnavailable

__all__ = ["PROBE_SECONDS", "LimitState", "Limiter"]

log = logging.getLogger("opendata_registry")

T = TypeVar("T")

PROBE_SECONDS: Final = 1.0
"""While Redis is down, how often a request asks it again (the rest skip it)."""

_MAX_WINDOWS = 10_000
"""Windows whose end is remembered; past it the map starts over (a bound on memory)."""


@dataclass(frozen=True)
class LimitState:
    """The outcome of counting one request against a budget."""

    allowed: bool
    limit: int
    remaining: int
    """What is left of the budget (negative once a refused hit, which counts too, overspent it;
    -1 for a download of nothing, which is not counted)."""
    reset_after: float
    """Seconds until the budget has room again."""

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` headers (IETF draft) and, when refused, ``Retry-After``."""
        reset = str(max(1, math.ceil(self.reset_after)))
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": reset,
            "RateLimit-Policy": f"{self.limit};w=60",
        }
        if not self.allowed:
            out["Retry-After"] = reset
        return out


@lru_cache(maxsize=64)
def _per_minute(amount: int) -> RateLimitItem:
    return RateLimitItemPerMinute(amount)


@lru_cache(maxsize=64)
def _per_day(amount: int) -> RateLimitItem:
    return RateLimitItemPerDay(amount)


@lru_cache(maxsize=_MAX_WINDOWS)
def _window_key(item: RateLimitItem, kind: str, subject: str) -> str:
    """``limits``' storage key of a caller's window (its ``key_for``, built once per caller)."""
    return item.key_for(kind, subject)


class Limiter:
    """Counts requests, download bytes and failed authentications per caller.

    Args:
        redis_url: Redis shared by every replica; ``None`` counts in this process's memory.
        prefix: Key prefix in Redis.
        fail_open: While Redis is down, count in memory (``True``) or refuse with 503 (``False``).
        timeout: Seconds a Redis connect or command may take before it counts as down.
        clock: The monotonic clock that times outages (injected by tests).
        wall_clock: The clock windows and blocks end on (seconds since the epoch; injected by
            tests to advance time instead of sleeping).
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        prefix: str = "opendata",
        fail_open: bool = False,
        timeout: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool: Any = None
        self._memory = MemoryStorage()
        self._redis: Storage | None = None
        if redis_url:
            from redis.asyncio import ConnectionPool
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            plain = redis_url.removeprefix("async+")
            # Our own pool, so that shutting down closes its connections. Bounded timeouts, and
            # one immediate retry: a connection left over from before a Redis restart fails once
            # and is replaced, while a dead Redis costs at most two timeouts.
            self._pool = ConnectionPool.from_url(
                plain,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 1),
            )
            self._redis = RedisStorage(
                f"async+{plain}",
                implementation="redispy",
                key_prefix=f"{prefix}:limits",
                connection_pool=self._pool,
                wrap_exceptions=True,  # every Redis failure is a limits StorageError
            )
        self.fail_open = fail_open
        self._timeout = timeout
        self._clock = clock
        self._wall = wall_clock
        self._down_since: float | None = None
        """When the current Redis outage began (``clock()``), or ``None``."""
        self._retry_at = 0.0
        """During an outage, when a request may ask Redis again."""
        self._ends: dict[str, float] = {}
        """Window key → when that window ends (``wall_clock()``)."""
        self._blocked: dict[str, float] = {}
        """Subject → when its failed-authentication block ends (``wall_clock()``)."""

    @property
    def storage(self) -> Storage:
        """The shared storage: Redis when configured, else this process's memory."""
        return self._redis if self._redis is not None else self._memory

    @property
    def redis_down(self) -> bool:
        """Whether a Redis outage is in progress (the last Redis call failed)."""
        return self._down_since is not None

    async def _use(self, op: Callable[[Storage], Awaitable[T]]) -> T:
        """Run ``op`` on Redis, or, while it is down, on memory (fail open) or refuse (503)."""
        redis = self._redis
        if redis is None:
            return await op(self._memory)
        now = self._clock()
        if self._down_since is None or now >= self._retry_at:
            if self._down_since is not None:  # this request probes; the others skip Redis
                self._retry_at = now + PROBE_SECONDS
            try:
                result = await op(redis)
            except (StorageError, OSError, TimeoutError) as exc:
                self._outage(exc, now)
            else:
                if self._down_since is not None:
                    self._recovered(now)
                return result
        if self.fail_open:
            return await op(self._memory)
        raise ServiceUnavailable(
            "redis",
            "the registry's rate limiter is unavailable; try again shortly",
            retry_after=max(1, math.ceil(self._retry_at - now)),
        )

    def _outage(self, exc: BaseException, now: float) -> None:
        self._retry_at = now + PROBE_SECONDS
        if self._down_since is not None:
            return
        self._down_since = now
        self._ends.clear()  # windows of another storage from now on
        cause = exc.storage_error if isinstance(exc, StorageError) else exc
        if self.fail_open:
            then = "failing open: each process counts limits in its own memory until it answers"
        else:
            then = "failing closed: requests that need a limit answer 503 until it answers"
        log.error(
            "rate limits: Redis does not answer (%s: %s); %s", type(cause).__name__, cause, then
        )

    def _recovered(self, now: float) -> None:
        since = self._down_since if self._down_since is not None else now
        self._down_since = None
        self._ends.clear()
        log.warning(
            "rate limits: Redis answers again after %.1f s; shared limits apply", now - since
        )

    async def _count(
        self, storage: Storage, item: RateLimitItem, kind: str, subject: str, cost: int
    ) -> LimitState:
        """Count ``cost`` against ``item`` in a fixed window (``limits``' storage ``incr``)."""
        key = _window_key(item, kind, subject)
        expiry = item.get_expiry()
        count = await storage.incr(key, expiry, amount=cost)
        now = self._wall()
        if count == cost:  # this hit opened the window (the storage set its expiry now)
            end = now + expiry
        else:
            end = self._ends.get(key, 0.0)
            if end <= now:  # opened by another replica, or by this one before a restart
                # The storage's expiry is on the system clock: keep the seconds it has left.
                end = now + (await storage.get_expiry(key) - time.time())
        if self._ends.get(key) != end:
            if len(self._ends) >= _MAX_WINDOWS:
                self._ends.clear()
            self._ends[key] = end
        return LimitState(count <= item.amount, item.amount, item.amount - count, end - now)

    async def _hit(self, item: RateLimitItem, kind: str, subject: str, cost: int) -> LimitState:
        return await self._use(lambda storage: self._count(storage, item, kind, subject, cost))

    async def hit_request(self, subject: str, tier: TierLimits) -> LimitState:
        """Count one request of ``subject`` against its tier's per-minute budget."""
        return await self._hit(_per_minute(tier.requests_per_minute), "requests", subject, 1)

    async def hit_bytes(self, subject: str, tier: TierLimits, nbytes: int) -> LimitState:
        """Count ``nbytes`` of downloads against the tier's daily byte budget."""
        if nbytes == 0:
            return LimitState(True, tier.download_bytes_per_day, -1, 0.0)
        return await self._hit(_per_day(tier.download_bytes_per_day), "bytes", subject, nbytes)

    async def hit_auth_failure(self, subject: str, per_minute: int) -> LimitState:
        """Count one failed authentication of ``subject`` (``ip:…`` or ``prefix:…``).

        Past ``per_minute`` failures the subject is :meth:`blocked` until the window ends.
        """
        state = await self._hit(_per_minute(per_minute), "auth-failures", subject, 1)
        if not state.allowed:
            if len(self._blocked) >= _MAX_WINDOWS:
                self._blocked.clear()
            self._blocked[subject] = self._wall() + state.reset_after
        return state

    def blocked(self, subject: str) -> float | None:
        """Seconds until ``subject``'s failed-authentication block ends, or ``None``."""
        end = self._blocked.get(subject)
        if end is None:
            return None
        left = end - self._wall()
        if left <= 0:
            del self._blocked[subject]
            return None
        return left

    async def close(self) -> None:
        """Close the Redis connections (nothing to do in memory)."""
        if self._pool is not None:
            await self._pool.disconnect()

    async def ping(self) -> bool:
        """Whether the shared storage answers within the timeout (``limits``' ``check``).

        An answer also ends an outage at once, so a replica that the load balancer polls
        returns to the shared budgets without waiting for a request.
        """
        try:
            ok = bool(await asyncio.wait_for(self.storage.check(), self._timeout * 2))
        except TimeoutError:
            ok = False
        if ok and self._down_since is not None:
            self._recovered(self._clock())
        return ok
