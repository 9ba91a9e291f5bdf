"""Who is calling: an API key, an anonymous address, or a verified publisher.

The access middleware (:mod:`opendata_registry.domain.keys.middleware`) identifies every ``/v1``
request's caller and leaves it in the request's state; everything after it reads it with
:func:`caller_of`. Defined below the domains because every one of them (and the request log and
the hot cache) speaks of callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from litestar import Request

from opendata_core.documents import Provenance

if TYPE_CHECKING:
    from litestar.types import Scope

    from opendata_core.ids import DatasetId

__all__ = ["Caller", "Publisher", "caller_of", "provide_caller"]


@dataclass(frozen=True)
class Publisher:
    """A verified publishing identity."""

    kind: Literal["github", "producer"]
    subject: str
    """What limits count against: ``repo:<id>`` or ``producer:<token id>``."""
    repository: str | None = None
    repository_id: str | None = None
    repository_owner: str | None = None
    repository_owner_id: str | None = None
    sha: str | None = None
    ref: str | None = None
    workflow_ref: str | None = None
    environment: str | None = None
    run_id: str | None = None
    run_url: str | None = None
    namespace: str | None = None
    """Producer token scope: a namespace …"""
    dataset_id: str | None = None
    """… or one dataset."""

    def provenance(self) -> Provenance:
        """Provenance from the verified claims only.

        A producer token proves no repository, commit or run, so its provenance is empty (all
        null): a repository the publisher merely states (``opendata.yaml`` ``repo``) stays in
        the metadata and is never recorded as where a publish came from.
        """
        if self.kind == "github":
            return Provenance(
                repo=f"https://github.com/{self.repository}",
                commit=self.sha,
                run_url=self.run_url,
                workflow_ref=self.workflow_ref,
                verified_by="github-oidc",
            )
        return Provenance()

    def may_touch(self, ds: DatasetId) -> bool:
        """A producer token's scope check (GitHub publishers are checked against owners)."""
        return self.dataset_id == str(ds) or self.namespace == ds.namespace


@dataclass(frozen=True)
class Caller:
    """Who is calling: a key (by its database id) or an anonymous IP address."""

    tier: str
    subject: str
    """``key:<id>`` or ``ip:<address>``: what limits and usage are counted against."""
    key_prefix: str | None = None
    publisher: Publisher | None = None
    """Set when the bearer is a publish or producer token (see ``domain.publishing.tokens``)."""


def caller_of(scope: Scope) -> Caller:
    """The caller the middleware identified for this request."""
    caller = scope.get("state", {}).get("caller")
    if not isinstance(caller, Caller):
        raise RuntimeError("no caller: the access middleware did not run")
    return caller


def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    """Who is calling (the dependency ``caller``)."""
    return caller_of(request.scope)
