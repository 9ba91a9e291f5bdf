"""``od.search`` through a registry pages with the largest page the caller's tier allows.

A real registry app (in process, on SQLite and PostgreSQL) with 1,200 matching datasets; the
client counts its requests: ⌈1,200 / tier page⌉ for everything, one for a limit within a page.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest
from litestar.testing import transport as litestar_transport

import opendata as od
from opendata._registry import RegistryTransport
from opendata_registry.db.engine import create_engine
from opendata_registry.infra.settings import DEFAULT_TIERS, Settings

from .conftest import fill_catalogue, with_tier

N = 1200


class Counting(httpx.BaseTransport):
    """The registry app's own transport, counting the requests that reach it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


async def _fill(settings: Settings) -> None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        texts = [
            (f"org{i % 9}/rates-{i}", "Interest rates", "Rates.", ["finance"]) for i in range(N)
        ]
        await fill_catalogue(engine, settings.database_schema, texts)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("tier", ["anonymous", "free"])
def test_a_search_of_1200_matches_takes_ceil_n_over_the_tier_page_requests(
    settings: Settings, make_client: Any, tier: str
) -> None:
    settings = with_tier(settings, "anonymous", max_page_size=DEFAULT_TIERS[tier].max_page_size)
    app = make_client(settings)  # started (and synced, on an empty store) before the rows exist
    asyncio.run(_fill(settings))
    counting = Counting(litestar_transport.TestClientTransport(app))
    client = od.Client(RegistryTransport("http://localhost", transport=counting))

    found = client.search("rates")
    page = DEFAULT_TIERS[tier].max_page_size
    assert len({e.id for e in found}) == N
    assert len(counting.requests) == math.ceil(N / page)
    assert {r.url.params["per_page"] for r in counting.requests} == {"100000"}  # capped by tier

    counting.requests.clear()
    assert len(client.search("rates", limit=30)) == 30
    assert len(counting.requests) == 1  # never more than the caller asked for
