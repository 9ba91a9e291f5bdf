"""Publishing fixtures: the local OIDC issuer and a registry that trusts it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from opendata_registry.infra.settings import Settings
from tests.registry.publishing.issuer import AUDIENCE, Issuer, serve


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    """The local OIDC issuer (one per session)."""
    found = Issuer()
    server, _ = serve(found)
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def pub_settings(settings: Settings, issuer: Issuer) -> Settings:
    """Registry settings that trust the local issuer."""
    return replace(settings, oidc_issuer=issuer.url, oidc_audience=AUDIENCE)


@pytest.fixture
def reg(pub_settings: Settings, make_client: Any) -> Any:
    """A registry test client that trusts the local issuer."""
    return make_client(pub_settings)
