"""Registry mode's client side: URL rules, refusals, and faults a real registry cannot produce.

The end-to-end path against a real registry process is in tests/e2e/test_registry_e2e.py. Here
an in-process httpx transport stands in for the registry and storage ONLY to inject faults on
demand (a URL that expires between the manifest and the shard GET, 429 answers with chosen
``Retry-After`` values, bodies that are not problem details); it answers from a real local store.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pandas as pd
import pytest

import opendata as od
from opendata._registry import RegistryTransport, check_registry_url
from opendata_core.api import (
    DatasetDetail,
    DownloadRequest,
    DownloadResponse,
    PublishSummary,
    SignedShard,
)
from opendata_core.errors import DatasetNotFound, RateLimited, ServiceUnavailable, Unauthenticated
from opendata_core.ids import DatasetId
from opendata_core.problems import problem_from_error
from opendata_core.store import NotFound
from opendata_core.timerange import select_shards

from .test_push_load import daily

REGISTRY = "https://registry.test"
KEY = "od_live_secretkey"
DS = DatasetId.parse("me/prices")


class FaultyRegistry:
    """Answers download/info from a real local store; faults are switched on per test."""

    def __init__(self, source: od.Client) -> None:
        self.source = source
        self.requests: list[httpx.Request] = []
        self.generation = 0
        self.refuse_generations: set[int] = set()
        """Signed URLs of these generations get 403 (as an expired S3 URL does)."""
        self.retry_after: list[str] = []
        """The next registry answers are 429 with these Retry-After values."""
        self.plain_status: int | None = None
        self.unavailable: list[str] = []
        """The next registry answers are 503 ``unavailable`` with these Retry-After values."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "storage.test":
            generation = int(request.url.params["gen"])
            if generation in self.refuse_generations:
                return httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>")
            data, _ = self.source.store.get(request.url.path.lstrip("/"))
            return httpx.Response(200, content=bytes(data))
        if self.retry_after:
            err = RateLimited("too many requests for the free tier", retry_after=1)
            return self._problem(err, headers={"Retry-After": self.retry_after.pop(0)})
        if self.unavailable:
            err = ServiceUnavailable("redis", "the registry's rate limiter is unavailable")
            return self._problem(err, headers={"Retry-After": self.unavailable.pop(0)})
        if self.plain_status is not None:
            return httpx.Response(self.plain_status, text="nope")
        path = request.url.path
        ds = DatasetId.parse("/".join(path.split("/")[3:5]))
        if path.endswith("/lifecycle"):  # the id's lifecycle.json, as the registry serves it
            try:
                data, _ = self.source.store.get(self.source.layout.lifecycle(ds))
            except NotFound:
                return self._problem(DatasetNotFound(str(ds), []))
            return httpx.Response(200, content=bytes(data))
        try:
            if path.endswith("/download"):
                return self._download(
                    ds, msgspec.json.decode(request.content, type=DownloadRequest)
                )
            metadata = self.source.info(ds)
        except od.OpenDataError as exc:
            return self._problem(exc)
        manifest = self.source.manifest(ds)
        summary = {**msgspec.to_builtins(manifest), "shard_count": len(manifest.shards)}
        detail = DatasetDetail(
            id=str(ds),
            metadata=metadata,
            manifest=msgspec.convert(summary, type=PublishSummary),
            readme="# prices",
        )
        return httpx.Response(200, content=msgspec.json.encode(detail))

    def _download(self, ds: DatasetId, req: DownloadRequest) -> httpx.Response:
        self.generation += 1
        manifest = self.source.manifest(ds)
        shards = [
            SignedShard(
                **{f: getattr(s, f) for f in ("path", "sha256", "rows", "bytes", "partition")},
                min=s.min,
                max=s.max,
                url=f"https://storage.test/{self.source.layout.resolve(ds, s.path)}"
                f"?gen={self.generation}&X-Amz-Signature=s3cr3t",
            )
            for s in select_shards(manifest, req.start, req.end)
        ]
        body = DownloadResponse(
            dataset_id=str(ds),
            manifest=manifest,
            shards=shards,
            expires_at=datetime.now(UTC) + timedelta(minutes=5),
        )
        return httpx.Response(200, content=msgspec.json.encode(body))

    @staticmethod
    def _problem(exc: od.OpenDataError, headers: dict[str, str] | None = None) -> httpx.Response:
        problem = problem_from_error(exc)
        return httpx.Response(
            problem.status,
            content=msgspec.json.encode(problem),
            headers={"Content-Type": "application/problem+json", **(headers or {})},
        )

    def downloads(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/download")]


@pytest.fixture
def source(tmp_path: Path) -> od.Client:
    client = od.Client(store=tmp_path / "store")
    client.push(daily(), "me/prices", time_column="date", partition="year")
    return client


@pytest.fixture
def fake(source: od.Client) -> FaultyRegistry:
    return FaultyRegistry(source)


def _client(fake: FaultyRegistry, **kwargs: float) -> od.Client:
    return od.Client(
        RegistryTransport(REGISTRY, api_key=KEY, transport=httpx.MockTransport(fake), **kwargs)
    )


# ---------------------------------------------------------------------------------------------
# The URL and the environment


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://127.8.9.1/",
        "http://[::1]:80/api",
        "http://localhost:1",
        "https://r.example.org/api/",
    ],
)
def test_https_anywhere_and_http_on_loopback_are_accepted(url: str) -> None:
    assert check_registry_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://registry.example.org", "plain http for a host that is not loopback"),
        ("http://10.0.0.1:8000", "plain http for a host that is not loopback"),
        ("http://localhost.evil.example", "plain http for a host that is not loopback"),
        ("ftp://registry.example.org", "is not an http(s) URL"),
        ("registry.example.org", "is not an http(s) URL"),
        ("https://", "is not an http(s) URL"),
        ("https://r.example.org/?key=1", "has a query or fragment"),
    ],
)
def test_bad_registry_urls_name_the_variable_the_value_and_the_fix(url: str, problem: str) -> None:
    with pytest.raises(od.OpenDataError, match="OPENDATA_REGISTRY=") as info:
        check_registry_url(url)
    assert problem in info.value.message
    assert repr(url) in info.value.message
    assert info.value.hint is not None
    assert "https://" in info.value.hint


