"""The commit protocol under faults (spec 4.1): every ambiguous point by append/replace.

A fault-injecting proxy sits between obstore and moto. Whatever the proxy does to a request, a
push commits exactly once, the rows are exact, success is reported when it committed and
``ConflictError`` only when it did not.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pandas as pd
import pytest

import opendata as od
from opendata._stores import S3CompatibleStore
from opendata_core import DatasetId
from tests.faultproxy import Action, FaultProxy, Rule

from .conftest import new_bucket
from .test_faults import FAST_RETRIES

DS = DatasetId.parse("me/ticks")
MANIFEST = r"/datasets/me/ticks/manifest\.json$"
FAST = FAST_RETRIES


def rows(first: int, n: int, tag: str = "x") -> pd.DataFrame:
    start = dt.date(2020, 1, 1)
    return pd.DataFrame(
        {
            "date": [start + dt.timedelta(days=i) for i in range(first, first + n)],
            "v": list(range(first, first + n)),
            "tag": tag,
        }
    )


@pytest.fixture
def proxy(s3_env: str) -> Iterator[FaultProxy]:
    p = FaultProxy(s3_env).start()
    yield p
    p.stop()


@pytest.fixture
def bucket(s3_env: str) -> str:
    return new_bucket(s3_env)


def via(proxy: FaultProxy, bucket: str) -> od.Client:
    store = S3CompatibleStore(
        bucket, endpoint=proxy.url, retry_config=FAST, client_options={"timeout": "1s"}
    )
    return od.Client(store=store)


def direct(s3_env: str, bucket: str) -> od.Client:
    return od.Client(store=f"s3://{bucket}")


def second_push(client: od.Client, mode: str) -> od.PushResult:
    if mode == "append":
        return client.push(rows(1000, 100), "me/ticks", mode="append")
    return client.push(rows(0, 1100), "me/ticks", time_column="date", partition="year")


AMBIGUOUS: list[tuple[str, str, Action, int, float]] = [
    # (what, path, action, times, hang)
    ("shard PUT, reply lost (503)", r"/parts/", "forward-503", 1, 0),
    ("shard PUT, connection reset", r"/parts/", "forward-reset", 1, 0),
    ("history entry PUT, reply lost (503)", r"/versions/", "forward-503", 1, 0),
    ("history entry PUT, connection reset", r"/versions/", "forward-reset", 1, 0),
    (
        "manifest PUT committed, answered 503 (obstore retries, gets 412)",
        MANIFEST,
        "forward-503",
        1,
        0,
    ),
    ("manifest PUT committed, connection reset", MANIFEST, "forward-reset", 1, 0),
    ("manifest PUT committed, reply never came (timeout)", MANIFEST, "forward-hang", 1, 2.0),
    ("manifest PUT refused with 503 past obstore's retries", MANIFEST, "503", 3, 0),
    ("manifest PUT held past the timeout, lands late", MANIFEST, "delay", 1, 1.5),
]


@pytest.mark.parametrize("mode", ["append", "replace"])
@pytest.mark.parametrize(("what", "path", "action", "times", "hang"), AMBIGUOUS)
def test_ambiguous_points_commit_exactly_once(
    proxy: FaultProxy,
    bucket: str,
    mode: str,
    what: str,
    path: str,
    action: Action,
    times: int,
    hang: float,
) -> None:
    client = via(proxy, bucket)
    first = client.push(rows(0, 1000), "me/ticks", time_column="date", partition="year")
    proxy.clear()
    proxy.add(Rule("PUT", path, action, times=times, hang=hang))
    result = second_push(client, mode)
    proxy.wait_idle()
    assert any(e.action == action for e in proxy.log), what
    manifest = client.manifest("me/ticks")
    assert proxy.committed("PUT", MANIFEST) == 1, what
    assert result.publish_id == manifest.publish_id
    assert manifest.parent_publish_id == first.publish_id
    assert result.rows == manifest.row_count == 1100
    # exactly one new version, with its history entry (spec 8.1), whatever was retried
    assert [v.publish_id for v in client.versions("me/ticks")] == [
        manifest.publish_id,
        first.publish_id,
    ]
    assert len(client.load("me/ticks", version=first.publish_id)) == 1000
    out = client.load("me/ticks")
    assert len(out) == 1100
    assert out["v"].tolist() == list(range(1100))
    assert result.warnings == []


@pytest.mark.parametrize("mode", ["append", "replace"])
@pytest.mark.parametrize("document", ["metadata.json", "README.md", "index.json"])
def test_failures_after_the_commit_are_warnings(
    proxy: FaultProxy, bucket: str, mode: str, document: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = via(proxy, bucket)
    first = client.push(rows(0, 1000), "me/ticks", time_column="date", partition="year")
    proxy.clear()
    proxy.add(Rule("PUT", "/" + document.replace(".", r"\.") + "$", "503", times=100))
    result = second_push(client, mode)  # must not raise: the manifest is live
    manifest = client.manifest("me/ticks")
    assert proxy.committed("PUT", MANIFEST) == 1
    assert (result.publish_id, manifest.parent_publish_id) == (
        manifest.publish_id,
        first.publish_id,
    )
    assert len(client.load("me/ticks")) == 1100
    assert len(result.warnings) == 1
    assert f"but writing {document} failed" in result.warnings[0]
    assert "od index rebuild" in result.warnings[0]
    assert result.warnings[0] in caplog.text


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_a_real_conflict_behind_an_ambiguous_reply(
    proxy: FaultProxy, bucket: str, s3_env: str, mode: str
) -> None:
    """Our manifest PUT never reached the store, and meanwhile another producer committed."""
    client = via(proxy, bucket)
    other = direct(s3_env, bucket)
    client.push(rows(0, 1000), "me/ticks", time_column="date", partition="year")
    proxy.clear()
    done: list[od.PushResult] = []

    def other_commits() -> None:
        if not done:
            if mode == "append":
                done.append(other.push(rows(2000, 50, "other"), "me/ticks", mode="append"))
            else:
                done.append(other.push(rows(0, 10, "other"), "me/ticks", time_column="date"))

    proxy.add(Rule("PUT", MANIFEST, "503", times=3, before=other_commits))
    if mode == "replace":
        with pytest.raises(od.ConflictError, match="another publish committed first"):
            second_push(client, mode)
        assert client.manifest("me/ticks").publish_id == done[0].publish_id
        assert set(client.load("me/ticks")["tag"]) == {"other"}
        return
    result = second_push(client, mode)  # the append re-merged onto the other's version
    manifest = client.manifest("me/ticks")
    assert manifest.publish_id == result.publish_id
    assert manifest.parent_publish_id == done[0].publish_id
    out = client.load("me/ticks")
    assert len(out) == 1000 + 50 + 100
    assert not out.duplicated(["date"]).any()


def test_concurrent_appenders_never_duplicate_rows(s3_env: str) -> None:
    """N producers by M appends, each to its own dataset, one bucket and one index.json."""
    bucket = new_bucket(s3_env)
    producers, appends, batch = 6, 8, 5
    errors: list[BaseException] = []

    def produce(p: int) -> None:
        client = od.Client(store=f"s3://{bucket}")
        try:
            for a in range(appends):
                client.push(rows(a * batch, batch), f"me/p{p}", mode="append", time_column="date")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    client = od.Client(store=f"s3://{bucket}")
    for p in range(producers):
        out = client.load(f"me/p{p}")
        assert out["v"].tolist() == list(range(appends * batch)), f"me/p{p}"


def test_a_direct_store_append_that_keeps_losing_backs_off_with_jitter(
    proxy: FaultProxy, bucket: str, s3_env: str
) -> None:
    """No registry to rebase: each lost race is merged again after a growing, jittered wait."""
    from opendata._publish import APPEND_BACKOFF

    client = via(proxy, bucket)
    other = direct(s3_env, bucket)
    client.push(rows(0, 10), "me/ticks", time_column="date", partition="year")
    proxy.clear()
    won: list[od.PushResult] = []

    def other_appends() -> None:  # to the same partition (2020): a real conflict each time
        won.append(other.push(rows(100 + 10 * len(won), 10, "other"), "me/ticks", mode="append"))

    proxy.add(Rule("PUT", MANIFEST, "delay", hang=0, times=3, before=other_appends))
    slept: list[float] = []
    client._writer.sleep = slept.append  # the waits, recorded instead of slept
    result = client.push(rows(1000, 10), "me/ticks", mode="append")
    assert len(won) == 3 and len(slept) == 3
    # Full jitter under a doubling ceiling: uniform in [0, base * 2**(n-1)] before retry n.
    assert all(0 <= s <= APPEND_BACKOFF * 2**n for n, s in enumerate(slept)), slept
    manifest = client.manifest("me/ticks")
    assert manifest.publish_id == result.publish_id
    assert manifest.parent_publish_id == won[-1].publish_id
    out = client.load("me/ticks")
    assert len(out) == 10 + 30 + 10 and not out.duplicated(["date"]).any()
