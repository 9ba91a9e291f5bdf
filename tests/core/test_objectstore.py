"""Core's one obstore configuration and error mapping (the client's S3 store and the registry's
bucket both use it). Real obstore stores: a folder, and an S3 endpoint where nothing listens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

pytest.importorskip("obstore")  # the opendata-core[obstore] extra; core's own run lacks it

import obstore
from obstore.store import LocalStore

from opendata_core.errors import OpenDataError, PermissionDenied, StoreUnavailable
from opendata_core.objectstore import (
    RETRY_CONFIG,
    s3_store,
    store_error,
    translated,
)
from opendata_core.store import NotFound, PreconditionFailed
from tests._processes import refused_port

if TYPE_CHECKING:
    from obstore.store import RetryConfig  # a type only (obstore's stubs)

FAST: RetryConfig = {**RETRY_CONFIG, "max_retries": 0, "retry_timeout": timedelta(seconds=2)}


def test_a_custom_endpoint_is_path_style_and_plain_http_is_allowed_for_it() -> None:
    store = s3_store("b", endpoint="http://127.0.0.1:9000", region="")
    # obstore reports the values back as text
    config: dict[str, object] = dict(store.config)
    options: dict[str, object] = dict(store.client_options or {})
    assert config["virtual_hosted_style_request"] == "false"
    assert config["region"] == "us-east-1"  # AWS_REGION="" is S3's default, not a panic
    assert options["allow_http"] == "true"
    assert options["timeout"] == "60s"
    assert dict(store.retry_config or {})["max_retries"] == RETRY_CONFIG["max_retries"]
    aws = s3_store("b", region="eu-west-1")
    assert "endpoint" not in aws.config and "allow_http" not in dict(aws.client_options or {})


def test_a_missing_key_and_a_lost_conditional_write(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    where = {"url": str(tmp_path), "endpoint": str(tmp_path)}
    with pytest.raises(NotFound), translated(key="nope.json", **where):
        obstore.get(store, "nope.json")
    obstore.put(store, "index.json", b"{}")
    with pytest.raises(PreconditionFailed), translated(key="index.json", **where):
        obstore.put(store, "index.json", b"{}", mode="create")


def test_an_endpoint_where_nothing_listens_is_unavailable_with_the_fix() -> None:
    with refused_port() as port:
        endpoint = f"http://127.0.0.1:{port}"
        store = s3_store(
            "b", endpoint=endpoint, access_key_id="k", secret_access_key="s", retry_config=FAST
        )
        with (
            pytest.raises(StoreUnavailable) as info,
            translated(url="s3://b", key="index.json", endpoint=endpoint, bucket="b"),
        ):
            obstore.get(store, "index.json")
    assert info.value.reason == "unreachable"
    assert f"cannot connect to the endpoint {endpoint} (nothing answers there)" in str(info.value)
    assert "AWS_ENDPOINT_URL" in (info.value.hint or "")


def test_only_obstore_failures_are_translated() -> None:
    where = {"url": "s3://b", "key": "k", "endpoint": "e", "bucket": "b"}
    assert store_error(ValueError("not a store error"), **where) is None
    ours = PermissionDenied("already one of ours")  # also a PermissionError: left alone
    assert store_error(ours, **where) is None
    refused = store_error(PermissionError("403 Forbidden"), **where)
    assert isinstance(refused, PermissionDenied)
    assert str(refused).startswith("s3://b (e) refused access to k: 403 Forbidden")
    assert "allowed to use the bucket 'b'" in (refused.hint or "")
    with pytest.raises(ValueError, match="not a store error"), translated(**where):
        raise ValueError("not a store error")
    assert issubclass(StoreUnavailable, OpenDataError)
