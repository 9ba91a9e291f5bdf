"""Fault injection: corruption, crashes between upload and commit, races, a failing store."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

import opendata as od
from opendata._stores import S3CompatibleStore, Store
from opendata_core import DatasetId, DatasetMetadata, validate_metadata

from .conftest import new_bucket
from .test_push_load import daily

DS = DatasetId.parse("me/prices")


def _shards(client: od.Client) -> list[str]:
    manifest, _ = client._reader.manifest(DS)
    return [client.layout.resolve(DS, s.path) for s in manifest.shards]


def test_flipped_bytes_are_detected(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    key = _shards(client)[-1]
    data, _ = client.store.get(key)
    broken = bytearray(data)
    broken[len(broken) // 2] ^= 0xFF
    client.store.put(key, bytes(broken))
    with pytest.raises(
        od.CorruptDataError,
        match=r"me/prices: .*parts/.*\.parquet is corrupt: sha256 .* does not match",
    ):
        client.load("me/prices")
    # Years whose shards are intact still load.
    assert len(client.load("me/prices", start="2019-01-01", end="2019-12-31")) == 365 * 2


def test_deleted_shard_is_reported(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    client.store.delete(_shards(client)[0])
    with pytest.raises(od.CorruptDataError, match="the shard is missing from the store") as info:
        client.load("me/prices", start="2019-06-01", end="2019-06-01")
    assert info.value.hint is not None
    assert "re-publish" in info.value.hint


def test_corrupt_scan_and_transient_corruption_is_retried(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    key = _shards(client)[-1]
    calls = {"n": 0}
    original = client.store.get

    def flaky(k: str, **kw: Any) -> Any:
        if k == key and calls["n"] == 0:
            calls["n"] += 1
            return b"garbage", ""
        return original(k, **kw)

    client.store.get = flaky  # type: ignore[method-assign]
    assert len(client.load("me/prices", start="2024-12-31")) == 2  # retried once, then fine
    client.store.get = original  # type: ignore[method-assign]
    client.store.put(key, b"not parquet at all")
    client.cache.clear()  # the load cached the good bytes, which the scan would use
    with pytest.raises(od.CorruptDataError):
        client.scan("me/prices", start="2024-01-01").collect()


class _Wrapped(Store):
    """Delegates to a real store; lets a test run code just before the manifest is written."""

    def __init__(self, inner: Store, before_manifest: Any) -> None:
        self.inner, self.url, self.before_manifest = inner, inner.url, before_manifest

    def get(self, key: str, *, max_bytes: int | None = None) -> Any:
        return self.inner.get(key, max_bytes=max_bytes)

    def put(
        self, key: str, data: bytes, *, if_absent: bool = False, if_match: str | None = None
    ) -> str:
        if key.endswith("/manifest.json"):
            self.before_manifest()
        return self.inner.put(key, data, if_absent=if_absent, if_match=if_match)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list(self, prefix: str) -> Iterator[Any]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def uri(self, key: str) -> str:
        return self.inner.uri(key)


def _client_on(store: Store, client: od.Client) -> od.Client:
    return od.Client(store=store, prefix=client.layout.prefix)


def test_push_killed_before_the_manifest_leaves_the_old_version(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    before = client.load("me/prices")

    def crash() -> None:
        raise KeyboardInterrupt("killed")

    dying = _client_on(_Wrapped(client.store, crash), client)
    new = daily(("ZZZ",))
    with pytest.raises(KeyboardInterrupt):
        dying.push(new, "me/prices", time_column="date", partition="year")
    pd.testing.assert_frame_equal(client.load("me/prices"), before)
    # The orphaned shards are garbage once the grace period has passed.
    assert client.gc("me/prices", older_than=timedelta(0), dry_run=True).deleted


def test_two_concurrent_replaces_one_conflicts(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    other_done = threading.Event()
    first = daily(("AAA",))
    second = daily(("BBB",))

    def let_the_other_commit_first() -> None:
        t = threading.Thread(
            target=lambda: (
                client.push(second, "me/prices", time_column="date", partition="year"),
                other_done.set(),
            )
        )
        t.start()
        t.join()

    slow = _client_on(_Wrapped(client.store, let_the_other_commit_first), client)
    with pytest.raises(
        od.ConflictError, match="another publish committed first; nothing was changed"
    ):
        slow.push(first, "me/prices", time_column="date", partition="year")
    assert other_done.is_set()
    assert set(client.load("me/prices")["symbol"]) == {"BBB"}


def test_concurrent_appends_lose_no_rows(client: od.Client) -> None:
    client.push(daily(("AAA",)), "me/prices", time_column="date", partition="year")

    def row(day: dt.date, sym: str) -> pd.DataFrame:
        return pd.DataFrame({"date": [day], "symbol": [sym], "close": [1.0], "volume": [1]})

    state = {"raced": False}

    def race() -> None:
        if not state["raced"]:
            state["raced"] = True
            client.push(row(dt.date(2025, 1, 2), "OTHER"), "me/prices", mode="append")

    racing = _client_on(_Wrapped(client.store, race), client)
    result = racing.push(row(dt.date(2025, 1, 1), "MINE"), "me/prices", mode="append")
    out = client.load("me/prices", start="2025-01-01")
    assert out["symbol"].tolist() == ["MINE", "OTHER"]
    assert result.rows == len(daily(("AAA",))) + 2


def test_gc_keeps_referenced_and_recent_shards(client: od.Client) -> None:
    client.push(daily(), "me/prices", time_column="date", partition="year")
    old = set(_shards(client))
    changed = daily()
    changed["close"] = 0.0
    client.push(changed, "me/prices", time_column="date", partition="year", metadata=_keep_one())
    new = set(_shards(client))
    assert not old & new
    recent = client.gc("me/prices")  # default grace: every shard is too recent
    dropped = client.layout.versions_prefix(DS)
    assert [k for k in recent.deleted if not k.startswith(dropped)] == []
    assert recent.kept_in_grace == len(old)
    done = client.gc("me/prices", older_than=timedelta(0))
    assert set(done.deleted) == old
    assert done.bytes_freed > 0
    assert {o.key for o in client.store.list(client.layout.parts_prefix(DS))} == new
    assert len(client.load("me/prices")) == len(changed)


# ---------------------------------------------------------------------------------------------
# A failing S3 endpoint: an in-process proxy in front of moto that answers 503 on demand.


class _FaultProxy(http.server.ThreadingHTTPServer):
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fail_next = 0
        self.fail_status = 503
        self.delay = 0.0
        self.requests = 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: _FaultProxy

    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.server.delay:
            import time

            time.sleep(self.server.delay)
        if self.server.fail_next != 0:
            self.server.fail_next -= 1
            self.send_response(self.server.fail_status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        # urllib would label a body as a form otherwise, and moto would parse it away.
        headers.setdefault("Content-Type", "application/octet-stream")
        req = urllib.request.Request(
            self.server.upstream + self.path, data=body, method=self.command, headers=headers
        )
        try:
            resp = urllib.request.urlopen(req)
        except urllib.error.HTTPError as err:
            resp = err
        with resp:
            data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            if k.lower() not in (
                "content-length",
                "transfer-encoding",
                "connection",
                "server",
                "date",
            ):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _handle  # noqa: N815 - http.server's names


@pytest.fixture
def fault_proxy(s3_env: str) -> Iterator[_FaultProxy]:
    proxy = _FaultProxy(s3_env)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


FAST_RETRIES: Any = {
    "max_retries": 2,
    "backoff": {
        "init_backoff": timedelta(milliseconds=10),
        "max_backoff": timedelta(milliseconds=50),
        "base": 2,
    },
    "retry_timeout": timedelta(seconds=5),
}


def test_store_errors_are_retried_then_unavailable(fault_proxy: _FaultProxy, s3_env: str) -> None:
    bucket = new_bucket(s3_env)
    endpoint = f"http://127.0.0.1:{fault_proxy.server_address[1]}"
    client = od.Client(
        store=S3CompatibleStore(bucket, endpoint=endpoint, retry_config=FAST_RETRIES)
    )
    client.push(daily(("A",)), "me/prices", time_column="date", partition="year")
    fault_proxy.fail_next = 2  # two 503s, then success: obstore's retries absorb them
    assert len(client.load("me/prices", start="2024-12-31")) == 1
    fault_proxy.fail_next = -1  # always failing
    with pytest.raises(
        od.StoreUnavailable, match=f"store s3://{bucket} unavailable: .*manifest.json"
    ):
        client.load("me/prices")


def test_unreachable_endpoint_is_unavailable(s3_env: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = od.Client(
        store=S3CompatibleStore(
            "nope", endpoint=f"http://127.0.0.1:{port}", retry_config=FAST_RETRIES
        )
    )
    with pytest.raises(od.StoreUnavailable) as info:
        client.load("me/prices")
    assert isinstance(info.value, ConnectionError)


def test_r2_needs_an_account_and_unknown_schemes_fail() -> None:
    with pytest.raises(od.OpenDataError, match="needs the Cloudflare account id") as info:
        od.Client(store="r2://bucket/x")
    assert info.value.hint is not None
    assert "R2_ACCOUNT_ID" in info.value.hint
    with pytest.raises(od.OpenDataError, match="unknown store 'gs://b'"):
        od.Client(store="gs://b")


def test_access_denied_is_permission_denied(fault_proxy: _FaultProxy, s3_env: str) -> None:
    bucket = new_bucket(s3_env)
    endpoint = f"http://127.0.0.1:{fault_proxy.server_address[1]}"
    client = od.Client(
        store=S3CompatibleStore(bucket, endpoint=endpoint, retry_config=FAST_RETRIES)
    )
    client.push(daily(("A",)), "me/prices", time_column="date")
    fault_proxy.fail_status, fault_proxy.fail_next = 403, -1
    with pytest.raises(
        od.PermissionDenied,
        match=rf"s3://{bucket} \({endpoint}\) refused access to datasets/me/prices/manifest.json",
    ) as info:
        client.load("me/prices")
    assert isinstance(info.value, PermissionError)


def test_r2_urls_build_the_account_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R2_ACCOUNT_ID", "abc123")
    client = od.Client(store="r2://data/prod")
    assert client.layout.prefix == "prod"
    assert client.store.url == "s3://data"
    config = client.store._store.config  # type: ignore[attr-defined]
    assert config["endpoint"] == "https://abc123.r2.cloudflarestorage.com"
    assert config["region"] == "auto"


def test_metadata_id_must_match(client: od.Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    yaml = tmp_path / "opendata.yaml"
    yaml.write_text(
        "id: me/other\ntitle: T\ndescription: d\nlicense: MIT\nrepo: https://github.com/me/other\nsource: {provider: P}\n"
    )
    with pytest.raises(
        od.OpenDataError,
        match="the metadata's id 'me/other' does not match the dataset id 'me/prices'",
    ):
        client.push(daily(("A",)), "me/prices", metadata=yaml)
    with pytest.raises(od.DatasetNotFound):
        client.load("me/prices")


def test_empty_ci_secrets_do_not_break_the_s3_store(
    s3_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset GitHub secrets arrive as empty strings; obstore panicked on an empty region."""
    bucket = new_bucket(s3_env)
    monkeypatch.setenv("AWS_REGION", "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "")
    monkeypatch.setenv("OPENDATA_STORE", f"s3://{bucket}/ci")
    od.push(daily(("A",)), "me/prices", time_column="date")
    assert len(od.load("me/prices", start="2024-12-31")) == 1


def test_reader_restarts_once_when_a_publish_and_gc_race_it(client: od.Client) -> None:
    client.push(daily(("OLD",)), "me/prices", time_column="date", partition="year")
    other = _client_on(client.store, client)
    original = client.store.get
    state = {"raced": False}

    def racing_get(key: str, **kw: Any) -> Any:
        if "/parts/" in key and not state["raced"]:
            state["raced"] = True  # between our manifest read and our first shard read:
            other.push(
                daily(("NEW",)),
                "me/prices",
                time_column="date",
                partition="year",
                metadata=_keep_one(),
            )
            other.gc("me/prices", older_than=timedelta(0))
        return original(key, **kw)

    client.store.get = racing_get  # type: ignore[method-assign]
    out = client.load("me/prices")
    assert state["raced"]
    assert set(out["symbol"]) == {"NEW"}


def test_slow_store_times_out_then_unavailable(fault_proxy: _FaultProxy, s3_env: str) -> None:
    bucket = new_bucket(s3_env)
    endpoint = f"http://127.0.0.1:{fault_proxy.server_address[1]}"
    store = S3CompatibleStore(
        bucket, endpoint=endpoint, retry_config=FAST_RETRIES, client_options={"timeout": "300ms"}
    )
    client = od.Client(store=store)
    client.push(daily(("A",)), "me/prices", time_column="date")
    fault_proxy.delay = 1.0  # every answer comes after the client's timeout
    started = fault_proxy.requests
    with pytest.raises(
        od.StoreUnavailable, match="manifest.json: .* did not answer in time .*timed out"
    ) as info:
        client.load("me/prices")
    assert info.value.reason == "timeout"
    # obstore retried both reads a load sends at once: the manifest and the lifecycle
    assert fault_proxy.requests - started == 2 * (1 + FAST_RETRIES["max_retries"])


@pytest.mark.parametrize(
    "url", ["s3://AKIAEXAMPLE:s3cr3tValue@bucket/prefix", "r2://AKIAEXAMPLE:s3cr3tValue@b"]
)
def test_credentials_in_a_store_url_are_refused_and_not_echoed(url: str) -> None:
    with pytest.raises(od.OpenDataError, match="has credentials in it") as info:
        od.Client(store=url)
    shown = f"{info.value} {info.value.hint}"
    assert "s3cr3tValue" not in shown and "AKIAEXAMPLE" not in shown
    assert info.value.hint is not None and "AWS_SECRET_ACCESS_KEY" in info.value.hint


def test_a_long_column_name_is_cut_in_the_message(client: od.Client) -> None:
    client.push(daily(("A",)), "me/prices", time_column="date")
    with pytest.raises(od.ColumnNotFound) as info:
        client.load("me/prices", columns=["c" * 100_000])
    assert len(str(info.value)) < 500


# ---------------------------------------------------------------------------------------------
# Stores: internal folders, temporaries, messages that name the bucket and endpoint


def test_a_dataset_named_like_an_internal_folder_is_listed(tmp_path: Any) -> None:
    client = od.Client(store=tmp_path / "store")
    client.push(daily(("A",)), "ns/.locks", time_column="date")
    client.push(daily(("A",)), "ns/x", time_column="date")
    assert [e.id for e in client.index.rebuild().datasets] == ["ns/.locks", "ns/x"]
    assert len(client.load("ns/.locks", start="2024-12-31")) == 1


def test_gc_removes_stale_temporaries_of_killed_writes(tmp_path: Any) -> None:
    import os
    import time

    client = od.Client(store=tmp_path / "store")
    client.push(daily(("A",)), "me/prices", time_column="date")
    parts = client.store.local_path(client.layout.parts_prefix(DS).rstrip("/"))
    assert parts is not None
    stale, fresh = parts / ".tmp-killed", parts / ".tmp-writing"
    stale.write_bytes(b"x" * 100)
    fresh.write_bytes(b"y" * 10)
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    dry = client.gc("me/prices", dry_run=True)
    assert dry.deleted == [client.layout.parts_prefix(DS) + ".tmp-killed"] and stale.exists()
    done = client.gc("me/prices")
    assert done.bytes_freed == 100 and done.kept_in_grace == 1
    assert not stale.exists() and fresh.exists()
    assert len(client.load("me/prices")) == len(daily(("A",)))


def test_a_missing_bucket_is_named(s3_env: str) -> None:
    client = od.Client(store=S3CompatibleStore("no-such-bucket", endpoint=s3_env))
    for action in (
        lambda: client.load("me/prices"),
        lambda: client.push(daily(("A",)), "me/prices"),
    ):
        with pytest.raises(
            od.StoreUnavailable, match=f"the bucket 'no-such-bucket' does not exist at {s3_env}"
        ) as info:
            action()
        assert info.value.reason == "no-bucket"
        assert info.value.hint is not None and "create the bucket" in info.value.hint


def test_a_dead_endpoint_is_named(s3_env: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    client = od.Client(store=S3CompatibleStore("b", endpoint=endpoint, retry_config=FAST_RETRIES))
    with pytest.raises(
        od.StoreUnavailable, match=f"cannot connect to the endpoint {endpoint}"
    ) as info:
        client.load("me/prices")
    assert info.value.hint is not None and "AWS_ENDPOINT_URL" in info.value.hint


def _keep_one() -> DatasetMetadata:
    """me/prices with a retention that keeps only the current version (gc drops the others)."""
    return validate_metadata(
        {
            "id": "me/prices",
            "title": "Prices",
            "description": "d",
            "license": "MIT",
            "repo": "https://github.com/me/prices",
            "source": {"provider": "Me"},
            "time_column": "date",
            "retention": {"keep_versions": 1, "keep_days": 0},
        }
    )
