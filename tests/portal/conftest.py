"""Portal unit-test fixtures: the app over a registry that answers from core Structs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from opendata_portal.app import create_app
from opendata_portal.settings import Settings
from tests.portal import samples

Portal = Callable[..., TestClient[Any]]


@pytest.fixture
def portal() -> Iterator[Portal]:
    """Build a portal test client over given registry routes (default: one dataset)."""
    clients: list[TestClient[Any]] = []

    def make(
        routes: dict[str, Any] | None = None, seen: list[httpx.Request] | None = None
    ) -> TestClient[Any]:
        settings = Settings(
            registry_url="http://registry.test", public_registry_url="http://registry.test"
        )
        app = create_app(
            settings,
            transport=samples.transport(
                samples.default_routes() if routes is None else routes, seen=seen
            ),
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
