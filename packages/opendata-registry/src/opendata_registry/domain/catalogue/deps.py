"""Dependencies the catalogue's controllers receive: a catalogue service with its own session."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.di import NamedDependency

from opendata_registry.db.engine import SessionMaker
from opendata_registry.domain.catalogue.services import CatalogueService
from opendata_registry.infra.settings import Settings

__all__ = ["provide_catalogue"]


async def provide_catalogue(
    sessions: NamedDependency[SessionMaker], settings: NamedDependency[Settings]
) -> AsyncGenerator[CatalogueService, None]:
    """A catalogue service with a session that closes after the request."""
    async with sessions() as session:
        yield CatalogueService(session, settings)
