"""A real registry process (granian) configured from the environment, on moto's S3 server,
trusting the local OIDC issuer: a GitHub-like job exchanges its token, uploads straight to the
bucket with the pre-signed URLs, commits, and a failed run shows in health. No storage key is
given to the "producer" side: it only ever sees the registry's URLs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from tests.registry.conftest import AWS
from tests.registry.publishing.issuer import AUDIENCE, Issuer, Repo
from tests.registry.publishing.pubkit import auth, commit_body, manifest, part
from tests.registry.test_live import start, stop

DS = "acme/fx-rates"


@pytest.fixture
def s3_registry(
    tmp_path: Path, issuer: Issuer, s3_bucket: tuple[str, Any], moto_endpoint: str
) -> Iterator[str]:
    """A registry process on a fresh moto bucket, trusting the local issuer: its URL."""
    name, _ = s3_bucket
    proc, url = start(
        tmp_path / "home",
        {
            **AWS,
            "OPENDATA_STORE": f"s3://{name}",
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_REGION": "us-east-1",
            "OPENDATA_REGISTRY_OIDC_ISSUER": issuer.url,
            "OPENDATA_REGISTRY_OIDC_AUDIENCE": AUDIENCE,
        },
    )
    try:
        yield url
    finally:
        log = stop(proc)
    assert "Traceback" not in log, log[-4000:]


def test_publish_through_a_registry_process_on_s3(
    s3_registry: str, issuer: Issuer, s3_bucket: tuple[str, Any], moto_endpoint: str
) -> None:
    name, bucket = s3_bucket
    url = s3_registry
    with httpx.Client(base_url=url, timeout=30) as http:
        config = http.get("/v1/auth/github-oidc").json()
        assert config == {"issuer": issuer.url, "audience": AUDIENCE}
        oidc = issuer.token(Repo(), aud=config["audience"])
        token = http.post("/v1/auth/github-oidc", json={"token": oidc}).json()["token"]
        # The same OIDC token again: single use, also across the process's workers.
        again = http.post("/v1/auth/github-oidc", json={"token": oidc})
        assert again.status_code == 401
        parts = {"2023": part("2023"), "2024": part("2024")}
        shards = [
            {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for d in parts.values()
        ]
        plan = http.post(
            f"/v1/datasets/{DS}/uploads", json={"shards": shards}, headers=auth(token)
        ).json()
        assert len(plan["uploads"]) == 2 and plan["current_publish_id"] is None
        by_sha = {hashlib.sha256(d).hexdigest(): d for d in parts.values()}
        for item in plan["uploads"]:
            assert item["url"].startswith(f"{moto_endpoint}/{name}/datasets/{DS}/parts/")
            httpx.put(item["url"], content=by_sha[item["sha256"]]).raise_for_status()
        m = manifest(DS, parts)
        done = http.post(
            f"/v1/datasets/{DS}/commit", json=commit_body(m, DS, Repo()), headers=auth(token)
        )
        assert done.status_code == 200, done.text
        assert done.json()["registered"] is True
        run = {
            "status": "failure",
            "error_class": "parse",
            "message": "upstream changed its CSV header",
            "started_at": "2031-01-01T00:00:00Z",
            "finished_at": "2031-01-01T00:00:30Z",
        }
        posted = http.post(f"/v1/datasets/{DS}/runs", json=run, headers=auth(token))
        assert posted.status_code == 201, posted.text
        detail = http.get(f"/v1/datasets/{DS}").json()
        assert detail["manifest"]["publish_id"] == m.publish_id
        assert detail["manifest"]["provenance"]["verified_by"] == "github-oidc"
        assert detail["health"]["status"] == "failing"
        assert detail["health"]["last_failure_class"] == "parse"
        import obstore

        index = msgspec.json.decode(bytes(obstore.get(bucket, "index.json").bytes()))
        assert [e["id"] for e in index["datasets"]] == [DS]


def keys(bucket: Any) -> dict[str, str]:
    """Every object in the bucket: key → its ETag."""
    import obstore

    return {str(o["path"]): str(o["e_tag"]) for batch in obstore.list(bucket) for o in batch}


def test_a_shard_put_with_other_bytes_is_refused_at_commit_and_nothing_changes(
    s3_registry: str, issuer: Issuer, s3_bucket: tuple[str, Any]
) -> None:
    """S3 takes any bytes at a pre-signed PUT URL (obstore cannot sign x-amz-checksum-sha256
    into it), so the commit reads each new shard back and hashes it before the manifest."""
    _, bucket = s3_bucket
    with httpx.Client(base_url=s3_registry, timeout=30) as http:
        token = http.post("/v1/auth/github-oidc", json={"token": issuer.token(Repo())}).json()
        token = token["token"]
        first = {"2023": part("2023")}
        m1 = manifest(DS, first)
        plan = http.post(
            f"/v1/datasets/{DS}/uploads",
            json={"shards": [{"sha256": m1.shards[0].sha256, "bytes": m1.shards[0].bytes}]},
            headers=auth(token),
        ).json()
        (item,) = plan["uploads"]
        httpx.put(item["url"], content=first["2023"], headers=item["headers"]).raise_for_status()
        done = http.post(
            f"/v1/datasets/{DS}/commit", json=commit_body(m1, DS, Repo()), headers=auth(token)
        )
        assert done.status_code == 200, done.text
        before = keys(bucket)
        detail_before = http.get(f"/v1/datasets/{DS}").json()

        parts = {"2023": part("2023"), "2024": part("2024")}
        m2 = manifest(DS, parts, parent=m1.publish_id)
        new = m2.shards[1]
        plan = http.post(
            f"/v1/datasets/{DS}/uploads",
            json={"shards": [{"sha256": s.sha256, "bytes": s.bytes} for s in m2.shards]},
            headers=auth(token),
        ).json()
        assert [u["sha256"] for u in plan["uploads"]] == [new.sha256]  # 2023 is reusable
        (item,) = plan["uploads"]
        # Never uploaded: refused.
        body = commit_body(m2, DS, Repo())
        r = http.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
        assert r.status_code == 422 and "was never uploaded" in r.json()["message"], r.text
        # Other bytes of the announced size at the signed URL: the store takes them...
        other = part("2024", "tampered")[: new.bytes].ljust(new.bytes, b"x")
        assert hashlib.sha256(other).hexdigest() != new.sha256
        httpx.put(item["url"], content=other, headers=item["headers"]).raise_for_status()
        # ... the commit does not.
        r = http.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
        assert r.status_code == 422, r.text
        assert "other bytes than announced" in r.json()["message"]
        # Nothing changed: manifest, metadata, index, runs, history, the dataset's detail.
        after = keys(bucket)
        unchanged = {k: v for k, v in before.items() if after.get(k) == v}
        assert unchanged == before, set(before) ^ set(unchanged)
        assert set(after) - set(before) <= {f"datasets/{DS}/{new.path}"}
        assert http.get(f"/v1/datasets/{DS}").json() == detail_before
        # The right bytes: accepted.
        httpx.put(item["url"], content=parts["2024"], headers=item["headers"]).raise_for_status()
        r = http.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
        assert r.status_code == 200, r.text
        assert http.get(f"/v1/datasets/{DS}").json()["manifest"]["publish_id"] == m2.publish_id
