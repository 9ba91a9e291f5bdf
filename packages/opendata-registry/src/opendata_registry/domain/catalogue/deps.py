"""Dependencies the controllers receive: services with their own session, and the caller."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency

from opendata_registry.context import Registry
from opendata_registry.domain.catalogue.services import CatalogueService
from opendata_registry.domain.keys.middleware import caller_of
from opendata_registry.domain.keys.services import Caller

if TYPE_CHECKING:
    from litestar.types import Scope

__all__ = ["base_url", "provide_caller", "provide_catalogue", "provide_registry"]


def provide_registry(state: State) -> Registry:
    """The app's :class:`Registry`."""
    registry: Registry = state.registry
    return registry


async def provide_catalogue(
    registry: NamedDependency[Registry],
) -> AsyncGenerator[CatalogueService, None]:
    """A catalogue service with a session that closes after the request."""
    async with registry.sessions() as session:
        yield CatalogueService(session, registry.settings)


def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    """Who is calling (identified by the access middleware)."""
    return caller_of(request.scope)


def base_url(scope: Scope) -> str:
    """The URL this registry is reached at for a request (scheme, host, root path; no slash)."""
    return str(ASGIConnection(scope).base_url).rstrip("/")
