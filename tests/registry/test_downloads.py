"""``download``: exactly the overlapping shards, signed for the tier's expiry, never outside the
dataset's prefix — on the local folder store (the registry's HMAC URLs) and on S3 (obstore's
signing, against moto's server; moto does not check signatures or expiry, so what we sign is
asserted by parsing the URL)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest

from opendata_core.api import DownloadResponse
from opendata_core.layout import Layout
from opendata_core.problems import ProblemDetails
from opendata_registry.infra.settings import Settings

from .conftest import AWS, SECRET, Dataset, publish, shard_bytes, with_tier

DS = "ecb/fx"


def download(client: Any, body: dict[str, Any], ds: str = DS) -> DownloadResponse:
    response = client.post(f"/v1/datasets/{ds}/download", json=body)
    assert response.status_code == 200, response.text
    return msgspec.json.decode(response.content, type=DownloadResponse)


def problem(response: Any, status: int, code: str) -> ProblemDetails:
    assert response.status_code == status, response.text
    body = msgspec.json.decode(response.content, type=ProblemDetails)
    assert body.code == code
    return body


@pytest.fixture
def local_client(local_store: Any, settings: Settings, make_client: Any) -> Any:
    publish(local_store, Dataset(DS, years=[2022, 2023, 2024]))
    publish(local_store, Dataset("other/secret-data", years=[2024]))
    return make_client(with_tier(settings, "anonymous", url_expiry_minutes=7))


def path_of(url: str) -> str:
    return urlsplit(url).path


@pytest.mark.parametrize(
    ("body", "years"),
    [
        ({}, [2022, 2023, 2024]),
        ({"start": "2023"}, [2023, 2024]),
        ({"start": "2023-06-01", "end": "2023-07"}, [2023]),
        ({"end": "2022-12-31"}, [2022]),
        ({"columns": ["value"]}, [2022, 2023, 2024]),
    ],
)
def test_exactly_the_overlapping_shards_are_signed(
    local_client: Any, body: dict[str, Any], years: list[int]
) -> None:
    result = download(local_client, body)
    assert [s.partition for s in result.shards] == [str(y) for y in years]
    assert result.manifest.dataset_id == DS
    assert len(result.manifest.shards) == 3  # the whole manifest, to verify against


def test_local_urls_bind_key_expiry_and_method(local_client: Any) -> None:
    before = datetime.now(UTC)
    result = download(local_client, {"start": "2024"})
    (shard,) = result.shards
    url = urlsplit(shard.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert set(query) == {"expires", "signature"}
    key = Layout().resolve(DS, shard.path)
    assert url.path == f"/files/{key}"  # the exact key, inside the dataset's prefix
    assert key.startswith("datasets/ecb/fx/parts/")
    expires = datetime.fromtimestamp(int(query["expires"]), UTC)
    assert expires == result.expires_at
    assert timedelta(minutes=7) - timedelta(seconds=2) <= expires - before <= timedelta(minutes=7)

    ok = local_client.get(shard.url)
    assert ok.status_code == 200
    assert hashlib.sha256(ok.content).hexdigest() == shard.sha256
    assert ok.headers["etag"] == f'"{shard.sha256}"'
    # The same signature for another key, a later expiry or another method is refused.
    other = publish_key = Layout().resolve(DS, result.manifest.shards[0].path)
    assert publish_key != key
    tampered = [
        shard.url.replace(key, other),
        shard.url.replace(f"expires={query['expires']}", f"expires={int(query['expires']) + 60}"),
        shard.url.replace(query["signature"], "0" * 64),
        shard.url.split("?")[0],
    ]
    for bad in tampered:
        body = problem(local_client.get(bad), 403, "permission_denied")
        assert "not valid" in body.message
    assert local_client.post(shard.url).status_code == 405
    assert local_client.head(shard.url).status_code in (403, 405)


def test_expired_local_url_is_refused(local_client: Any, store_root: Any) -> None:
    from opendata_registry.infra.signing import UrlSigner

    key = Layout().resolve(DS, download(local_client, {}).shards[0].path)
    expired = UrlSigner(SECRET).sign("", key, expires=int(time.time()) - 1)
    problem(local_client.get(expired), 403, "permission_denied")
    fresh = UrlSigner(SECRET).sign("", key, expires=int(time.time()) + 60)
    assert local_client.get(fresh).status_code == 200


def test_range_requests(local_client: Any) -> None:
    shard = download(local_client, {"start": "2024"}).shards[0]
    data = shard_bytes(DS, 2024)
    part = local_client.get(shard.url, headers={"Range": "bytes=4-11"})
    assert part.status_code == 206
    assert part.content == data[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{len(data)}"
    assert "content-encoding" not in part.headers
    tail = local_client.get(shard.url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == data[-5:]
    open_end = local_client.get(shard.url, headers={"Range": f"bytes={len(data) - 3}-"})
    assert open_end.content == data[-3:]
    body = problem(
        local_client.get(shard.url, headers={"Range": f"bytes={len(data)}-"}), 416, "bad_request"
    )
    assert str(len(data)) in body.message
    # Several ranges are answered with the whole object (allowed by RFC 9110).
    assert local_client.get(shard.url, headers={"Range": "bytes=0-1,4-5"}).content == data
    etag = part.headers["etag"]
    assert local_client.get(shard.url, headers={"If-None-Match": etag}).status_code == 304


def test_signed_keys_never_leave_the_dataset(
    local_store: Any, settings: Settings, make_client: Any
) -> None:
    from opendata_registry.infra.signing import UrlSigner

    publish(local_store, Dataset("evil/escape", shard_paths=["../../other/secret-data/x", "ok"]))
    publish(local_store, Dataset("other/secret-data", years=[2024]))
    client = make_client(settings)
    # Core's manifest check refuses paths outside parts/ when the manifest is decoded, so sync
    # never catalogues the hostile dataset and nothing can be signed for it.
    problem(client.post("/v1/datasets/evil/escape/download", json={}), 404, "dataset_not_found")
    # Even a validly signed URL is only served inside datasets/ and inside the folder.
    signer = UrlSigner(SECRET)
    for key in ["registry/secret", "../outside", "datasets/../../etc/passwd", "index.json"]:
        response = client.get(signer.sign("", key, expires=int(time.time()) + 60))
        assert response.status_code == 404, key


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"start": "2030"}, 422, "range_outside_coverage"),
        ({"columns": ["nope"]}, 422, "column_not_found"),
        ({"start": "yesterday"}, 400, "bad_request"),
        ({"version": "zzz"}, 400, "bad_request"),
    ],
)
def test_download_errors(local_client: Any, body: dict[str, Any], status: int, code: str) -> None:
    problem(local_client.post(f"/v1/datasets/{DS}/download", json=body), status, code)


def test_older_versions_can_be_downloaded(
    local_store: Any, settings: Settings, make_client: Any
) -> None:
    first = publish(local_store, Dataset(DS, years=[2022]))
    make_client(settings).__exit__(None, None, None)  # sync sees the first publish
    publish(local_store, Dataset(DS, years=[2023], parent_publish_id=first.publish_id))
    client = make_client(settings)
    assert [s.partition for s in download(client, {}).shards] == ["2023"]
    old = download(client, {"version": first.publish_id[:8]})
    assert [s.partition for s in old.shards] == ["2022"]
    assert old.manifest.publish_id == first.publish_id


def test_s3_urls_are_signed_by_obstore_for_the_exact_key(
    s3_bucket: tuple[str, Any], moto_endpoint: str, settings: Settings, make_client: Any
) -> None:
    bucket, store = s3_bucket
    layout = Layout("pre/fix")
    publish(store, Dataset(DS, years=[2023, 2024]), layout)
    publish(store, Dataset("other/secret-data", years=[2024]), layout)
    s3_settings = replace(
        with_tier(settings, "anonymous", url_expiry_minutes=9),
        store=f"s3://{bucket}/pre/fix",
        aws_endpoint_url=moto_endpoint,
        aws_region="us-east-1",
    )
    client = make_client(s3_settings)
    response = client.post(f"/v1/datasets/{DS}/download", json={"start": "2024"})
    assert AWS["AWS_SECRET_ACCESS_KEY"] not in response.text
    result = msgspec.json.decode(response.content, type=DownloadResponse)
    (shard,) = result.shards
    url = urlsplit(shard.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}" == moto_endpoint
    assert url.path == f"/{bucket}/pre/fix/datasets/ecb/fx/{shard.path}"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == str(9 * 60)
    assert query["X-Amz-Credential"].startswith(AWS["AWS_ACCESS_KEY_ID"] + "/")
    assert query["X-Amz-SignedHeaders"] == "host"  # a GET of exactly this URL
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(signed_at + timedelta(minutes=9) - result.expires_at) <= timedelta(seconds=2)
    # The URL works, with ranges (moto serves it; it does not check the signature).
    whole = httpx.get(shard.url)
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).hexdigest() == shard.sha256
    part = httpx.get(shard.url, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == whole.content[:4]
    # index.json was written to the bucket, under the prefix.
    import obstore

    assert b"ecb/fx" in bytes(obstore.get(store, "pre/fix/index.json").bytes())
