"""``opendata-registry namespaces | tokens | datasets``: who may publish what.

- ``namespaces grant NS --github-owner OWNER``: repositories of GitHub owner OWNER may register
  datasets in namespace NS (a namespace equal to the owner needs no grant).
- ``tokens create --namespace NS | --dataset NS/NAME --expires 90d``: a producer token for CI
  other than GitHub Actions; shown once, stored as a hash.
- ``datasets policy NS/NAME --workflow … --ref … --environment … --allow-tokens``: only that
  workflow file / git ref / GitHub environment publishes; producer tokens only when allowed.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from sqlalchemy import delete, select

from opendata_core.errors import OpenDataError
from opendata_core.ids import DatasetId
from opendata_registry.cli.runner import run_with_registry as _run

__all__ = ["datasets", "namespaces", "tokens"]

_DURATION = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _expiry(text: str) -> datetime:
    match = _DURATION.fullmatch(text.strip())
    if match:
        return datetime.now(UTC) + timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a duration (90d, 12h, 2w) nor an ISO date"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _owner(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}", text):
        raise click.BadParameter(f"{text!r} is not a GitHub user or organisation name")
    return text.lower()


@click.group()
def namespaces() -> None:
    """Grant GitHub owners the right to register datasets in a namespace; transfer one."""


@namespaces.command("grant")
@click.argument("namespace")
@click.option("--github-owner", required=True, help="GitHub user or organisation.")
def namespaces_grant(namespace: str, github_owner: str) -> None:
    """Let repositories of GITHUB_OWNER register datasets in NAMESPACE."""
    from opendata_registry.db.models import NamespaceGrant

    ns = DatasetId.parse(f"{namespace}/x").namespace
    owner = _owner(github_owner)

    async def work(registry: Any) -> None:
        async with registry.session() as session, session.begin():
            if await session.get(NamespaceGrant, (ns, owner)) is None:
                session.add(
                    NamespaceGrant(namespace=ns, github_owner=owner, created_at=datetime.now(UTC))
                )

    _run(work)
    click.echo(f"repositories of {owner} may now register datasets in {ns}/…")


@namespaces.command("revoke")
@click.argument("namespace")
@click.option("--github-owner", required=True, help="GitHub user or organisation.")
def namespaces_revoke(namespace: str, github_owner: str) -> None:
    """Withdraw a grant (datasets already registered stay with their repository)."""
    from opendata_registry.db.models import NamespaceGrant

    ns, owner = DatasetId.parse(f"{namespace}/x").namespace, _owner(github_owner)

    async def work(registry: Any) -> None:
        async with registry.session() as session, session.begin():
            await session.execute(
                delete(NamespaceGrant).where(
                    NamespaceGrant.namespace == ns, NamespaceGrant.github_owner == owner
                )
            )

    _run(work)
    click.echo(f"grant of {ns} to {owner} withdrawn")


@namespaces.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def namespaces_list(as_json: bool) -> None:
    """List the grants."""
    from opendata_registry.db.models import NamespaceGrant

    async def work(registry: Any) -> list[tuple[str, str]]:
        async with registry.session() as session:
            stmt = select(NamespaceGrant.namespace, NamespaceGrant.github_owner).order_by(
                NamespaceGrant.namespace, NamespaceGrant.github_owner
            )
            return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]

    rows = _run(work)
    if as_json:
        click.echo(json.dumps([{"namespace": n, "github_owner": o} for n, o in rows]))
        return
    for ns, owner in rows:
        click.echo(f"{ns:<40} {owner}")


@click.group()
def tokens() -> None:
    """Producer tokens for CI other than GitHub Actions."""


@tokens.command("create")
@click.option("--namespace", help="Every dataset of this namespace.")
@click.option("--dataset", "dataset_id", help="Only this dataset (NS/NAME).")
@click.option("--expires", required=True, help="A duration (90d, 12h, 2w) or an ISO date.")
@click.option("--name", default="", help="Who or what the token is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_create(
    namespace: str | None, dataset_id: str | None, expires: str, name: str, as_json: bool
) -> None:
    """Create a producer token; it is printed once and cannot be shown again."""
    from opendata_registry.domain.publishing.tokens import ProducerTokens

    when = _expiry(expires)

    async def work(registry: Any) -> Any:
        async with registry.session() as session:
            return await ProducerTokens(session).create(
                expires_at=when, namespace=namespace, dataset_id=dataset_id, name=name
            )

    token, info = _run(work)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "token": token,
                    "id": info.id,
                    "prefix": info.prefix,
                    "expires_at": info.expires_at.isoformat(),
                }
            )
        )
        return
    click.echo(token)
    scope = info.dataset_id or f"namespace {info.namespace}"
    until = info.expires_at.strftime("%Y-%m-%d %H:%M")
    click.echo(
        f"producer token {info.id} for {scope}, valid until {until} UTC; set it as "
        "OPENDATA_PUBLISH_TOKEN (it is not shown again)",
        err=True,
    )


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_list(as_json: bool) -> None:
    """List producer tokens (their public prefix, never the token)."""
    from opendata_registry.domain.publishing.tokens import ProducerTokens

    async def work(registry: Any) -> Any:
        async with registry.session() as session:
            return await ProducerTokens(session).list()

    rows = [
        {
            "id": t.id,
            "prefix": t.prefix,
            "name": t.name,
            "namespace": t.namespace,
            "dataset": t.dataset_id,
            "expires_at": t.expires_at.isoformat(),
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        }
        for t in _run(work)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for t in rows:
        state = "revoked" if t["revoked_at"] else f"until {t['expires_at'][:16]}"
        click.echo(f"{t['id']:>4}  {t['prefix']}…  {t['dataset'] or t['namespace']:<40} {state}")


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """Revoke a producer token by id or prefix; it fails from its next request on."""
    from opendata_registry.domain.publishing.tokens import ProducerTokens

    async def work(registry: Any) -> Any:
        async with registry.session() as session:
            return await ProducerTokens(session).revoke(token_id)

    info = _run(work)
    click.echo(f"producer token {info.id} ({info.prefix}…) revoked")


@click.group()
def datasets() -> None:
    """Publishing policy, trust and lifecycle of datasets."""


@datasets.command("policy")
@click.argument("dataset_id")
@click.option("--workflow", help="Only this workflow: OWNER/REPO/.github/workflows/FILE.yml.")
@click.option("--ref", help="Only this git ref (refs/heads/main), matched against the `ref` claim.")
@click.option(
    "--environment",
    help="Only jobs in this GitHub environment, matched against the `environment` claim.",
)
@click.option(
    "--allow-tokens/--refuse-tokens",
    default=None,
    help="Whether producer tokens may publish it too (refused by default: unverified).",
)
@click.option(
    "--clear",
    is_flag=True,
    help="Back to the default: any workflow, ref, environment; producer tokens refused.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def datasets_policy(
    dataset_id: str,
    workflow: str | None,
    ref: str | None,
    environment: str | None,
    allow_tokens: bool | None,
    clear: bool,
    as_json: bool,
) -> None:
    """Restrict which workflow, ref and environment publish a registered dataset.

    A registered dataset is pinned to the GitHub repository that registered it: only that
    repository's GitHub Actions publish it (through OIDC). --allow-tokens lets producer tokens
    of its namespace publish it too; their publishes carry no verified provenance.
    """
    from opendata_registry.db.models import Owner

    ds = str(DatasetId.parse(dataset_id))
    if ref is not None and not ref.startswith("refs/"):
        raise click.BadParameter(
            f"{ref!r} is not a git ref (refs/heads/main, refs/tags/v1); a GitHub environment "
            f"is set with --environment {ref}",
            param_hint="--ref",
        )
    if environment is not None and not environment.strip():
        raise click.BadParameter("the environment name is empty", param_hint="--environment")

    async def work(registry: Any) -> Owner:
        async with registry.session() as session, session.begin():
            owner: Owner | None = await session.get(Owner, ds)
            if owner is None:
                raise OpenDataError(
                    f"{ds} is not registered yet",
                    hint="its first publish from GitHub Actions registers it",
                )
            if clear:
                owner.workflow_ref = owner.ref = owner.environment = None
                owner.allow_tokens = False
            if workflow is not None:
                owner.workflow_ref = workflow.split("@", 1)[0]
            if ref is not None:
                owner.ref = ref
            if environment is not None:
                # GitHub compares environment names case-insensitively.
                owner.environment = environment.strip().lower()
            if allow_tokens is not None:
                owner.allow_tokens = allow_tokens
            return owner

    owner = _run(work)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "dataset": ds,
                    "repository": owner.repository,
                    "workflow": owner.workflow_ref,
                    "ref": owner.ref,
                    "environment": owner.environment,
                    "allow_tokens": owner.allow_tokens,
                }
            )
        )
        return
    click.echo(
        f"{ds}: repository {owner.repository}; workflow {owner.workflow_ref or 'any'}; "
        f"ref {owner.ref or 'any'}; environment {owner.environment or 'any'}; producer tokens "
        f"{'allowed' if owner.allow_tokens else 'refused'}"
    )
