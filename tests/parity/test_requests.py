"""What a read through the registry costs, in requests (issue 23: one round trip, not more).

Counted at the client's own HTTP transport (real HTTP to the registry processes of the parity
world): a load is one ``download`` call, whose answer carries the dataset's lifecycle too (spec
§10.4: moved, deprecated or withdrawn?), then the shards; a cached re-load of an unchanged dataset
is that one registry call and nothing from the bucket, pinned or not.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest

import opendata as od
from opendata._registry import RegistryTransport
from tests.parity.conftest import PRICES, World


class Counting(httpx.HTTPTransport):
    """Real HTTP, with every request kept: ``/v1/`` is the registry, anything else the bucket
    (moto, or the registry's own ``/files/`` links over a folder)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)

    def split(self) -> tuple[int, int]:
        calls = [r for r in self.requests if r.url.path.startswith("/v1/")]
        registry = len(calls)
        counts = registry, len(self.requests) - registry
        self.requests.clear()
        return counts


@pytest.mark.parametrize("which", ["registry-local", "registry-s3"])
def test_a_cached_reload_is_one_request_to_the_registry_and_none_to_the_bucket(
    world: World, which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "home"))  # an empty cache
    counting = Counting()
    store = RegistryTransport(world.registries[which], transport=counting)
    try:
        client = od.Client(store)
        first = client.load(PRICES)
        loaded = counting.split()
        shards = len(client.manifest(PRICES).shards)
        counting.split()
        # The download, then the shards: its answer carried the lifecycle (no GET …/lifecycle).
        assert loaded == (1, shards) and shards > 1
        again = client.load(PRICES)
        assert counting.split() == (1, 0)
        pd.testing.assert_frame_equal(again, first)
        for pin in ({"version": world.versions[1]}, {"as_of": world.published[2]}):
            client.load(PRICES, **pin)  # type: ignore[arg-type]
            counting.split()
            client.load(PRICES, **pin)  # type: ignore[arg-type]
            assert counting.split() == (1, 0), pin
    finally:
        store.close()
