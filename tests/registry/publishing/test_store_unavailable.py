"""A store that does not answer: the commit (the path that reads and writes the store on a
request) answers 503 ``store_unavailable`` with ``Retry-After`` and a generic message; the
store's endpoint, bucket and prefix and the exception go to the log only."""

from __future__ import annotations

from typing import Any

import pytest

from opendata_registry.infra.settings import Settings
from tests.registry.conftest import Records, dead_s3
from tests.registry.publishing.issuer import Issuer, Repo
from tests.registry.publishing.pubkit import auth, commit_body, exchange, manifest, part


def test_commit_to_a_dead_store_is_503_without_store_internals(
    pub_settings: Settings,
    make_client: Any,
    issuer: Issuer,
    monkeypatch: pytest.MonkeyPatch,
    registry_log: Records,
) -> None:
    with dead_s3(pub_settings, monkeypatch) as (dead, port):
        client = make_client(dead)
        repo = Repo()
        token = exchange(client, issuer, repo)
        ds = f"{repo.owner}/fx-rates"
        m = manifest(ds, {"2024": part("2024")})
        reply = client.post(
            f"/v1/datasets/{ds}/commit", json=commit_body(m, ds, repo), headers=auth(token)
        )
        assert reply.status_code == 503, reply.text
        body = reply.json()
        assert body["code"] == "store_unavailable"
        assert body["message"] == "the registry's store is unavailable; try again shortly"
        assert not body.get("details")
        assert int(reply.headers["retry-after"]) >= 1
        internals = ("internal-bucket", "internal-prefix", str(port), "127.0.0.1", "s3://")
        for text in internals:
            assert text not in reply.text
        # The operator's log has the detail.
        assert registry_log.count("503 on POST", "internal-bucket", str(port)) == 1
