"""Other engines read what od.urls() lists; pre-signed URLs are well formed."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import httpx
import pandas as pd

import opendata as od

from .test_push_load import daily


def test_duckdb_reads_the_listed_shards(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The DuckDB example of docs/consumer-guide.md, on the local store."""
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "store"))
    df = daily(("USD", "JPY"))
    od.push(df, "ecb/fx", time_column="date", partition="year")
    files = [urlparse(u.url).path for u in od.urls("ecb/fx", start="2024-01-01")]
    assert len(files) == 1
    got = duckdb.sql(
        f"SELECT symbol, count(*) AS n FROM read_parquet({files}) "
        "WHERE date >= DATE '2024-01-01' GROUP BY symbol ORDER BY symbol"
    ).fetchall()
    assert got == [("JPY", 366), ("USD", 366)]


def test_presigned_urls_from_s3(s3_client: od.Client) -> None:
    s3_client.push(daily(("A",)), "me/prices", time_column="date", partition="year")
    (url,) = s3_client.urls(
        "me/prices", start="2024-06-01", end="2024-06-30", signed=True, expires=timedelta(minutes=5)
    )
    parsed = urlparse(url.url)
    query = parse_qs(parsed.query)
    # moto does not check signatures or expiry: check what we sign, then that the bytes are right.
    assert parsed.scheme == "http"
    assert parsed.path.endswith(f"/datasets/me/prices/parts/{url.sha256}.parquet")
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "X-Amz-Signature" in query
    body = httpx.get(url.url).content
    import hashlib

    assert hashlib.sha256(body).hexdigest() == url.sha256
    unsigned = s3_client.urls("me/prices", start="2024-06-01", end="2024-06-30")[0]
    assert unsigned.url.startswith(f"{s3_client.store.url}/datasets/me/prices/parts/")


def test_local_store_cannot_sign(tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = od.Client(store=tmp_path)
    client.push(
        pd.DataFrame({"date": [dt.date(2024, 1, 1)], "v": [1]}),
        "me/x",
        time_column="date",
        partition="year",
    )
    import pytest

    with pytest.raises(NotImplementedError, match="cannot sign URLs"):
        client.urls("me/x", signed=True)


def test_local_urls_are_verified_cache_files_duckdb_reads(s3_client: od.Client) -> None:
    """``urls(local=True)``: DuckDB reads checked local copies, without S3 credentials."""
    import hashlib

    import pytest

    from .conftest import record_gets

    s3_client.push(daily(("USD", "JPY")), "ecb/fx", time_column="date", partition="year")
    (shard,) = s3_client.urls("ecb/fx", start="2024-01-01", local=True)
    path = Path(urlparse(shard.url).path)
    assert shard.url.startswith("file://")
    assert path.parent.parent == s3_client.cache.path.resolve() / ".pins"  # pinned: kept
    assert hashlib.sha256(path.read_bytes()).hexdigest() == shard.sha256
    got = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{path}') WHERE date >= DATE '2024-01-01'"
    ).fetchall()
    assert got == [(2 * 366,)]

    fetched = record_gets(s3_client)
    assert s3_client.urls("ecb/fx", start="2024-01-01", local=True)[0].url == shard.url
    assert not [k for k in fetched if k.endswith(".parquet")]  # a hit: no shard request
    path.write_bytes(b"x" * path.stat().st_size)  # damaged on disk: dropped and fetched again
    s3_client.urls("ecb/fx", start="2024-01-01", local=True)
    assert [k for k in fetched if k.endswith(".parquet")]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == shard.sha256

    with pytest.raises(ValueError, match="signed=True and local=True exclude each other"):
        s3_client.urls("ecb/fx", signed=True, local=True)
