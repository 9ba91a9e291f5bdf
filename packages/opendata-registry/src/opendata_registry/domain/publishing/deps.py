"""Dependencies the publishing controllers receive: the caller as a publisher."""

from __future__ import annotations

from litestar.di import NamedDependency

from opendata_core.errors import Unauthenticated
from opendata_registry.infra.identity import Caller, Publisher

__all__ = ["provide_publisher"]


def provide_publisher(caller: NamedDependency[Caller]) -> Publisher:
    """The caller as a publisher; anyone else is refused (401)."""
    if caller.publisher is None:
        raise Unauthenticated(
            "publishing needs a publish token: exchange a GitHub Actions OIDC token at "
            "POST /v1/auth/github-oidc, or use a producer token (Authorization: Bearer …)",
            hint="in GitHub Actions give the job `permissions: id-token: write`; elsewhere set "
            "OPENDATA_PUBLISH_TOKEN to a producer token (opendata-registry tokens create)",
        )
    return caller.publisher
