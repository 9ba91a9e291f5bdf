"""``POST /gateway/usage``: the edge gateway's usage batches, signed with the shared secret."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException

from opendata_registry.domain.gateway.services import (
    USAGE_ROUTE,
    decode_batch,
    fold_events,
    verify_batch,
)
from opendata_registry.domain.usage.services import UsageRecorder
from opendata_registry.infra.errors import error_responses
from opendata_registry.infra.settings import Settings

__all__ = ["GatewayController"]


class GatewayController(Controller):
    """What the edge reports back."""

    path = USAGE_ROUTE
    tags = ["gateway"]  # noqa: RUF012 - Litestar's declared type

    @post(
        "/",
        summary="Usage events from the edge gateway",
        status_code=200,
        responses=error_responses(400, 401, 404),
        request_max_body_size=4 * 1024 * 1024,
    )
    async def usage(
        self,
        settings: NamedDependency[Settings],
        usage: NamedDependency[UsageRecorder],
        request: Request[Any, Any, Any],
    ) -> dict[str, int]:
        """Fold a batch of edge events into the usage counters (HMAC-signed by the Worker)."""
        gateway = settings.gateway
        if gateway is None:
            raise NotFoundException(
                "this registry has no gateway (OPENDATA_REGISTRY_GATEWAY_URL is unset)"
            )
        body = await request.body()
        verify_batch(
            gateway, USAGE_ROUTE, request.headers.get("authorization"), body, now=time.time()
        )
        batch = decode_batch(body)
        return {"events": fold_events(usage, batch.events)}
