"""Registry mode end to end: a real ``opendata-registry serve`` process, real stores, real HTTP.

* The registry runs as the container image runs it (granian + ``create_app``) in a subprocess.
* S3: moto's server on 127.0.0.1 holds the bucket; today's client publishes straight to it,
  ``opendata-registry sync`` (a separate process) fills the catalogue, and ``od.load`` through
  ``OPENDATA_REGISTRY`` returns the same frame as a direct load. (moto does not check signatures
  or expiry, so these tests prove the path, not signature enforcement.)
* Embedded: the local folder store under ``OPENDATA_HOME`` and the registry serving its own
  HMAC-signed ``/files/`` URLs, which it does check.
* Expiry: the registry's URL lifetime is set per tier in whole minutes, too long to wait for in a
  test. An httpx transport wrapper in the client process therefore moves the first shard URL's
  ``expires`` one hour back; the real registry refuses it with 403, exactly as it refuses an
  expired one (the HMAC binds ``expires``), and the client must renew it with one new
  ``download`` call.
* Limits: a registry whose anonymous tier allows 3 requests a minute; the fourth is answered 429
  with a ``Retry-After`` far beyond the client's wait budget, so it is reported, not waited out
  (waiting out a short ``Retry-After`` is tested with injected answers in
  tests/client/test_registry_mode.py).

Every test starts its own registry with its own ``OPENDATA_HOME``: no order dependence.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

import opendata as od
from opendata._registry import RegistryTransport
from opendata_cli.main import cli
from opendata_core.errors import RateLimited
from opendata_core.metadata import DatasetMetadata, Source
from tests._processes import registry_env as _registry_env
from tests._processes import running_registry
from tests.client.conftest import CREDENTIALS, new_bucket
from tests.client.test_push_load import daily

BIN = Path(sys.executable).parent
DATASET = "me/prices"


def _sync(home: Path, **extra: str) -> str:
    result = subprocess.run(
        [str(BIN / "opendata-registry"), "sync"],
        env=_registry_env(home, **extra),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _metadata() -> DatasetMetadata:
    return DatasetMetadata(
        id=DATASET,
        title="Daily prices",
        description="Synthetic daily closing prices for two symbols.",
        license="CC-BY-4.0",
        repo="https://github.com/me/prices",
        source=Source(provider="Example Exchange"),
        topics=["finance", "prices"],
        frequency="daily",
        time_column="date",
    )


@pytest.fixture
def through(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``through(url)`` switches this process's client to registry mode."""

    def use(url: str) -> None:
        monkeypatch.delenv("OPENDATA_STORE", raising=False)
        monkeypatch.setenv("OPENDATA_REGISTRY", url)

    return use


# ---------------------------------------------------------------------------------------------
# S3 (moto) → sync → registry mode


