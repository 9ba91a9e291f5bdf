"""``/healthz`` (the process answers) and ``/readyz`` (the database and the store answer)."""

from __future__ import annotations

import logging

from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy.exc import SQLAlchemyError

from opendata_core.errors import StoreUnavailable
from opendata_registry.context import Registry
from opendata_registry.errors import error_responses

__all__ = ["HealthController"]

log = logging.getLogger("opendata_registry")


class HealthController(Controller):
    """Liveness and readiness for load balancers and container health checks."""

    path = "/"
    tags = ["operations"]  # noqa: RUF012 - Litestar's declared type

    @get("/healthz", summary="Liveness")
    async def healthz(self) -> dict[str, str]:
        """Always ok while the process serves."""
        return {"status": "ok"}

    @get("/readyz", summary="Readiness", responses=error_responses(503))
    async def readyz(self, registry: NamedDependency[Registry]) -> dict[str, str]:
        """Ok when the database and the store answer; 503 otherwise."""
        try:
            checks = await registry.check_ready()
        except SQLAlchemyError as exc:
            log.warning("readiness: database unavailable: %s", type(exc).__name__)
            raise StoreUnavailable("database", "the registry database does not answer") from None
        return {"status": "ready", **checks}
