"""A real registry process (granian) configured from the environment, on moto's S3 server,
trusting the local OIDC issuer: a GitHub-like job exchanges its token, uploads straight to the
bucket with the pre-signed URLs, commits, and a failed run shows in health. No storage key is
given to the "producer" side: it only ever sees the registry's URLs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import msgspec

from tests.registry.conftest import AWS
from tests.registry.publishing.issuer import AUDIENCE, Issuer, Repo
from tests.registry.publishing.pubkit import auth, commit_body, manifest, part
from tests.registry.test_live import start, stop

DS = "acme/fx-rates"


def test_publish_through_a_registry_process_on_s3(
    tmp_path: Path, issuer: Issuer, s3_bucket: tuple[str, Any], moto_endpoint: str
) -> None:
    name, bucket = s3_bucket
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
    finally:
        log = stop(proc)
    assert "Traceback" not in log, log[-4000:]