def test_s3_publish_sync_then_load_through_the_registry(
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    through: Callable[[str], None],
) -> None:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    bucket = new_bucket(moto_endpoint)
    direct = od.Client(store=f"s3://{bucket}/pub")
    s3 = {**CREDENTIALS, "AWS_ENDPOINT_URL": moto_endpoint, "OPENDATA_STORE": f"s3://{bucket}/pub"}
    home = tmp_path / "registry-home"

    with running_registry(home, **s3) as url:
        # Published after the registry started: only the sync (another process) makes it known.
        direct.push(daily(), DATASET, metadata=_metadata(), partition="year")
        _sync(home, **s3)
        through(url)
        for key in CREDENTIALS:
            monkeypatch.delenv(key)  # the registry mode client needs no bucket credentials

        for kwargs in ({}, {"start": "2020-02", "end": "2021-03-15", "columns": ["date", "close"]}):
            pd.testing.assert_frame_equal(
                od.load(DATASET, **kwargs),  # type: ignore[arg-type]
                direct.load(DATASET, **kwargs),  # type: ignore[arg-type]
            )
        assert od.info(DATASET).stats == direct.info(DATASET).stats
        assert [e.id for e in od.search("daily prices")] == [DATASET]
        assert [e.id for e in od.search(topic="finance")] == [DATASET]
        assert od.search("no such words anywhere") == []
        assert [e.id for e in od.list()] == [DATASET]
        urls = od.urls(DATASET, start="2021")
        assert [u.sha256 for u in urls] == [u.sha256 for u in direct.urls(DATASET, start="2021")]
        assert all(
            u.url.startswith(f"{moto_endpoint}/{bucket}/pub/datasets/me/prices/parts/")
            for u in urls
        )
        assert all("X-Amz-Signature=" in u.url for u in urls)
        assert od.scan(DATASET, start="2021").collect().height == len(
            direct.load(DATASET, start="2021")
        )

        with pytest.raises(od.DatasetNotFound) as info:
            od.load("me/price")
        assert info.value.close_matches == [DATASET]
        with pytest.raises(od.RangeOutsideCoverage):
            od.load(DATASET, start="2040-01-01")
        with pytest.raises(od.OpenDataError, match="publishing through the registry"):
            od.push(daily(), DATASET)

        # The CLI goes through the same client, unchanged.
        out = tmp_path / "out.parquet"
        result = CliRunner().invoke(cli, ["get", DATASET, "-o", str(out), "--start", "2021"])
        assert result.exit_code == 0, result.output
        pd.testing.assert_frame_equal(
            pd.read_parquet(out, to_pandas_kwargs={"date_as_object": False}),
            direct.load(DATASET, start="2021"),
            check_dtype=False,
        )
        result = CliRunner().invoke(cli, ["search", "prices", "--json"])
        assert result.exit_code == 0, result.output
        assert DATASET in result.output


# ---------------------------------------------------------------------------------------------
# Embedded: local folder store + the registry's own HMAC URLs


def test_embedded_local_store_served_with_hmac_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, through: Callable[[str], None]
) -> None:
    home = Path(os.environ["OPENDATA_HOME"])
    od.push(daily(), DATASET, metadata=_metadata(), partition="year")  # the default local store
    expected = od.load(DATASET, start="2020-06-01")
    with running_registry(home) as url:  # picks up what is already published at start-up
        through(url)
        assert isinstance(od.Client().store, RegistryTransport)
        pd.testing.assert_frame_equal(od.load(DATASET, start="2020-06-01"), expected)
        urls = od.urls(DATASET)
        assert all(u.url.startswith(f"{url}/files/datasets/me/prices/parts/") for u in urls)
        assert all("signature=" in u.url and "expires=" in u.url for u in urls)
        # The registry checks its signatures: a tampered one is refused.
        tampered = urls[0].url.replace("signature=", "signature=0")
        assert httpx.get(tampered).status_code == 403
        assert httpx.get(urls[0].url, headers={"Range": "bytes=0-3"}).content == b"PAR1"


class _ExpireFirstShardUrl(httpx.HTTPTransport):
    """Fault injection: the first ``/files/`` URL is sent with ``expires`` an hour in the past."""

    def __init__(self) -> None:
        super().__init__()
        self.downloads = 0
        self.expired = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/download"):
            self.downloads += 1
        elif request.url.path.startswith("/files/") and not self.expired:
            self.expired += 1
            past = str(int(time.time()) - 3600)
            request.url = request.url.copy_set_param("expires", past)
        return super().handle_request(request)


def test_a_url_that_expired_mid_download_is_renewed(tmp_path: Path) -> None:
    home = Path(os.environ["OPENDATA_HOME"])
    od.push(daily(), DATASET, metadata=_metadata(), partition="year")
    expected = od.load(DATASET)
    with running_registry(home) as url:
        transport = _ExpireFirstShardUrl()
        store = RegistryTransport(url, transport=transport)
        try:
            pd.testing.assert_frame_equal(od.Client(store).load(DATASET), expected)
        finally:
            store.close()
        assert transport.expired == 1
        assert transport.downloads == 2  # the load's own call and exactly one renewal


