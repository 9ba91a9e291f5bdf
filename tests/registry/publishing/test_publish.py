"""Uploads, commit and run records through the registry, with publish and producer tokens.

Local folder store (the registry's own signed PUT URLs) on SQLite and PostgreSQL; S3 through
moto at the end. Every refusal is a 4xx and leaves the bucket and catalogue as they were.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from opendata_core.documents import Field, Index, Manifest, decode_document
from opendata_registry.app import create_app
from opendata_registry.infra.settings import Settings
from tests.registry.publishing.issuer import Issuer, Repo
from tests.registry.publishing.pubkit import (
    auth,
    commit_body,
    exchange,
    manifest,
    part,
    publish,
    upload,
)

DS = "acme/fx-rates"
ACME = Repo()


def _live(store_root: Path, ds: str = DS) -> Manifest | None:
    path = store_root / "datasets" / ds / "manifest.json"
    return decode_document(path.read_bytes(), Manifest) if path.exists() else None


def _index_ids(store_root: Path) -> list[str]:
    path = store_root / "index.json"
    if not path.exists():
        return []
    return [e.id for e in decode_document(path.read_bytes(), Index).datasets]


def test_first_publish_registers_and_records_verified_provenance(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    m, r = publish(reg, token, DS, ACME, {"2023": part("2023"), "2024": part("2024")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["registered"] is True and body["already_committed"] is False
    assert body["warnings"] == []
    prov = body["provenance"]
    assert prov["repo"] == "https://github.com/acme/fx-rates"
    assert prov["verified_by"] == "github-oidc"
    assert prov["workflow_ref"].startswith("acme/fx-rates/.github/workflows/opendata.yml@")
    assert "/actions/runs/" in prov["run_url"]
    live = _live(store_root)
    assert live is not None and live.publish_id == m.publish_id
    assert live.provenance is not None and live.provenance.verified_by == "github-oidc"
    assert (store_root / "datasets" / DS / "README.md").read_text().startswith("# FX rates")
    assert _index_ids(store_root) == [DS]
    detail = reg.get(f"/v1/datasets/{DS}").json()
    assert detail["manifest"]["publish_id"] == m.publish_id
    assert detail["manifest"]["provenance"]["verified_by"] == "github-oidc"
    assert detail["health"]["status"] == "ok"
    runs = reg.get(f"/v1/datasets/{DS}/runs").json()["runs"]
    assert [r["status"] for r in runs] == ["success"]
    assert runs[0]["provenance"]["commit"] == prov["commit"]


def test_provenance_comes_from_the_token_not_the_request(reg: Any, issuer: Issuer) -> None:
    token = exchange(reg, issuer, ACME, sha="a" * 40)
    parts = {"2024": part("2024")}
    upload(reg, token, DS, parts)
    m = manifest(DS, parts)
    body = commit_body(m, DS, ACME)
    # The request claims another repository and commit: ignored.
    body["manifest"]["provenance"] = {"repo": "https://github.com/x/y", "commit": "b" * 40}
    r = reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
    assert r.status_code == 200, r.text
    assert r.json()["provenance"]["commit"] == "a" * 40
    assert r.json()["provenance"]["repo"] == "https://github.com/acme/fx-rates"


def test_second_publish_uploads_only_the_new_shard_and_retry_is_idempotent(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    first, r = publish(reg, token, DS, ACME, {"2023": part("2023")})
    assert r.status_code == 200
    parts = {"2023": part("2023"), "2024": part("2024")}
    plan = upload(reg, token, DS, parts)
    assert plan["reusable"] == [hashlib.sha256(part("2023")).hexdigest()]
    assert [u["sha256"] for u in plan["uploads"]] == [hashlib.sha256(part("2024")).hexdigest()]
    assert plan["current_publish_id"] == first.publish_id
    m = manifest(DS, parts, parent=first.publish_id)
    body = commit_body(m, DS, ACME)
    r1 = reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
    assert r1.status_code == 200 and r1.json()["already_committed"] is False
    # The reply was "lost": the same commit again is a success, not a second publish.
    r2 = reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
    assert r2.status_code == 200, r2.text
    assert r2.json()["already_committed"] is True
    history = reg.get(f"/v1/datasets/{DS}/history").json()["publishes"]
    assert [p["publish_id"] for p in history] == [first.publish_id, m.publish_id]
    runs = reg.get(f"/v1/datasets/{DS}/runs").json()
    assert runs["total"] == 2  # the retried commit rewrote the same run record
    # Each commit wrote its history entry (spec §8.1), so versions pin as with direct publishing.
    import opendata as od

    versions = od.Client(store=store_root).versions(DS)
    assert [v.publish_id for v in versions] == [m.publish_id, first.publish_id]


def test_stale_parent_is_409_with_the_live_publish_id(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    first, _ = publish(reg, token, DS, ACME, {"2023": part("2023")})
    second, r = publish(reg, token, DS, ACME, {"2023": part("2023", "b")}, parent=first.publish_id)
    assert r.status_code == 200
    _, stale = publish(reg, token, DS, ACME, {"2023": part("2023", "c")}, parent=first.publish_id)
    assert stale.status_code == 409, stale.text
    assert stale.json()["code"] == "conflict"
    assert stale.json()["details"]["publish_id"] == second.publish_id
    live = _live(store_root)
    assert live is not None and live.publish_id == second.publish_id


def test_schema_change_is_refused_naming_columns_then_accepted_with_allow(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    first, _ = publish(reg, token, DS, ACME, {"2023": part("2023")})
    changed = [
        Field(name="date", type="date32[day]", nullable=False),
        Field(name="value", type="int64"),
        Field(name="source", type="string"),
    ]
    _, r = publish(
        reg, token, DS, ACME, {"2023": part("2023", "x")}, parent=first.publish_id, schema=changed
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "schema_mismatch"
    assert "added source" in problem["message"]
    assert "retyped value (double -> int64)" in problem["message"]
    assert "--allow-schema-change" in problem["hint"]
    assert _live(store_root).publish_id == first.publish_id  # type: ignore[union-attr]
    _m, ok = publish(
        reg,
        token,
        DS,
        ACME,
        {"2023": part("2023", "x")},
        parent=first.publish_id,
        schema=changed,
        schema_change="allow",
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["schema_changed"] is True
    history = reg.get(f"/v1/datasets/{DS}/history").json()["publishes"]
    assert [p["schema_changed"] for p in history] == [False, True]
    runs = reg.get(f"/v1/datasets/{DS}/runs").json()["runs"]
    assert runs[0]["schema_changed"] is True, runs


def test_other_repository_cannot_touch_a_registered_dataset(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    first, _ = publish(reg, token, DS, ACME, {"2023": part("2023")})
    intruders = {
        # Another repository of the same owner, naming itself in its yaml.
        "other repo": Repo("acme/other", id="102"),
        # The repository deleted and re-created under the same name: a new id.
        "re-created repo": Repo("acme/fx-rates", id="999"),
        # The owner account re-created under the same name: a new owner id.
        "re-created owner": Repo("acme/fx-rates", id="101", owner_id="31337"),
    }
    for case, repo in intruders.items():
        bad = exchange(reg, issuer, repo)
        shards = [{"sha256": "a" * 64, "bytes": 10}]
        r = reg.post(f"/v1/datasets/{DS}/uploads", json={"shards": shards}, headers=auth(bad))
        assert r.status_code == 403, (case, r.text)
        assert "registered to repository acme/fx-rates" in r.json()["message"] or (
            "opendata.yaml" in r.json()["message"]
        )
        m = manifest(DS, {"2023": part("2023")}, parent=first.publish_id)
        body = commit_body(m, DS, repo)
        r = reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(bad))
        assert r.status_code == 403, (case, r.text)
        runs = {
            "status": "failure",
            "error_class": "network",
            "message": "x",
            "started_at": "2025-01-01T00:00:00Z",
            "finished_at": "2025-01-01T00:01:00Z",
        }
        assert reg.post(f"/v1/datasets/{DS}/runs", json=runs, headers=auth(bad)).status_code == 403
    assert _live(store_root).publish_id == first.publish_id  # type: ignore[union-attr]


def test_registration_needs_owner_namespace_and_matching_repo(reg: Any, issuer: Issuer) -> None:
    token = exchange(reg, issuer, ACME)
    # Namespace is not the token's owner (and no grant).
    _, r = publish(reg, token, "globex/fx", ACME, {"2023": part("2023")})
    assert r.status_code == 403
    assert "namespaces grant globex --github-owner acme" in r.json()["hint"]
    # opendata.yaml names another repository.
    parts = {"2023": part("2023")}
    upload(reg, token, DS, parts)
    body = commit_body(manifest(DS, parts), DS, Repo("acme/elsewhere"))
    r = reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
    assert r.status_code == 403
    assert "opendata.yaml says repo" in r.json()["message"]
    # Owner names compare case-insensitively.
    upper = exchange(reg, issuer, Repo("ACME/fx-rates"))
    _, ok = publish(reg, upper, DS, Repo("ACME/fx-rates"), parts)
    assert ok.status_code == 200, ok.text


def test_unauthenticated_and_api_keys_cannot_publish(reg: Any) -> None:
    shards = {"shards": [{"sha256": "a" * 64, "bytes": 1}]}
    assert reg.post(f"/v1/datasets/{DS}/uploads", json=shards).status_code == 401
    forged = "od_pub_eyJleHAiOjF9.bm9wZQ"
    r = reg.post(f"/v1/datasets/{DS}/uploads", json=shards, headers=auth(forged))
    assert r.status_code == 401


def test_never_uploaded_or_wrong_bytes_shard_is_refused_and_nothing_changes(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    first, _ = publish(reg, token, DS, ACME, {"2023": part("2023")})
    index_before = (store_root / "index.json").read_bytes()
    # Never uploaded.
    parts = {"2023": part("2023"), "2024": part("2024")}
    m = manifest(DS, parts, parent=first.publish_id)
    r = reg.post(f"/v1/datasets/{DS}/commit", json=commit_body(m, DS, ACME), headers=auth(token))
    assert r.status_code == 422, r.text
    assert "was never uploaded" in r.json()["message"]
    assert r.json()["details"]["field"] == "manifest.shards[1]"
    # Other bytes under the right key (storage that does not check what is PUT there).
    key = store_root / "datasets" / DS / m.shards[1].path
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(part("2024", "tampered")[: m.shards[1].bytes].ljust(m.shards[1].bytes, b"x"))
    r = reg.post(f"/v1/datasets/{DS}/commit", json=commit_body(m, DS, ACME), headers=auth(token))
    assert r.status_code == 422, r.text
    assert "other bytes than announced" in r.json()["message"]
    key.write_bytes(b"short")
    r = reg.post(f"/v1/datasets/{DS}/commit", json=commit_body(m, DS, ACME), headers=auth(token))
    assert r.status_code == 422 and "holds 5 bytes" in r.json()["message"]
    assert _live(store_root).publish_id == first.publish_id  # type: ignore[union-attr]
    assert (store_root / "index.json").read_bytes() == index_before
    assert len(reg.get(f"/v1/datasets/{DS}/history").json()["publishes"]) == 1


def test_local_upload_url_binds_key_size_bytes_and_expiry(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    data = part("2024")
    sha = hashlib.sha256(data).hexdigest()
    r = reg.post(
        f"/v1/datasets/{DS}/uploads",
        json={"shards": [{"sha256": sha, "bytes": len(data)}]},
        headers=auth(token),
    )
    url = r.json()["uploads"][0]["url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    target = store_root / "datasets" / DS / "parts" / f"{sha}.parquet"
    # Other bytes of the same size: refused, nothing stored.
    other = data[:-1] + b"!"
    bad = reg.put(path, content=other)
    assert bad.status_code == 422 and "not the shard this URL is for" in bad.json()["message"]
    assert not target.exists() and not list(target.parent.glob(".tmp-*"))
    # A longer body: refused.
    assert reg.put(path, content=data + b"x").status_code == 422
    # Tampered signature, size or key: 403.
    assert reg.put(path.replace("signature=", "signature=0"), content=data).status_code == 403
    assert (
        reg.put(path.replace(f"bytes={len(data)}", "bytes=5"), content=data[:5]).status_code == 403
    )
    other_key = path.replace(sha, hashlib.sha256(b"x").hexdigest())
    assert reg.put(other_key, content=b"x").status_code == 403
    # The right bytes: stored, with the shard's hash as ETag.
    ok = reg.put(path, content=data)
    assert ok.status_code == 200 and ok.headers["etag"] == f'"{sha}"'
    assert target.read_bytes() == data


def test_shard_size_cap(pub_settings: Settings, make_client: Any, issuer: Issuer) -> None:
    from tests.registry.conftest import with_tier

    client = make_client(with_tier(pub_settings, "free", max_shard_bytes=100))
    token = exchange(client, issuer, ACME)
    r = client.post(
        f"/v1/datasets/{DS}/uploads",
        json={"shards": [{"sha256": "a" * 64, "bytes": 101}]},
        headers=auth(token),
    )
    assert r.status_code == 422
    assert "outside 1..100" in r.json()["message"]
    assert r.json()["details"]["field"] == "shards[0].bytes"


@pytest.mark.parametrize(
    "body",
    [
        {"shards": [{"sha256": "A" * 64, "bytes": 1}]},
        {"shards": [{"sha256": "../x", "bytes": 1}]},
        {"shards": [{"sha256": "a" * 64, "bytes": 0}]},
        {"shards": "x"},
        {},
    ],
)
def test_bad_upload_requests_are_4xx(reg: Any, issuer: Issuer, body: Any) -> None:
    token = exchange(reg, issuer, ACME)
    r = reg.post(f"/v1/datasets/{DS}/uploads", json=body, headers=auth(token))
    assert 400 <= r.status_code < 500, r.text


def test_failure_runs_are_recorded_with_their_class_and_show_in_health(
    reg: Any, issuer: Issuer
) -> None:
    token = exchange(reg, issuer, ACME)
    publish(reg, token, DS, ACME, {"2023": part("2023")})
    run = {
        "status": "failure",
        "error_class": "network",
        "message": "GET upstream: 503 after 3 attempts",
        "started_at": "2030-01-01T00:00:00Z",
        "finished_at": "2030-01-01T00:01:00Z",
    }
    r = reg.post(f"/v1/datasets/{DS}/runs", json=run, headers=auth(token))
    assert r.status_code == 201, r.text
    assert r.json()["provenance"]["verified_by"] == "github-oidc"
    health = reg.get(f"/v1/datasets/{DS}").json()["health"]
    assert health["status"] == "failing"
    assert health["last_failure_class"] == "network"
    assert health["recent"] == ["failure", "success"]
    bad = {**run, "error_class": None}
    assert reg.post(f"/v1/datasets/{DS}/runs", json=bad, headers=auth(token)).status_code == 422
    bad = {**run, "error_class": "cosmic-rays"}
    assert reg.post(f"/v1/datasets/{DS}/runs", json=bad, headers=auth(token)).status_code == 400


def test_two_concurrent_commits_on_one_parent_one_wins(
    pub_settings: Settings, issuer: Issuer, store_root: Path
) -> None:
    async def go() -> tuple[list[int], Any, Any]:
        async with AsyncTestClient(create_app(pub_settings)) as client:
            r = await client.post("/v1/auth/github-oidc", json={"token": issuer.token(ACME)})
            token = r.json()["token"]
            other = await client.post(
                "/v1/auth/github-oidc", json={"token": issuer.token(Repo("acme/other", id="7"))}
            )
            other_token = other.json()["token"]
            bodies = []
            for salt in ("a", "b"):
                parts = {"2023": part("2023", salt)}
                data = parts["2023"]
                sha = hashlib.sha256(data).hexdigest()
                up = await client.post(
                    f"/v1/datasets/{DS}/uploads",
                    json={"shards": [{"sha256": sha, "bytes": len(data)}]},
                    headers=auth(token),
                )
                url = up.json()["uploads"][0]["url"]
                await client.put("/" + url.split("://", 1)[1].split("/", 1)[1], content=data)
                bodies.append(commit_body(manifest(DS, parts), DS, ACME))
            # A commit of another dataset at the same moment: index.json must keep both.
            other_ds = "acme/other-set"
            oparts = {"2020": part("2020", "o")}
            od = oparts["2020"]
            up = await client.post(
                f"/v1/datasets/{other_ds}/uploads",
                json={"shards": [{"sha256": hashlib.sha256(od).hexdigest(), "bytes": len(od)}]},
                headers=auth(other_token),
            )
            url = up.json()["uploads"][0]["url"]
            await client.put("/" + url.split("://", 1)[1].split("/", 1)[1], content=od)
            other_body = commit_body(manifest(other_ds, oparts), other_ds, Repo("acme/other"))
            replies = await asyncio.gather(
                *(
                    client.post(f"/v1/datasets/{DS}/commit", json=b, headers=auth(token))
                    for b in bodies
                ),
                client.post(
                    f"/v1/datasets/{other_ds}/commit", json=other_body, headers=auth(other_token)
                ),
            )
            detail = (await client.get(f"/v1/datasets/{DS}")).json()
            return [r.status_code for r in replies], replies, detail

    statuses, replies, detail = asyncio.run(go())
    assert sorted(statuses[:2]) == [200, 409], [r.text for r in replies]
    assert statuses[2] == 200, replies[2].text
    winner = replies[statuses.index(200)].json()["publish_id"]
    loser = replies[statuses.index(409)].json()
    assert loser["details"]["publish_id"] in (None, winner)
    assert _live(store_root).publish_id == winner  # type: ignore[union-attr]
    assert detail["manifest"]["publish_id"] == winner
    assert _index_ids(store_root) == ["acme/fx-rates", "acme/other-set"]


def test_namespace_grant_and_producer_tokens(
    pub_settings: Settings, make_client: Any, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from opendata_registry.cli.main import main

    client = make_client(pub_settings)
    env = {
        "OPENDATA_HOME": str(pub_settings.home),
        "OPENDATA_STORE": pub_settings.store,
        "OPENDATA_REGISTRY_DATABASE_URL": pub_settings.database_url,
        "OPENDATA_REGISTRY_DATABASE_SCHEMA": pub_settings.database_schema or "",
        "OPENDATA_REGISTRY_SECRET": pub_settings.secret.decode(),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    # acme's repo may not publish into "globex" until an admin grants it.
    token = exchange(client, issuer, ACME)
    _, r = publish(client, token, "globex/fx", ACME, {"2023": part("2023")})
    assert r.status_code == 403
    done = runner.invoke(main, ["namespaces", "grant", "globex", "--github-owner", "ACME"])
    assert done.exit_code == 0, done.output
    listed = runner.invoke(main, ["namespaces", "list", "--json"])
    assert json.loads(listed.output) == [{"namespace": "globex", "github_owner": "acme"}]
    _, r = publish(client, token, "globex/fx", ACME, {"2023": part("2023")})
    assert r.status_code == 200, r.text
    # A producer token for namespace "globex" cannot touch "acme".
    made = runner.invoke(
        main, ["tokens", "create", "--namespace", "globex", "--expires", "7d", "--json"]
    )
    assert made.exit_code == 0, made.output
    producer = json.loads(made.output)["token"]
    assert producer.startswith("od_prod_")
    _, r = publish(client, producer, DS, ACME, {"2023": part("2023")})
    assert r.status_code == 403 and "may publish only namespace globex" in r.json()["message"]
    live = client.get("/v1/datasets/globex/fx").json()["manifest"]["publish_id"]
    # globex/fx is pinned to acme/fx-rates: a token publishes it only once the operator allows.
    _m, r = publish(client, producer, "globex/fx", ACME, {"2023": part("2023", "p")}, parent=live)
    assert r.status_code == 403 and "--allow-tokens" in r.json()["hint"], r.text
    done = runner.invoke(main, ["datasets", "policy", "globex/fx", "--allow-tokens"])
    assert done.exit_code == 0, done.output
    _m, r = publish(client, producer, "globex/fx", ACME, {"2023": part("2023", "p")}, parent=live)
    assert r.status_code == 200, r.text
    # A producer token vouches for nothing: no repository, commit or run in the provenance.
    assert r.json()["provenance"]["verified_by"] is None
    assert r.json()["provenance"]["repo"] is None
    # Revoked: refused on its next request.
    ident = json.loads(made.output)["id"]
    assert runner.invoke(main, ["tokens", "revoke", str(ident)]).exit_code == 0
    r = client.post(
        "/v1/datasets/globex/fx/uploads",
        json={"shards": [{"sha256": "a" * 64, "bytes": 1}]},
        headers=auth(producer),
    )
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    listing = json.loads(runner.invoke(main, ["tokens", "list", "--json"]).output)
    assert listing[0]["revoked_at"] is not None and "token" not in listing[0]


def test_workflow_and_ref_policy(
    pub_settings: Settings, make_client: Any, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from opendata_registry.cli.main import main

    client = make_client(pub_settings)
    token = exchange(client, issuer, ACME)
    _first, _ = publish(client, token, DS, ACME, {"2023": part("2023")})
    for k, v in {
        "OPENDATA_HOME": str(pub_settings.home),
        "OPENDATA_REGISTRY_DATABASE_URL": pub_settings.database_url,
        "OPENDATA_REGISTRY_DATABASE_SCHEMA": pub_settings.database_schema or "",
    }.items():
        monkeypatch.setenv(k, v)
    done = CliRunner().invoke(
        main,
        [
            "datasets",
            "policy",
            DS,
            "--workflow",
            "acme/fx-rates/.github/workflows/release.yml",
            "--ref",
            "refs/heads/main",
        ],
    )
    assert done.exit_code == 0, done.output
    r = client.post(
        f"/v1/datasets/{DS}/uploads",
        json={"shards": [{"sha256": "a" * 64, "bytes": 1}]},
        headers=auth(token),
    )
    assert r.status_code == 403 and "only the workflow" in r.json()["message"]
    wf = "acme/fx-rates/.github/workflows/release.yml@refs/heads/dev"
    dev = exchange(client, issuer, ACME, job_workflow_ref=wf, ref="refs/heads/dev")
    r = client.post(
        f"/v1/datasets/{DS}/uploads",
        json={"shards": [{"sha256": "a" * 64, "bytes": 1}]},
        headers=auth(dev),
    )
    assert r.status_code == 403 and "only refs/heads/main" in r.json()["message"]


# -- S3 (moto) -------------------------------------------------------------------------------


def test_s3_upload_urls_are_presigned_puts_inside_the_dataset(
    pub_settings: Settings,
    make_client: Any,
    issuer: Issuer,
    s3_bucket: tuple[str, Any],
    moto_endpoint: str,
) -> None:
    from urllib.parse import parse_qs, urlsplit

    import httpx

    name, _ = s3_bucket
    settings = replace(
        pub_settings, store=f"s3://{name}", aws_endpoint_url=moto_endpoint, aws_region="us-east-1"
    )
    client = make_client(settings)
    token = exchange(client, issuer, ACME)
    parts = {"2023": part("2023"), "2024": part("2024")}
    shards = [{"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for d in parts.values()]
    r = client.post(f"/v1/datasets/{DS}/uploads", json={"shards": shards}, headers=auth(token))
    assert r.status_code == 200, r.text
    for item, data in zip(r.json()["uploads"], parts.values(), strict=True):
        url = urlsplit(item["url"])
        query = parse_qs(url.query)
        assert url.path == f"/{name}/datasets/{DS}/parts/{item['sha256']}.parquet"
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert 0 < int(query["X-Amz-Expires"][0]) <= 60 * 60
        assert "X-Amz-Signature" in query
        assert httpx.put(item["url"], content=data).status_code == 200
    m = manifest(DS, parts)
    r = client.post(f"/v1/datasets/{DS}/commit", json=commit_body(m, DS, ACME), headers=auth(token))
    assert r.status_code == 200, r.text
    assert client.get(f"/v1/datasets/{DS}").json()["manifest"]["publish_id"] == m.publish_id
    # Another publish with a never-uploaded shard: refused on S3 too.
    m2 = manifest(DS, {"2025": part("2025")}, parent=m.publish_id)
    r = client.post(
        f"/v1/datasets/{DS}/commit", json=commit_body(m2, DS, ACME), headers=auth(token)
    )
    assert r.status_code == 422 and "never uploaded" in r.json()["message"]


def test_s3_two_concurrent_commits_one_wins(
    pub_settings: Settings, issuer: Issuer, s3_bucket: tuple[str, Any], moto_endpoint: str
) -> None:
    import httpx

    name, _store = s3_bucket
    settings = replace(
        pub_settings, store=f"s3://{name}", aws_endpoint_url=moto_endpoint, aws_region="us-east-1"
    )

    async def go() -> list[int]:
        async with AsyncTestClient(create_app(settings)) as client:
            token = (
                await client.post("/v1/auth/github-oidc", json={"token": issuer.token(ACME)})
            ).json()["token"]
            bodies = []
            for salt in ("a", "b", "c"):
                data = part("2023", salt)
                sha = hashlib.sha256(data).hexdigest()
                up = await client.post(
                    f"/v1/datasets/{DS}/uploads",
                    json={"shards": [{"sha256": sha, "bytes": len(data)}]},
                    headers=auth(token),
                )
                httpx.put(up.json()["uploads"][0]["url"], content=data).raise_for_status()
                bodies.append(commit_body(manifest(DS, {"2023": data}), DS, ACME))
            replies = await asyncio.gather(
                *(
                    client.post(f"/v1/datasets/{DS}/commit", json=b, headers=auth(token))
                    for b in bodies
                )
            )
            return [r.status_code for r in replies]

    statuses = asyncio.run(go())
    assert sorted(statuses) == [200, 409, 409], statuses
