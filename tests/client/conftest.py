"""Stores for the client tests: the local folder store and moto's S3 server over real HTTP."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

import opendata as od
from opendata._stores import S3CompatibleStore

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def _no_recent_bytes() -> None:
    """Each test starts without the bytes an earlier one verified (the engine tests publish the
    same seeded data, so the same sha256s, and damage it)."""
    from opendata._verified_file import _RECENT

    _RECENT.clear()


def new_bucket(endpoint: str) -> str:
    name = f"od-{secrets.token_hex(6)}"
    httpx.put(f"{endpoint}/{name}").raise_for_status()
    return name


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint


@pytest.fixture(params=["local", "s3"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> od.Client:
    """A client on a fresh store: every behaviour is tested on both kinds."""
    if request.param == "local":
        return od.Client(store=tmp_path / "store")
    endpoint = request.getfixturevalue("s3_env")
    bucket = new_bucket(endpoint)
    return od.Client(store=f"s3://{bucket}/pre/fix")


@pytest.fixture
def s3_client(s3_env: str) -> od.Client:
    return od.Client(store=f"s3://{new_bucket(s3_env)}")


def s3_store(endpoint: str, bucket: str, **kwargs: object) -> S3CompatibleStore:
    return S3CompatibleStore(bucket, endpoint=endpoint, **kwargs)  # type: ignore[arg-type]


def record_gets(client: od.Client) -> list[str]:
    """Make ``client.store.get`` append every key it is asked for to the returned list."""
    fetched: list[str] = []
    original = client.store.get

    def recording_get(key: str, **kw):  # type: ignore[no-untyped-def]
        fetched.append(key)
        return original(key, **kw)

    client.store.get = recording_get  # type: ignore[method-assign]
    return fetched
