"""Publishing fixtures: the local OIDC issuer and a registry that trusts it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner, Result

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


Operator = Callable[..., Result]


@pytest.fixture
def operator(pub_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Operator:
    """Runs ``opendata-registry ARGS…`` against the test's database; fails on a non-zero exit."""
    from opendata_registry.cli.main import main

    for k, v in {
        "OPENDATA_HOME": str(pub_settings.home),
        "OPENDATA_STORE": pub_settings.store,
        "OPENDATA_REGISTRY_DATABASE_URL": pub_settings.database_url,
        "OPENDATA_REGISTRY_DATABASE_SCHEMA": pub_settings.database_schema or "",
        "OPENDATA_REGISTRY_SECRET": pub_settings.secret.decode(),
    }.items():
        monkeypatch.setenv(k, v)

    def run(*args: str, ok: bool = True) -> Result:
        done = CliRunner().invoke(main, list(args))
        assert (done.exit_code == 0) is ok, (args, done.output)
        return done

    return run
