"""Portal unit-test fixtures: the app over a registry that answers from core Structs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from opendata_portal.app import create_app
from opendata_portal.settings import Settings
from tests.portal import live, samples
from tests.portal.browser import CHROMIUM

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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.Stack]:
    """A live registry and portal over datasets the real client published (one per session)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    live.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with live.live_stack(tmp_path_factory.mktemp("live"), live.ARTIFACTS) as s:
        yield s
