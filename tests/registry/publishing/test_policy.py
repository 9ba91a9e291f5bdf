"""Dataset policies that mean what they say (issue 21, section 2).

- a ``--ref`` policy matches the token's ``ref`` claim only, an ``--environment`` policy its
  ``environment`` claim only (PyPI's trusted publishing keeps them apart);
- a dataset pinned to a GitHub repository refuses producer tokens (403, nothing written) until an
  operator runs ``datasets policy ID --allow-tokens``;
- a producer-token publish records no repository it could not prove (provenance all null).

Through the real app, the operator CLI and the local OIDC issuer, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from opendata_core.documents import Manifest, decode_document
from opendata_registry.infra.settings import Settings
from tests.registry.publishing.conftest import Operator
from tests.registry.publishing.issuer import Issuer, Repo
from tests.registry.publishing.pubkit import auth, commit_body, exchange, manifest, part, publish

DS = "acme/fx-rates"
ACME = Repo()


def _uploads(client: Any, token: str, ds: str = DS) -> Any:
    return client.post(
        f"/v1/datasets/{ds}/uploads",
        json={"shards": [{"sha256": "a" * 64, "bytes": 1}]},
        headers=auth(token),
    )


def _tree(root: Path) -> dict[str, bytes]:
    """Every file of the store and its bytes (to prove a refusal wrote nothing)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _live(store_root: Path, ds: str = DS) -> Manifest:
    return decode_document((store_root / "datasets" / ds / "manifest.json").read_bytes(), Manifest)


# -- ref and environment are separate ---------------------------------------------------------


def test_a_ref_policy_is_not_satisfied_by_an_environment_named_like_the_ref(
    reg: Any, issuer: Issuer, operator: Operator
) -> None:
    token = exchange(reg, issuer, ACME)
    _, r = publish(reg, token, DS, ACME, {"2023": part("2023")})
    assert r.status_code == 200, r.text
    operator("datasets", "policy", DS, "--ref", "refs/heads/main")
    # A feature branch whose job runs in an environment *named* refs/heads/main.
    feature = exchange(reg, issuer, ACME, ref="refs/heads/feature", environment="refs/heads/main")
    r = _uploads(reg, feature)
    assert r.status_code == 403, r.text
    assert r.json()["message"] == (
        f"{DS}: only refs/heads/main may publish (policy: ref); this run is on refs/heads/feature"
    )
    # The real ref passes, with or without an environment.
    assert _uploads(reg, exchange(reg, issuer, ACME)).status_code == 200
    main_in_env = exchange(reg, issuer, ACME, environment="production")
    assert _uploads(reg, main_in_env).status_code == 200


def test_an_environment_policy_is_not_satisfied_by_a_ref(
    reg: Any, issuer: Issuer, operator: Operator
) -> None:
    token = exchange(reg, issuer, ACME)
    publish(reg, token, DS, ACME, {"2023": part("2023")})
    shown = operator("datasets", "policy", DS, "--environment", "Production", "--json")
    assert json.loads(shown.output) == {
        "dataset": DS,
        "repository": "acme/fx-rates",
        "workflow": None,
        "ref": None,
        "environment": "production",
        "allow_tokens": False,
    }
    refused = {
        # The branch is called production, but the job runs in no environment.
        "ref named like the environment": {"ref": "production"},
        "branch named like the environment": {"ref": "refs/heads/production"},
        "another environment": {"environment": "staging"},
        "no environment": {},
    }
    for case, claims in refused.items():
        r = _uploads(reg, exchange(reg, issuer, ACME, **claims))
        assert r.status_code == 403, (case, r.text)
        assert (
            "only jobs in the GitHub environment 'production' may publish" in (r.json()["message"])
        ), case
    none = _uploads(reg, exchange(reg, issuer, ACME)).json()["message"]
    assert none.endswith("this run is in no environment"), none
    # GitHub compares environment names case-insensitively.
    for name in ("production", "PRODUCTION"):
        assert _uploads(reg, exchange(reg, issuer, ACME, environment=name)).status_code == 200


