"""Publishing helpers: publish tokens, shards, manifests, uploads and commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from opendata_core.documents import Field, Manifest, Shard, schema_hash
from opendata_core.metadata import DatasetMetadata, Source
from tests.registry.conftest import SCHEMA
from tests.registry.publishing.issuer import Issuer, Repo


def exchange(client: Any, issuer: Issuer, repo: Repo | None = None, **claims: Any) -> str:
    """A publish token for a fresh OIDC token of ``repo``."""
    r = client.post("/v1/auth/github-oidc", json={"token": issuer.token(repo, **claims)})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def part(label: str, salt: str = "") -> bytes:
    """A real 10-row Parquet shard, different for every (label, salt): the commit decodes it."""
    import io
    from datetime import date, timedelta

    import pyarrow as pa
    import pyarrow.parquet as pq

    seed = int.from_bytes(hashlib.sha256(f"{label} {salt}".encode()).digest()[:4], "big")
    table = pa.table(
        {
            "date": pa.array([date(2024, 1, 1) + timedelta(days=i) for i in range(10)]),
            "value": pa.array([float(seed + i) for i in range(10)]),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def shard_of(data: bytes, label: str) -> Shard:
    digest = hashlib.sha256(data).hexdigest()
    return Shard(
        path=f"parts/{digest}.parquet",
        sha256=digest,
        rows=10,
        bytes=len(data),
        partition=label,
        min=f"{label}-01-01",
        max=f"{label}-12-31",
    )


def manifest(
    ds: str,
    parts: dict[str, bytes],
    *,
    parent: str | None = None,
    schema: list[Field] | None = None,
) -> Manifest:
    """A manifest over ``parts`` (label → bytes)."""
    schema = schema or list(SCHEMA)
    shards = [shard_of(data, label) for label, data in sorted(parts.items())]
    return Manifest(
        dataset_id=ds,
        publish_id=f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}",
        published_at=datetime.now(UTC),
        parent_publish_id=parent,
        time_column="date",
        partition="year",
        schema=schema,
        schema_hash=schema_hash(schema),
        row_count=sum(s.rows for s in shards),
        bytes=sum(s.bytes for s in shards),
        min_time=shards[0].min if shards else None,
        max_time=shards[-1].max if shards else None,
        shards=shards,
    )


def metadata(ds: str, repo: Repo) -> dict[str, Any]:
    import msgspec

    meta = DatasetMetadata(
        id=ds,
        title="FX rates",
        description="Daily reference rates.",
        license="CC-BY-4.0",
        repo=repo.url,
        source=Source(provider="A central bank"),
        frequency="daily",
        time_column="date",
    )
    return msgspec.to_builtins(meta)  # type: ignore[no-any-return]


def upload(client: Any, token: str, ds: str, parts: dict[str, bytes]) -> dict[str, Any]:
    """Ask for upload URLs and PUT every shard the registry asks for (local store URLs)."""
    shards = [{"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for d in parts.values()]
    r = client.post(f"/v1/datasets/{ds}/uploads", json={"shards": shards}, headers=auth(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    by_sha = {hashlib.sha256(d).hexdigest(): d for d in parts.values()}
    for item in body["uploads"]:
        url = item["url"]
        path = url.split("://", 1)[1].split("/", 1)[1]
        put = client.put("/" + path, content=by_sha[item["sha256"]], headers=item["headers"])
        assert put.status_code == 200, put.text
    return body


def commit_body(m: Manifest, ds: str, repo: Repo, **extra: Any) -> dict[str, Any]:
    import msgspec

    return {
        "parent_publish_id": m.parent_publish_id,
        "manifest": msgspec.to_builtins(m),
        "metadata": metadata(ds, repo),
        "preview": [{"date": "2024-01-01", "value": 1.0}],
        **extra,
    }


def publish(
    client: Any,
    token: str,
    ds: str,
    repo: Repo,
    parts: dict[str, bytes],
    *,
    parent: str | None = None,
    schema: list[Field] | None = None,
    **extra: Any,
) -> tuple[Manifest, Any]:
    """Upload and commit; returns the manifest sent and the commit's (or refused upload's) reply."""
    m = manifest(ds, parts, parent=parent, schema=schema)
    shards = [{"sha256": s.sha256, "bytes": s.bytes} for s in m.shards]
    r = client.post(f"/v1/datasets/{ds}/uploads", json={"shards": shards}, headers=auth(token))
    if r.status_code != 200:
        return m, r
    upload(client, token, ds, parts)
    r = client.post(
        f"/v1/datasets/{ds}/commit", json=commit_body(m, ds, repo, **extra), headers=auth(token)
    )
    return m, r
