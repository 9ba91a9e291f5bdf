"""``/v1/usage``: the caller's own usage by day, and its tier's limits."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from opendata_core.api import UsageReport
from opendata_registry.domain.usage.services import UsageRecorder
from opendata_registry.infra.errors import error_responses
from opendata_registry.infra.identity import Caller
from opendata_registry.infra.settings import Settings

__all__ = ["UsageController"]


class UsageController(Controller):
    """What the caller used."""

    path = "/v1/usage"
    tags = ["account"]  # noqa: RUF012 - Litestar's declared type

    @get("/", summary="Your usage", responses=error_responses(401, 429, 503))
    async def usage(
        self,
        settings: NamedDependency[Settings],
        usage: NamedDependency[UsageRecorder],
        caller: NamedDependency[Caller],
        days: Annotated[int, QueryParameter(ge=1, le=366)] = 30,
    ) -> UsageReport:
        """Requests, downloads, bytes and failures per UTC day, newest first."""
        return UsageReport(
            key_prefix=caller.key_prefix,
            tier=caller.tier,
            limits=settings.tier(caller.tier),
            days=await usage.report(caller.subject, days=days),
        )
