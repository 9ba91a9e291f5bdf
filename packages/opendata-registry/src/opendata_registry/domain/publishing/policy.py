"""Who may publish a dataset, and how often a namespace may.

The checks: producer tokens' scopes, pinned repositories, namespace grants, the owner's policy
(workflow, ref, environment), and the publishing rate limit per namespace.

A GitHub Actions publisher (OIDC) may publish a dataset whose ``opendata.yaml`` names its
repository, under its own namespace or one granted to its owner; the first publish pins the
dataset to the repository's and owner's numeric ids, so a re-created account with the same name
cannot take it over. A producer token may publish what its scope names, unless the dataset is
pinned to a repository that does not allow tokens.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from opendata_core.errors import PermissionDenied, RateLimited, shorten
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import refuse_publish
from opendata_registry.db.engine import SessionMaker
from opendata_registry.db.models import NamespaceGrant, NamespaceOwner, Owner
from opendata_registry.domain.catalogue.lifecycle import resolve_id
from opendata_registry.infra.identity import Publisher
from opendata_registry.infra.limits import Limiter
from opendata_registry.infra.settings import Settings

__all__ = ["PolicyParts", "PublishPolicy", "repository_of"]

_GITHUB_RE: Final = re.compile(
    r"https?://(?:www\.)?github\.com/([A-Za-z0-9-]{1,39})/([A-Za-z0-9._-]{1,100}?)(?:\.git)?/?"
)


def repository_of(repo_url: str) -> str | None:
    """``owner/name`` (lower-case) of a GitHub repository URL, else ``None``.

    Example:
        >>> repository_of("https://github.com/ECB/fx-rates.git")
        'ecb/fx-rates'
        >>> repository_of("https://gitlab.com/ecb/fx") is None
        True
    """
    match = _GITHUB_RE.fullmatch(repo_url.strip())
    return f"{match[1]}/{match[2]}".lower() if match else None


_POLICY_HINT: Final = (
    "publish from {what}; the registry's admin can change the policy: "
    "opendata-registry datasets policy {ds} --help"
)


class PolicyParts(Protocol):
    """What the policy uses of the running registry."""

    @property
    def settings(self) -> Settings: ...  # noqa: D102
    @property
    def sessions(self) -> SessionMaker: ...  # noqa: D102
    @property
    def limiter(self) -> Limiter: ...  # noqa: D102


class PublishPolicy:
    """The checks that decide whether a publisher may publish a dataset, for one request."""

    def __init__(self, registry: PolicyParts) -> None:
        self.registry = registry
        self.settings = registry.settings

    async def authorize(self, publisher: Publisher, ds: DatasetId, *, repo: str | None) -> bool:
        """Refuse a publisher that may not publish ``ds``; ``True`` when it must be registered.

        ``repo`` is the ``opendata.yaml`` ``repo`` being published (``None``: not known yet).
        A moved id (reserved for good) and a withdrawn dataset are refused whoever publishes,
        naming the id to publish to instead (core's ``refuse_publish``).
        """
        async with self.registry.sessions() as session:
            refuse_publish(await resolve_id(session, str(ds)))
        if publisher.kind == "producer":
            if not publisher.may_touch(ds):
                scope = publisher.dataset_id or f"namespace {publisher.namespace}"
                raise PermissionDenied(
                    f"{ds}: this producer token may publish only {scope}",
                    dataset_id=str(ds),
                    hint=f"use a producer token for {ds.namespace} (the registry's admin: "
                    f"opendata-registry tokens create --namespace {ds.namespace}), or publish "
                    "from the dataset's repository in GitHub Actions",
                )
            async with self.registry.sessions() as session:
                pinned = await session.get(Owner, str(ds))
            if pinned is not None and not pinned.allow_tokens:
                err = PermissionDenied(
                    f"{ds} is pinned to the GitHub repository {pinned.repository}: only that "
                    "repository's GitHub Actions publish it (through OIDC), not a producer token",
                    dataset_id=str(ds),
                )
                err.hint = (
                    f"publish from {pinned.repository} in GitHub Actions; or the registry's "
                    f"operator allows producer tokens for it: opendata-registry datasets policy "
                    f"{ds} --allow-tokens"
                )
                raise err
            return False
        assert publisher.repository
        assert publisher.repository_owner
        repository = publisher.repository.lower()
        if repo is not None and repository_of(repo) != repository:
            raise PermissionDenied(
                f"{ds}: opendata.yaml says repo {shorten(repo)!r}, but the token is for "
                f"https://github.com/{publisher.repository}; a dataset is published only from "
                "the repository its opendata.yaml names",
                dataset_id=str(ds),
                hint=f"if this repository is the dataset's home, set `repo: https://github.com/"
                f"{publisher.repository}` in opendata.yaml; else publish from {shorten(repo)}",
            )
        async with self.registry.sessions() as session:
            owner = await session.get(Owner, str(ds))
            granted = (
                await session.execute(
                    select(NamespaceGrant.namespace).where(
                        NamespaceGrant.namespace == ds.namespace,
                        NamespaceGrant.github_owner == publisher.repository_owner.lower(),
                    )
                )
            ).scalar_one_or_none()
            holder = await session.get(NamespaceOwner, ds.namespace)
        if owner is not None:
            self.check_owner(owner, publisher, ds)
            return False
        if holder is not None:  # transferred by an operator: its owner id decides, not the name
            if granted is None and publisher.repository_owner_id != holder.owner_id:
                raise PermissionDenied(
                    f"{ds}: namespace {ds.namespace!r} belongs to the GitHub owner id "
                    f"{holder.owner_id} (transferred on {holder.transferred_at:%Y-%m-%d}); this "
                    f"token's owner {publisher.repository_owner!r} has id "
                    f"{publisher.repository_owner_id}",
                    dataset_id=str(ds),
                    hint=f"publish from a repository of the namespace's owner, or ask the "
                    f"registry's admin: opendata-registry namespaces grant {ds.namespace} "
                    f"--github-owner {publisher.repository_owner}",
                )
            return True
        if ds.namespace != publisher.repository_owner.lower() and granted is None:
            err = PermissionDenied(
                f"{ds}: namespace {ds.namespace!r} is not the repository owner "
                f"{publisher.repository_owner!r}, and no grant lets that owner publish there",
                dataset_id=str(ds),
            )
            err.hint = (
                f"publish under {publisher.repository_owner.lower()}/…, or ask the registry's "
                f"admin: opendata-registry namespaces grant {ds.namespace} "
                f"--github-owner {publisher.repository_owner}"
            )
            raise err
        return True

    def check_owner(self, owner: Owner, publisher: Publisher, ds: DatasetId) -> None:
        """Refuse a publisher that is not the dataset's pinned repository or breaks its policy."""
        pinned = (owner.repository_id, owner.repository_owner_id)
        if pinned != (publisher.repository_id, publisher.repository_owner_id):
            raise PermissionDenied(
                f"{ds} is registered to repository {owner.repository} (id "
                f"{owner.repository_id}, owner id {owner.repository_owner_id}); this token is "
                f"for {publisher.repository} (id {publisher.repository_id}, owner id "
                f"{publisher.repository_owner_id})",
                dataset_id=str(ds),
                hint=f"only the GitHub Actions of {owner.repository} publish {ds}: run the "
                "workflow there, or publish under another id from this repository",
            )
        workflow = (publisher.workflow_ref or "").split("@", 1)[0]
        if owner.workflow_ref and workflow != owner.workflow_ref:
            raise PermissionDenied(
                f"{ds}: only the workflow {owner.workflow_ref} may publish (policy); this run is "
                f"{workflow or 'unknown'}",
                dataset_id=str(ds),
                hint=_POLICY_HINT.format(what=f"the workflow {owner.workflow_ref}", ds=ds),
            )
        # The ref and the environment are separate claims, each matched only against its own
        # policy field (as PyPI's trusted publishing does): an environment may be named
        # anything, including "refs/heads/main".
        if owner.ref and publisher.ref != owner.ref:
            raise PermissionDenied(
                f"{ds}: only {owner.ref} may publish (policy: ref); this run is on {publisher.ref}",
                dataset_id=str(ds),
                hint=_POLICY_HINT.format(what=owner.ref, ds=ds),
            )
        environment = (publisher.environment or "").lower()
        if owner.environment and environment != owner.environment:
            raise PermissionDenied(
                f"{ds}: only jobs in the GitHub environment {owner.environment!r} may publish "
                f"(policy: environment); this run is in "
                f"{repr(environment) if environment else 'no environment'}",
                dataset_id=str(ds),
                hint=_POLICY_HINT.format(what=f"a job in environment {owner.environment}", ds=ds),
            )

    async def register(self, publisher: Publisher, ds: DatasetId) -> bool:
        """Pin ``ds`` to the publisher's repository; ``False`` when someone registered first."""
        assert publisher.repository
        assert publisher.repository_id
        assert publisher.repository_owner_id
        try:
            async with self.registry.sessions() as session, session.begin():
                session.add(
                    Owner(
                        dataset_id=str(ds),
                        repository=publisher.repository.lower(),
                        repository_id=publisher.repository_id,
                        repository_owner_id=publisher.repository_owner_id,
                        registered_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            async with self.registry.sessions() as session:
                owner = await session.get(Owner, str(ds))
            assert owner is not None
            self.check_owner(owner, publisher, ds)  # raises unless it was us
            return False
        return True

    async def limit(self, ds: DatasetId) -> None:
        """Count one publishing request against the namespace's budget; 429 past it."""
        tier = self.settings.tier(self.settings.publish_tier)
        state = await self.registry.limiter.hit_request(f"ns:{ds.namespace}", tier)
        if not state.allowed:
            raise RateLimited(
                f"namespace {ds.namespace}: publishing rate limit of "
                f"{tier.requests_per_minute} requests per minute reached",
                retry_after=state.reset_after,
            )