def test_environment_selects_registry_mode_and_store_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENDATA_REGISTRY", "http://registry.example.org")
    with pytest.raises(od.OpenDataError, match="not loopback"):
        od.Client()
    monkeypatch.setenv("OPENDATA_REGISTRY", "http://127.0.0.1:9/")
    monkeypatch.setenv("OPENDATA_API_KEY", KEY)
    store = od.Client().store
    assert isinstance(store, RegistryTransport)
    assert store.url == "http://127.0.0.1:9"
    assert KEY not in repr(store)
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "store"))
    assert isinstance(od.Client().store, od.LocalStore)


def test_publishing_through_the_registry_without_credentials_is_refused_before_any_request(
    fake: FaultyRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ACTIONS_ID_TOKEN_REQUEST_URL", "OPENDATA_PUBLISH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    client = _client(fake)
    with pytest.raises(
        od.PermissionDenied, match="cannot publish me/prices: publishing through the registry"
    ) as info:
        client.push(daily(), "me/prices", time_column="date")
    assert info.value.hint is not None
    assert "OPENDATA_PUBLISH_TOKEN" in info.value.hint and "id-token: write" in info.value.hint
    assert fake.requests == []
    with pytest.raises(od.OpenDataError, match="cannot list"):
        client.index.rebuild()


# ---------------------------------------------------------------------------------------------
# Reading


def test_load_asks_for_the_range_and_sends_the_key_to_the_registry_only(
    fake: FaultyRegistry, source: od.Client
) -> None:
    client = _client(fake)
    got = client.load("me/prices", start="2020-03", end="2021-02-01", columns=["date", "close"])
    expected = source.load(
        "me/prices", start="2020-03", end="2021-02-01", columns=["date", "close"]
    )
    pd.testing.assert_frame_equal(got, expected)
    (download,) = fake.downloads()
    sent = msgspec.json.decode(download.content, type=DownloadRequest)
    assert (sent.start, sent.end, sent.columns) == ("2020-03", "2021-02-01", None)
    storage = [r for r in fake.requests if r.url.host == "storage.test"]
    assert len(storage) == 2  # the 2020 and 2021 shards only
    assert download.headers["Authorization"] == f"Bearer {KEY}"
    assert all("Authorization" not in r.headers for r in storage)
    assert {r.headers["User-Agent"] for r in fake.requests} == {f"opendata-client/{od.__version__}"}


def test_start_after_end_is_a_value_error_about_the_order_before_any_request(
    fake: FaultyRegistry, source: od.Client
) -> None:
    """The consumer guide's promise, on both transports (the registry answered an
    OpenDataError with a hint about ISO 8601)."""
    for client in (source, _client(fake)):
        with pytest.raises(ValueError, match="is after end") as info:
            client.load("me/prices", start="2021-02", end="2021-01")
        assert type(info.value) is ValueError
        assert "swap them" in str(info.value) and "ISO" not in str(info.value)
    assert fake.downloads() == []


def test_dates_are_sent_as_iso_text(fake: FaultyRegistry) -> None:
    _client(fake).load(
        "me/prices", start=pd.Timestamp("2021-01-05"), end=datetime(2021, 1, 6).date()
    )
    sent = msgspec.json.decode(fake.downloads()[0].content, type=DownloadRequest)
    assert (sent.start, sent.end) == ("2021-01-05T00:00:00", "2021-01-06")


def test_a_url_that_expires_mid_download_is_renewed_once(
    fake: FaultyRegistry, source: od.Client
) -> None:
    fake.refuse_generations = {
        1
    }  # every URL of the first answer has expired by the time it is used
    got = _client(fake).load("me/prices")
    pd.testing.assert_frame_equal(got, source.load("me/prices"))
    assert len(fake.downloads()) == 2  # one renewal, shared by the concurrent shard downloads
    assert fake.downloads()[1].content == fake.downloads()[0].content


def test_a_url_refused_after_renewal_says_the_link_expired_and_was_renewed(
    fake: FaultyRegistry,
) -> None:
    fake.refuse_generations = {1, 2, 3}
    with pytest.raises(od.PermissionDenied) as info:
        _client(fake).load("me/prices", start="2021-01-01", end="2021-01-01")
    message, hint = info.value.message, info.value.hint or ""
    assert "https://storage.test refused the registry's signed link (HTTP 403)" in message
    assert "expired" in message and "renewed" in message
    assert "AWS_" not in message + hint and "credentials of yours" in hint
    assert REGISTRY in hint  # whose links they are
    assert "s3cr3t" not in str(info.value)  # a signed URL's signature is never printed
    assert len(fake.downloads()) == 2


class _RecordedSleeps:
    """The registry transport's ``time`` module with its sleeps recorded (and still slept): a
    test reads what the client waited, not the wall clock."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> _RecordedSleeps:
    import opendata._registry as transport

    recorded = _RecordedSleeps()
    monkeypatch.setattr(transport, "time", recorded)
    return recorded


def test_429_is_waited_out_within_the_budget(fake: FaultyRegistry, sleeps: _RecordedSleeps) -> None:
    fake.retry_after = ["0.2", "0.2"]
    assert (
        len(_client(fake, max_wait=1.0).load("me/prices", start="2021-01-01", end="2021-01-01"))
        == 2
    )
    assert sleeps.waits == [0.2, 0.2]  # each Retry-After waited out, then the answer


def test_429_beyond_the_budget_is_reported_at_once(fake: FaultyRegistry) -> None:
    fake.retry_after = ["0.3", "120"]
    with pytest.raises(RateLimited, match="too many requests for the free tier") as info:
        _client(fake, max_wait=5.0).info("me/prices")
    assert info.value.retry_after == 120
    # It waited the 0.3 s (the message says so), not the 120 s: no clock needed to tell.
    assert "still limited after waiting 0 s" in info.value.message
    assert info.value.hint is not None
    assert "wait 120 s" in info.value.hint


def test_503_unavailable_is_retried_after_its_retry_after(
    fake: FaultyRegistry, sleeps: _RecordedSleeps
) -> None:
    fake.unavailable = ["0.5", "0.5"]  # Redis down for two answers, then back
    assert _client(fake).info("me/prices").stats.row_count > 0
    # The registry's 0.5 s where it is longer than the backoff (0.4 s), the backoff (0.8 s) where
    # that is longer.
    assert sleeps.waits == [0.5, 0.8]
    assert len(fake.requests) == 4  # three answers to the lifecycle read, then the info


def test_503_unavailable_that_lasts_says_it_was_retried(fake: FaultyRegistry) -> None:
    fake.unavailable = ["0.1"] * 5
    with pytest.raises(od.StoreUnavailable) as info:  # ServiceUnavailable is one
        _client(fake).info("me/prices")
    assert isinstance(info.value, ServiceUnavailable)
    assert info.value.service == "redis"
    assert "rate limiter is unavailable (HTTP 503; gave up after 3 attempts)" in str(info.value)
    assert len(fake.requests) == 3


def test_503_retry_after_beyond_the_budget_is_not_waited(fake: FaultyRegistry) -> None:
    fake.unavailable = ["120"]
    with pytest.raises(ServiceUnavailable, match="rate limiter is unavailable"):
        _client(fake, max_wait=5.0).info("me/prices")
    assert len(fake.requests) == 1  # answered at once: no 120 s wait, no blind retry


def test_problem_bodies_become_the_registrys_typed_errors(fake: FaultyRegistry) -> None:
    client = _client(fake)
    with pytest.raises(od.DatasetNotFound) as info:
        client.load("me/price")
    assert info.value.close_matches == ["me/prices"]
    with pytest.raises(od.RangeOutsideCoverage, match="2019-01-01"):
        client.load("me/prices", start="2030-01-01")
    doc = client.info("me/prices")
    assert doc.stats.row_count == fake.source.info("me/prices").stats.row_count


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (401, Unauthenticated, "asked for authentication"),
        (403, od.PermissionDenied, "refused access"),
        (503, od.StoreUnavailable, "answered HTTP 503"),
        (418, od.OpenDataError, "answered HTTP 418"),
    ],
)
def test_plain_error_answers_map_by_status(
    fake: FaultyRegistry, status: int, error: type[Exception], text: str
) -> None:
    fake.plain_status = status
    with pytest.raises(error, match=text):
        _client(fake).info("me/prices")


def test_urls_are_the_registrys_signed_urls(fake: FaultyRegistry) -> None:
    urls = _client(fake).urls("me/prices", start="2021")
    assert [u.url.split("?")[0].rsplit("/", 1)[1] for u in urls] == [
        f"{u.sha256}.parquet" for u in urls
    ]
    assert all(u.url.startswith("https://storage.test/") for u in urls)


def test_scan_goes_through_the_cache(fake: FaultyRegistry, source: od.Client) -> None:
    lf = _client(fake).scan("me/prices", start="2021-01-01", end="2021-01-31")
    assert lf.collect().height == len(
        source.load("me/prices", start="2021-01-01", end="2021-01-31")
    )


@pytest.mark.parametrize(
    ("status", "body", "header", "shown"),
    [
        # The registry's problem body carries the id (and the same header).
        (
            404,
            {
                "code": "dataset_not_found",
                "message": "dataset 'me/x' not found",
                "status": 404,
                "details": {"dataset_id": "me/x"},
                "request_id": "abc123",
            },
            "abc123",
            "abc123",
        ),
        # A plain answer (a proxy's 503) with the header only.
        (503, None, "lb.7-x", "lb.7-x"),
        # An older registry: no field, no header; an unsafe header is not echoed.
        (
            404,
            {"code": "dataset_not_found", "message": "dataset 'me/x' not found", "status": 404},
            None,
            None,
        ),
        (503, None, "bad id\r\nx", None),
    ],
)
def test_error_messages_end_with_the_registrys_request_id(
    status: int, body: dict[str, object] | None, header: str | None, shown: str | None
) -> None:
    from opendata._registry import _error_for

    headers = {"X-Request-ID": header} if header else {}
    content = msgspec.json.encode(body) if body else b"upstream down"
    err = _error_for(httpx.Response(status, content=content, headers=headers), "load", "registry")
    assert err.request_id == shown
    if shown:
        assert str(err).endswith(f" (Request ID: {shown})")
        assert str(err).count("Request ID") == 1
    else:
        assert "Request ID" not in str(err)