def test_ref_and_environment_policies_combine(reg: Any, issuer: Issuer, operator: Operator) -> None:
    publish(reg, exchange(reg, issuer, ACME), DS, ACME, {"2023": part("2023")})
    operator("datasets", "policy", DS, "--ref", "refs/tags/v1", "--environment", "release")
    cases = {
        ("refs/tags/v1", "release"): 200,
        ("refs/tags/v1", None): 403,
        ("refs/heads/main", "release"): 403,
        ("release", "refs/tags/v1"): 403,  # the two claims swapped
    }
    for (ref, environment), status in cases.items():
        token = exchange(reg, issuer, ACME, ref=ref, environment=environment)
        assert _uploads(reg, token).status_code == status, (ref, environment)
    # --clear lifts both.
    shown = operator("datasets", "policy", DS, "--clear")
    assert "ref any; environment any; producer tokens refused" in shown.output
    token = exchange(reg, issuer, ACME, ref="refs/heads/x")
    assert _uploads(reg, token).status_code == 200


@pytest.mark.parametrize("value", ["production", "main", "heads/main"])
def test_ref_option_refuses_an_environment_name_and_names_the_fix(
    reg: Any, issuer: Issuer, operator: Operator, value: str
) -> None:
    publish(reg, exchange(reg, issuer, ACME), DS, ACME, {"2023": part("2023")})
    done = operator("datasets", "policy", DS, "--ref", value, ok=False)
    assert done.exit_code == 2
    assert f"{value!r} is not a git ref" in done.output
    assert f"--environment {value}" in done.output


