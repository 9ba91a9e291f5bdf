"""``/healthz`` (the process answers) and ``/readyz`` (every dependency of requests answers).

``/readyz`` is for a load balancer that polls every few seconds: one ``SELECT 1``, one Redis
``PING`` (when configured) and one store ``HEAD``, concurrently, each bounded by
``OPENDATA_REGISTRY_READY_TIMEOUT``; no rate limit and no usage count (it is outside ``/v1``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, TypeAlias

from litestar import Controller, get
from litestar.di import NamedDependency

from opendata_core.errors import ServiceUnavailable
from opendata_registry.infra.errors import error_responses

__all__ = ["HealthController", "Readiness"]

Readiness: TypeAlias = Callable[[], Awaitable[tuple[bool, dict[str, str]]]]
"""Whether every dependency of requests answers, and each one's state (the app's readiness)."""

_READY_RETRY_AFTER: Final = 2


class HealthController(Controller):
    """Liveness and readiness for load balancers and container health checks."""

    path = "/"
    tags = ["operations"]  # noqa: RUF012 - Litestar's declared type

    @get("/healthz", summary="Liveness")
    async def healthz(self) -> dict[str, str]:
        """Always ok while the process serves."""
        return {"status": "ok"}

    @get("/readyz", summary="Readiness", responses=error_responses(503))
    async def readyz(self, readiness: NamedDependency[Readiness]) -> dict[str, str]:
        """200 when every dependency answers; 503 naming the one that does not."""
        ready, checks = await readiness()
        if not ready:
            failed = [name for name, state in checks.items() if state not in ("ok", "degraded")]
            states = ", ".join(f"{name} {state}" for name, state in checks.items())
            raise ServiceUnavailable(
                ", ".join(failed),
                f"not ready: {' and '.join(failed)} {'does' if len(failed) == 1 else 'do'} not "
                f"answer ({states})",
                retry_after=_READY_RETRY_AFTER,
            )
        return {"status": "ready", **checks}
