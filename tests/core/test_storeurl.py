"""The store URL grammar (pure parsing; opening a store is the client's and registry's job)."""

from __future__ import annotations

import pytest

from opendata_core.errors import OpenDataError
from opendata_core.storeurl import StoreUrl, parse_store_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/srv/data", StoreUrl("file", None, "", "/srv/data")),
        ("~/data", StoreUrl("file", None, "", "~/data")),
        ("relative/dir", StoreUrl("file", None, "", "relative/dir")),
        ("file:///srv/data", StoreUrl("file", None, "", "/srv/data")),
        ("file://localhost/srv/data", StoreUrl("file", None, "", "/srv/data")),
        ("C:\\data\\store", StoreUrl("file", None, "", "C:\\data\\store")),
        ("s3://my-bucket", StoreUrl("s3", "my-bucket", "", None)),
        ("s3://my-bucket/", StoreUrl("s3", "my-bucket", "", None)),
        ("s3://my-bucket/prod/v1/", StoreUrl("s3", "my-bucket", "prod/v1", None)),
        ("S3://my-bucket/p", StoreUrl("s3", "my-bucket", "p", None)),
        ("r2://data.bucket/x", StoreUrl("r2", "data.bucket", "x", None)),
    ],
)
def test_valid_urls(url: str, expected: StoreUrl) -> None:
    assert parse_store_url(url) == expected
    assert parse_store_url(url).is_local == (expected.scheme == "file")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "store URL is empty"),
        ("   ", "store URL is empty"),
        ("gs://bucket", "unknown store scheme 'gs'"),
        ("s3://", "has no bucket name"),
        ("s3:///prefix", "has no bucket name"),
        ("s3://ab", "bucket name 'ab' must be 3-63"),
        ("s3://My_Bucket", "bucket name 'My_Bucket' must be 3-63"),
        ("s3://bucket/p?region=eu", "has a query or fragment"),
        ("file://otherhost/data", "names the host 'otherhost'"),
    ],
)
def test_invalid_urls_name_the_problem(url: str, message: str) -> None:
    with pytest.raises(OpenDataError, match=message) as info:
        parse_store_url(url)
    assert info.value.hint


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIAEXAMPLE:s3cr3tValue@bucket/prefix",
        "r2://AKIAEXAMPLE:s3cr3tValue@bucket",
        "s3://s3cr3tValue@bucket",
        "https://AKIAEXAMPLE:s3cr3tValue@example.com/x",
    ],
)
def test_credentials_in_the_url_are_refused_without_being_echoed(url: str) -> None:
    with pytest.raises(OpenDataError) as info:
        parse_store_url(url)
    text = f"{info.value} {info.value.hint}"
    assert "credentials" in text
    assert "s3cr3tValue" not in text
    assert "AKIAEXAMPLE" not in text
