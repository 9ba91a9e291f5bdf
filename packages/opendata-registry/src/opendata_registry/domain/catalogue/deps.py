"""Dependencies the catalogue's controllers receive: a catalogue service with its own session."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from litestar.di import NamedDependency

from opendata_registry.context import Registry
from opendata_registry.domain.catalogue.services import CatalogueService

__all__ = ["provide_catalogue", "provide_registry"]


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