def test_a_registry_that_is_down_is_named_and_cached_data_still_loads(
    through: Callable[[str], None],
) -> None:
    home = Path(os.environ["OPENDATA_HOME"])
    od.push(daily(), DATASET, metadata=_metadata(), partition="year")
    expected = od.load(DATASET, start="2021")
    with running_registry(home) as url:
        through(url)
        pd.testing.assert_frame_equal(od.load(DATASET, start="2021"), expected)  # now cached
    # The registry is stopped: nothing listens at OPENDATA_REGISTRY any more.
    with pytest.warns(UserWarning, match="may be stale") as warned:
        pd.testing.assert_frame_equal(od.load(DATASET, start="2021"), expected)
    (warning,) = warned
    assert f"the registry {url} (OPENDATA_REGISTRY) cannot be reached" in str(warning.message)
    with pytest.raises(od.StoreUnavailable) as info:
        od.info(DATASET)  # nothing of it was kept
    message = str(info.value)
    assert f"the registry {url} (OPENDATA_REGISTRY) cannot be reached" in message
    assert "store http" not in message
    # Shards that were never cached still need the registry: the warning, then its error.
    with pytest.warns(UserWarning, match="may be stale"), pytest.raises(od.StoreUnavailable):
        od.load(DATASET)
    result = CliRunner().invoke(cli, ["info", DATASET])
    assert result.exit_code == 3, result.output
    assert "OPENDATA_REGISTRY" in result.stderr and "AWS_" not in result.stderr


def test_rate_limit_is_reported_with_retry_after(tmp_path: Path) -> None:
    home = Path(os.environ["OPENDATA_HOME"])
    od.push(daily(), DATASET, metadata=_metadata(), partition="year")
    tiers = '{"anonymous": {"requests_per_minute": 3}}'
    with running_registry(home, OPENDATA_REGISTRY_TIERS=tiers) as url:
        client = od.Client(RegistryTransport(url, max_wait=2.0))

        def hammer() -> None:
            for _ in range(10):
                client.info(DATASET)

        with pytest.raises(RateLimited) as info:
            hammer()
        retry_after = info.value.retry_after
        assert retry_after is not None
        assert 2.0 < retry_after <= 60
        # Reported at once, not waited out: a wait longer than max_wait is never started (the
        # message would say how long the client waited).
        assert "still limited after waiting" not in info.value.message
        assert info.value.hint is not None
        assert "OPENDATA_API_KEY" in info.value.hint


def test_errors_name_the_request_id_and_the_access_log_keeps_no_secret(tmp_path: Path) -> None:
    import json
    from urllib.parse import parse_qsl, urlsplit

    home = Path(os.environ["OPENDATA_HOME"])
    od.push(daily(), DATASET, metadata=_metadata(), partition="year")
    made = subprocess.run(
        [str(BIN / "opendata-registry"), "keys", "create", "--json"],
        env=_registry_env(home),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    key = json.loads(made.stdout)["key"]
    with running_registry(home) as url:
        client = od.Client(RegistryTransport(url, api_key=key))
        with pytest.raises(od.DatasetNotFound) as info:
            client.load("me/price")
        request_id = info.value.request_id
        assert request_id is not None
        assert str(info.value).endswith(f"(Request ID: {request_id})")
        signatures = [
            dict(parse_qsl(urlsplit(u.url).query))["signature"] for u in client.urls(DATASET)
        ]
        assert len(client.load(DATASET)) == len(daily())
        port = urlsplit(url).port
    log = (home.parent / f"registry-{port}.log").read_text()
    access = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert {"method": "POST", "status": 404, "request_id": request_id}.items() <= next(
        line for line in access if line["request_id"] == request_id
    ).items()
    routes = {line["route"] for line in access}
    assert {"/v1/datasets/{namespace}/{name}/download", "/files/{key}"} <= routes
    assert any(line["key_prefix"] == key[:14] for line in access)
    for secret in [key, key[14:], *signatures]:
        assert secret not in log