def test_a_stored_environment_name_in_ref_moves_to_environment(
    pub_settings: Settings,
) -> None:
    """Migration 0006 keeps a policy written before the split meaning what it meant."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from opendata_registry.db.engine import _MIGRATIONS, create_engine

    def upgrade(connection: Any, revision: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async def go() -> list[tuple[str, str | None, str | None, bool]]:
        engine = create_engine(pub_settings.database_url, schema=pub_settings.database_schema)
        try:
            if pub_settings.database_schema:
                async with engine.begin() as conn:
                    await conn.exec_driver_sql(
                        f'CREATE SCHEMA IF NOT EXISTS "{pub_settings.database_schema}"'
                    )
            async with engine.begin() as conn:
                await conn.run_sync(upgrade, "0005")
                for ds, ref in [
                    ("a/env", "Production"),
                    ("a/ref", "refs/heads/main"),
                    ("a/none", None),
                ]:
                    await conn.execute(
                        text(
                            "INSERT INTO owners (dataset_id, repository, repository_id, "
                            "repository_owner_id, ref, registered_at) "
                            "VALUES (:ds, 'a/r', '1', '2', :ref, '2026-01-01 00:00:00')"
                        ),
                        {"ds": ds, "ref": ref},
                    )
            async with engine.begin() as conn:
                await conn.run_sync(upgrade, "head")
                rows = await conn.execute(
                    text(
                        "SELECT dataset_id, ref, environment, allow_tokens FROM owners "
                        "ORDER BY dataset_id"
                    )
                )
                return [(r[0], r[1], r[2], bool(r[3])) for r in rows]
        finally:
            await engine.dispose()

    assert asyncio.run(go()) == [
        ("a/env", None, "production", False),
        ("a/none", None, None, False),
        ("a/ref", "refs/heads/main", None, False),
    ]


# -- a pinned dataset and producer tokens -----------------------------------------------------


@pytest.mark.parametrize("scope", ["--namespace", "--dataset"])
def test_a_pinned_dataset_refuses_producer_tokens_until_the_operator_allows_them(
    reg: Any, issuer: Issuer, operator: Operator, store_root: Path, scope: str
) -> None:
    first, r = publish(reg, exchange(reg, issuer, ACME), DS, ACME, {"2023": part("2023")})
    assert r.status_code == 200, r.text
    made = operator(
        "tokens",
        "create",
        scope,
        "acme" if scope == "--namespace" else DS,
        "--expires",
        "1d",
        "--json",
    )
    producer = json.loads(made.output)["token"]
    before = _tree(store_root)
    history = reg.get(f"/v1/datasets/{DS}/history").json()
    # Uploads, commit and run records: all refused, naming the pin and the operator's switch.
    r = _uploads(reg, producer)
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["code"] == "permission_denied"
    assert body["message"] == (
        f"{DS} is pinned to the GitHub repository acme/fx-rates: only that repository's GitHub "
        "Actions publish it (through OIDC), not a producer token"
    )
    assert f"opendata-registry datasets policy {DS} --allow-tokens" in body["hint"]
    m = manifest(DS, {"2023": part("2023", "token")}, parent=first.publish_id)
    r = reg.post(f"/v1/datasets/{DS}/commit", json=commit_body(m, DS, ACME), headers=auth(producer))
    assert r.status_code == 403 and "is pinned to" in r.json()["message"], r.text
    run = {
        "status": "failure",
        "error_class": "network",
        "message": "x",
        "started_at": "2030-01-01T00:00:00Z",
        "finished_at": "2030-01-01T00:01:00Z",
    }
    r = reg.post(f"/v1/datasets/{DS}/runs", json=run, headers=auth(producer))
    assert r.status_code == 403 and "is pinned to" in r.json()["message"], r.text
    # Nothing was written: the bucket byte for byte, the catalogue's history, the live publish.
    assert _tree(store_root) == before
    assert reg.get(f"/v1/datasets/{DS}/history").json() == history
    assert _live(store_root).publish_id == first.publish_id
    # The operator allows tokens: the same token publishes, with no provenance it cannot prove.
    shown = operator("datasets", "policy", DS, "--allow-tokens")
    assert "producer tokens allowed" in shown.output
    second, r = publish(
        reg, producer, DS, ACME, {"2023": part("2023", "token")}, parent=first.publish_id
    )
    assert r.status_code == 200, r.text
    assert r.json()["provenance"] == {
        "repo": None,
        "commit": None,
        "run_url": None,
        "workflow_ref": None,
        "verified_by": None,
    }
    assert _live(store_root).publish_id == second.publish_id
    # ... and refuses them again when the operator says so; GitHub Actions still publishes.
    operator("datasets", "policy", DS, "--refuse-tokens")
    assert _uploads(reg, producer).status_code == 403
    assert _uploads(reg, exchange(reg, issuer, ACME)).status_code == 200


def test_allowing_tokens_keeps_the_github_pin(reg: Any, issuer: Issuer, operator: Operator) -> None:
    publish(reg, exchange(reg, issuer, ACME), DS, ACME, {"2023": part("2023")})
    operator("datasets", "policy", DS, "--allow-tokens")
    intruder = exchange(reg, issuer, Repo("acme/other", id="102"))
    r = _uploads(reg, intruder)
    assert r.status_code == 403 and "registered to repository acme/fx-rates" in r.json()["message"]


# -- provenance of a token publish ------------------------------------------------------------


def test_a_token_publish_never_names_a_repository_it_could_not_prove(
    reg: Any, issuer: Issuer, operator: Operator, store_root: Path
) -> None:
    # An unpinned dataset in namespace "globex"; the producer's opendata.yaml claims to come
    # from acme's repository, which it has nothing to do with.
    producer = json.loads(
        operator("tokens", "create", "--namespace", "globex", "--expires", "1d", "--json").output
    )["token"]
    ds = "globex/fx"
    m, r = publish(reg, producer, ds, ACME, {"2023": part("2023")})
    assert r.status_code == 200, r.text
    empty = {
        "repo": None,
        "commit": None,
        "run_url": None,
        "workflow_ref": None,
        "verified_by": None,
    }
    assert r.json()["provenance"] == empty
    assert r.json()["registered"] is False  # a token never pins a dataset
    # The same in what readers see: the API, the manifest, the run record.
    detail = reg.get(f"/v1/datasets/{ds}").json()
    assert detail["manifest"]["provenance"] == empty
    assert detail["metadata"]["provenance"] == empty
    runs = reg.get(f"/v1/datasets/{ds}/runs").json()["runs"]
    assert runs[0]["provenance"] == empty
    live = _live(store_root, ds)
    assert live.publish_id == m.publish_id and live.provenance.repo is None
    # The repository it *stated* stays in its metadata, as a statement.
    assert detail["metadata"]["dataset"]["repo"] == ACME.url
    # A run record posted with the token carries no repository either.
    run = {
        "status": "success",
        "started_at": "2030-01-01T00:00:00Z",
        "finished_at": "2030-01-01T00:01:00Z",
    }
    r = reg.post(f"/v1/datasets/{ds}/runs", json=run, headers=auth(producer))
    assert r.status_code == 201, r.text
    assert r.json()["provenance"] == empty


# -- every refusal says how to publish, not which key to check ---------------------------------


def test_every_publishing_refusal_names_its_fix_and_no_storage_or_api_key(
    reg: Any, issuer: Issuer, operator: Operator
) -> None:
    """Issue 23 §4: an OIDC or policy refusal once hinted "check your credentials (AWS_* /
    OPENDATA_API_KEY)", neither of which publishing uses."""
    _, r = publish(reg, exchange(reg, issuer, ACME), DS, ACME, {"2023": part("2023")})
    assert r.status_code == 200, r.text

    def producer(namespace: str) -> str:
        made = operator("tokens", "create", "--namespace", namespace, "--expires", "1d", "--json")
        token: str = json.loads(made.output)["token"]
        return token

    refusals: dict[str, tuple[Any, str]] = {
        "no token": (reg.post(f"/v1/datasets/{DS}/uploads", json={"shards": []}), "id-token"),
        "producer token of another namespace": (
            _uploads(reg, producer("globex")),
            "tokens create --namespace acme",
        ),
        "producer token on a pinned dataset": (_uploads(reg, producer("acme")), "--allow-tokens"),
        "another repository": (
            _uploads(reg, exchange(reg, issuer, Repo("acme/other", id="102"))),
            "only the GitHub Actions of acme/fx-rates",
        ),
        "namespace of another owner": (
            _uploads(reg, exchange(reg, issuer, ACME), "globex/fx"),
            "namespaces grant globex",
        ),
    }
    token = exchange(reg, issuer, ACME)
    body = commit_body(manifest(DS, {"2023": part("2023")}), DS, Repo("acme/elsewhere"))
    refusals["opendata.yaml names another repository"] = (
        reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token)),
        "repo: https://github.com/acme/fx-rates",
    )
    for option, value, claims in (
        ("--ref", "refs/heads/main", {"ref": "refs/heads/dev"}),
        ("--environment", "production", {"environment": "staging"}),
        ("--workflow", "acme/fx-rates/.github/workflows/release.yml", {}),
    ):
        operator("datasets", "policy", DS, "--clear")
        operator("datasets", "policy", DS, option, value)
        refusals[f"policy {option}"] = (
            _uploads(reg, exchange(reg, issuer, ACME, **claims)),
            f"opendata-registry datasets policy {DS}",
        )
    for case, (answer, fix) in refusals.items():
        assert answer.status_code in (401, 403), (case, answer.text)
        hint = answer.json()["hint"] or ""
        assert fix in hint, (case, hint)
        assert "AWS_" not in hint and "OPENDATA_API_KEY" not in hint, (case, hint)
