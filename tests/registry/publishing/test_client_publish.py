"""The client publishing through a real registry process (registry part 2, client side).

A real ``opendata-registry serve`` process, on moto's S3 server (pre-signed PUT URLs straight to
the bucket) and on the local folder store (its own HMAC-signed ``PUT /files/…`` URLs), trusting
the local OIDC issuer. The producer side is ``od run`` in a simulated GitHub Actions job:
``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN`` point at the issuer's token endpoint, which mints a
fresh GitHub-like token per request; or, outside Actions, ``od push`` / ``od run`` with an
admin-created producer token (``OPENDATA_PUBLISH_TOKEN``). No storage setting reaches the
producer: only ``OPENDATA_REGISTRY``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

import opendata as od
from opendata._registry import RegistryTransport
from opendata_cli.main import cli
from opendata_core.errors import SchemaMismatch
from tests.faultproxy import FaultProxy, Rule
from tests.registry.conftest import AWS
from tests.registry.publishing.issuer import AUDIENCE, Issuer
from tests.registry.test_live import BIN, start, stop

DS = "acme/fx-rates"

YAML = """\
id: acme/fx-rates
title: Acme FX rates
description: Daily rates for the end-to-end test of publishing through a registry.
license: CC-BY-4.0
repo: https://github.com/acme/fx-rates
source:
  provider: Acme
frequency: daily
time_column: date
partition: day
primary_key: [date]
"""

MAIN = """\
import json
from pathlib import Path

import pandas as pd


def main():
    spec = json.loads(Path("spec.json").read_text())
    if spec.get("fail"):
        raise ValueError("upstream changed its CSV header")
    days = pd.date_range("2024-01-01", periods=spec["days"], freq="D")
    frame = pd.DataFrame({"date": days.date, "rate": [1.0 + i / 100 for i in range(len(days))]})
    if spec.get("extra"):
        frame["source"] = "ecb"
    return frame
"""


def frame(days: int) -> pd.DataFrame:
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    return pd.DataFrame({"date": dates.date, "rate": [1.0 + i / 100 for i in range(days)]})


def rows(df: pd.DataFrame) -> list[tuple[str, float]]:
    """``(date, rate)`` rows, whatever type the date column came back as."""
    return [(str(pd.Timestamp(d).date()), r) for d, r in zip(df["date"], df["rate"], strict=True)]


@dataclass
class Live:
    """A registry process and a view of its store: ``keys`` lists what is stored under a prefix."""

    url: str
    env: dict[str, str]
    store: Any

    def keys(self, prefix: str) -> set[str]:
        import obstore

        return {str(o["path"]) for batch in obstore.list(self.store, prefix) for o in batch}

    def parts(self) -> set[str]:
        return {k.rsplit("/", 1)[1] for k in self.keys(f"datasets/{DS}/parts/")}

    def runs(self) -> set[str]:
        return self.keys(f"datasets/{DS}/runs/")


@pytest.fixture(params=["s3", "local"])
def registry(request: pytest.FixtureRequest, tmp_path: Path, issuer: Issuer) -> Iterator[Live]:
    """A registry process that trusts the local issuer, on moto's S3 or on a local folder."""
    from obstore.store import LocalStore

    home = tmp_path / "registry"
    env = {"OPENDATA_REGISTRY_OIDC_ISSUER": issuer.url, "OPENDATA_REGISTRY_OIDC_AUDIENCE": AUDIENCE}
    if request.param == "s3":
        name, store = request.getfixturevalue("s3_bucket")
        env |= {
            **AWS,
            "OPENDATA_STORE": f"s3://{name}",
            "AWS_ENDPOINT_URL": request.getfixturevalue("moto_endpoint"),
            "AWS_REGION": "us-east-1",
        }
    else:
        store = LocalStore(home / "store", mkdir=True)
    proc, url = start(home, env)
    try:
        yield Live(url, {"OPENDATA_HOME": str(home), **env}, store)
    finally:
        log = stop(proc)
        assert "Traceback" not in log, log[-4000:]


def no_store_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The producer's environment: no store, no storage key, no CI credentials of its own."""
    for name in (
        "OPENDATA_STORE",
        "OPENDATA_API_KEY",
        "OPENDATA_PUBLISH_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        *AWS,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "producer"))


@pytest.fixture
def actions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, issuer: Issuer, registry: Live
) -> None:
    """A GitHub Actions job of acme/fx-rates with ``id-token: write`` (and no store secret)."""
    no_store_secrets(monkeypatch, tmp_path)
    repo = quote(json.dumps({"full_name": DS}))
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{issuer.url}/token?repo={repo}")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "actions-request-token")
    monkeypatch.setenv("OPENDATA_REGISTRY", registry.url)


def producer(folder: Path, **spec: Any) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "opendata.yaml").write_text(YAML)
    (folder / "main.py").write_text(MAIN)
    (folder / "spec.json").write_text(json.dumps(spec))
    return folder


def od_cli(*args: str) -> tuple[int, dict[str, Any]]:
    """``od ARGS --json`` in this process: (exit code, the JSON it printed, else its text)."""
    result = CliRunner().invoke(cli, [*args, "--json"])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:  # an error before the command's JSON: its text
        return result.exit_code, {"output": result.output}


def od_run(folder: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    return od_cli("run", str(folder), *flags)


def detail(url: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{url}/v1/datasets/{DS}").json()
    return found


def test_od_run_publishes_through_the_registry_from_actions(
    registry: Live, actions: None, tmp_path: Path
) -> None:
    url = registry.url
    folder = producer(tmp_path / "fx", days=5)

    # First run: the dataset did not exist; the job's OIDC token registers it.
    code, out = od_run(folder)
    assert code == 0, out
    assert out["status"] == "success" and out["shards_written"] == 5
    assert len(registry.parts()) == 5
    first = detail(url)
    assert first["manifest"]["publish_id"] == out["publish_id"]
    assert first["manifest"]["provenance"]["verified_by"] == "github-oidc"
    assert first["manifest"]["provenance"]["repo"] == f"https://github.com/{DS}"
    assert rows(od.load(DS)) == rows(frame(5))
    # The first rows and the column statistics travel with the commit into metadata.json.
    assert first["metadata"]["profile"]["publish_id"] == out["publish_id"]
    assert first["metadata"]["profile"]["row_count"] == 5
    assert len(first["metadata"]["preview_head"]) == 5

    # Second run: one more day; exactly one shard is uploaded (counted in the bucket).
    producer(folder, days=6)
    before = registry.parts()
    code, out = od_run(folder)
    assert code == 0, out
    assert (out["shards_written"], out["shards_reused"]) == (1, 5)
    assert len(registry.parts() - before) == 1 and len(registry.parts()) == 6
    assert rows(od.load(DS)) == rows(frame(6))
    live = out["publish_id"]

    # An append through the registry that brings a new column is refused, naming it.
    client = od.Client(RegistryTransport(url))
    yaml = folder / "opendata.yaml"
    with pytest.raises(SchemaMismatch, match="source"):
        client.push(frame(7).tail(1).assign(source="ecb"), DS, metadata=yaml, mode="append")
    assert detail(url)["manifest"]["publish_id"] == live

    # A changed schema is refused (naming the column), then accepted with the flag.
    producer(folder, days=6, extra=True)
    code, out = od_run(folder)
    assert code != 0 and out["status"] == "failure"
    assert out["error_class"] == "validation" and "source" in out["message"], out
    assert detail(url)["manifest"]["publish_id"] == live
    assert len(registry.parts()) == 6  # refused before any upload
    code, out = od_run(folder, "--allow-schema-change")
    assert code == 0, out
    assert out["schema_changed"] is True
    assert list(od.load(DS).columns) == ["date", "rate", "source"]
    assert detail(url)["manifest"]["publish_id"] == out["publish_id"]

    # A failing main.py leaves a failure run record in the dataset's health.
    runs = registry.runs()
    producer(folder, fail=True)
    code, out = od_run(folder)
    assert code == 1 and out["status"] == "failure"
    health = detail(url)["health"]
    assert health["status"] == "failing"
    assert health["last_failure_class"] == out["error_class"] == "parse"
    assert "upstream changed its CSV header" in health["last_failure_message"]
    assert len(registry.runs() - runs) == 1  # its run record, in the store


@contextmanager
def pushed_through_fault(
    registry: Live, rule: Rule, tmp_path: Path, days: int
) -> Iterator[tuple[FaultProxy, od.Client, Any]]:
    """A producer's push of ``days`` rows through a fault proxy applying ``rule``; yields the
    proxy (idle: every request answered), the client and the push's result."""
    proxy = FaultProxy(registry.url).start()
    try:
        proxy.add(rule)
        client = od.Client(RegistryTransport(proxy.url))
        yaml = producer(tmp_path / "fx", days=days) / "opendata.yaml"
        result = client.push(frame(days), DS, metadata=yaml)
        proxy.wait_idle()
        yield proxy, client, result
    finally:
        proxy.stop()


def test_a_lost_commit_reply_is_retried_and_commits_once(
    registry: Live, actions: None, tmp_path: Path
) -> None:
    url = registry.url
    # The registry commits, then the reply is lost (the connection is reset).
    rule = Rule("POST", r"/commit$", "forward-reset")
    with pushed_through_fault(registry, rule, tmp_path, 3) as (proxy, client, result):
        assert proxy.committed("POST", r"/commit$") == 2  # the first and the retried send
        commits = [e for e in proxy.log if e.method == "POST" and e.path.endswith("/commit")]
        assert len(commits) == 2 and commits[0].action == "forward-reset"
        found = detail(url)
        assert found["manifest"]["publish_id"] == result.publish_id
        assert found["manifest"]["row_count"] == 3
        # One publish: one run record, though the commit was sent twice.
        assert len(registry.runs()) == 1, registry.runs()
        assert rows(client.load(DS)) == rows(frame(3))


def test_a_lost_token_exchange_reply_is_retried_with_a_fresh_oidc_token(
    registry: Live, actions: None, tmp_path: Path
) -> None:
    """The registry exchanged the job's token (its jti is now spent), then the reply was lost:
    sending the same token again would be refused, so the client asks Actions for a new one."""
    rule = Rule("POST", r"/v1/auth/github-oidc$", "forward-reset")
    with pushed_through_fault(registry, rule, tmp_path, 2) as (proxy, _client, result):
        exchanges = [e for e in proxy.log if e.path.endswith("/v1/auth/github-oidc")]
        posts = [e for e in exchanges if e.method == "POST"]
        assert [e.action for e in posts][:1] == ["forward-reset"] and len(posts) == 2, posts
        assert proxy.committed("POST", r"/v1/auth/github-oidc$") == 2  # both reached it
        assert detail(registry.url)["manifest"]["publish_id"] == result.publish_id


def race(registry: Live, tmp_path: Path, ours: pd.DataFrame) -> tuple[od.PushResult, list[Any]]:
    """Publish 3 days; another publisher appends day 4 between our upload and our commit.

    Returns our push's result and the commits the proxy forwarded.
    """
    url = registry.url
    yaml = producer(tmp_path / "fx", days=3) / "opendata.yaml"
    od.Client(RegistryTransport(url)).push(frame(3), DS, metadata=yaml)

    def the_other_publisher_commits() -> None:
        other = frame(5).iloc[[3]]  # 2024-01-04
        done = od.Client(RegistryTransport(url)).push(other, DS, metadata=yaml, mode="append")
        assert done.shards_written == 1

    proxy = FaultProxy(url).start()
    try:
        proxy.add(Rule("POST", r"/commit$", "delay", hang=0, before=the_other_publisher_commits))
        result = od.Client(RegistryTransport(proxy.url)).push(
            ours, DS, metadata=yaml, mode="append"
        )
        proxy.wait_idle()
    finally:
        proxy.stop()
    commits = [e for e in proxy.log if e.method == "POST" and e.path.endswith("/commit")]
    return result, commits


def test_an_append_that_loses_the_race_is_rebased_by_the_registry(
    registry: Live, actions: None, tmp_path: Path
) -> None:
    """Another publisher commits between our upload and our commit: the registry puts our
    partition on its version (one commit, no 409), and both publishers' rows are kept."""
    result, commits = race(registry, tmp_path, frame(5).iloc[[4]])  # ours: 2024-01-05
    assert [e.upstream for e in commits] == [200], commits
    found = detail(registry.url)["manifest"]
    assert found["publish_id"] == result.publish_id and found["row_count"] == 5
    assert result.rows == 5  # the committed version's totals, not those of our parent + 1
    # Our statistics described our parent + 1 day, not what was committed: left out.
    assert detail(registry.url)["metadata"]["profile"] is None
    assert rows(od.load(DS)) == rows(frame(5))  # both publishers' rows, none lost or repeated
    assert len(registry.runs()) == 3


def test_an_append_to_the_partition_the_winner_wrote_is_merged_again(
    registry: Live, actions: None, tmp_path: Path
) -> None:
    """Both wrote 2024-01-04: the registry answers 409 naming it (as a registry from before
    rebasing answers any race), and the client merges onto the new version and commits."""
    result, commits = race(registry, tmp_path, frame(5).iloc[[3, 4]])  # ours: 01-04 and 01-05
    assert [e.upstream for e in commits] == [409, 200], commits
    found = detail(registry.url)["manifest"]
    assert found["publish_id"] == result.publish_id and found["row_count"] == 5
    assert rows(od.load(DS)) == rows(frame(5))
    assert len(registry.runs()) == 3


def producer_token(registry: Live, *scope: str) -> str:
    """An admin-made producer token (``opendata-registry tokens create``, a real process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDATA_")}
    made = subprocess.run(
        [str(BIN / "opendata-registry"), "tokens", "create", *scope, "--expires", "1d", "--json"],
        env={**env, **registry.env},
        capture_output=True,
        text=True,
        check=True,
    )
    token: str = json.loads(made.stdout)["token"]
    return token


def test_od_push_and_od_run_publish_with_a_producer_token_outside_actions(
    registry: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = registry.url
    no_store_secrets(monkeypatch, tmp_path)
    monkeypatch.setenv("OPENDATA_REGISTRY", url)
    folder = producer(tmp_path / "fx", days=4)
    csv = tmp_path / "fx.csv"
    frame(4).to_csv(csv, index=False)

    # No credentials at all: refused before any work, and says what to set.
    code, out = od_cli("push", str(csv), DS, "--metadata", str(folder / "opendata.yaml"))
    assert code != 0 and "OPENDATA_PUBLISH_TOKEN" in json.dumps(out), out
    assert registry.parts() == set()

    # A producer token for namespace "globex" cannot publish acme's dataset.
    monkeypatch.setenv("OPENDATA_PUBLISH_TOKEN", producer_token(registry, "--namespace", "globex"))
    code, out = od_cli("push", str(csv), DS, "--metadata", str(folder / "opendata.yaml"))
    assert code != 0 and "globex" in json.dumps(out), out

    # One for acme: `od push` publishes the CSV, then `od run` appends a day.
    monkeypatch.setenv("OPENDATA_PUBLISH_TOKEN", producer_token(registry, "--namespace", "acme"))
    code, out = od_cli("push", str(csv), DS, "--metadata", str(folder / "opendata.yaml"))
    assert code == 0, out
    assert out["shards_written"] == 4 and len(registry.parts()) == 4
    found = detail(url)["manifest"]
    assert found["publish_id"] == out["publish_id"]
    assert found["provenance"]["verified_by"] is None  # a producer token vouches for nothing
    assert found["provenance"]["repo"] is None  # nor names the repository its yaml states
    producer(folder, days=5)
    code, out = od_run(folder)  # a pandas frame's shards: not byte-equal to the CSV's
    assert code == 0, out
    assert out["status"] == "success" and out["schema_changed"] is False
    assert detail(url)["manifest"]["publish_id"] == out["publish_id"]
    assert rows(od.load(DS)) == rows(frame(5))
    before = registry.parts()
    producer(folder, days=6)
    code, out = od_run(folder)
    assert code == 0, out
    assert (out["shards_written"], out["shards_reused"]) == (1, 5)
    assert len(registry.parts() - before) == 1
    assert rows(od.load(DS)) == rows(frame(6))


def test_a_refused_publish_fails_the_run_even_when_the_data_is_unchanged(
    registry: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With another owner's token, a run whose data is unchanged is still the registry's to
    refuse: a failed run (class and exit code), never a green "unchanged" that hides it."""
    no_store_secrets(monkeypatch, tmp_path)
    monkeypatch.setenv("OPENDATA_REGISTRY", registry.url)
    folder = producer(tmp_path / "fx", days=3)
    monkeypatch.setenv("OPENDATA_PUBLISH_TOKEN", producer_token(registry, "--namespace", "acme"))
    code, out = od_run(folder)
    assert code == 0, out
    live = out["publish_id"]

    monkeypatch.setenv("OPENDATA_PUBLISH_TOKEN", producer_token(registry, "--namespace", "globex"))
    code, out = od_run(folder)  # the same three days
    assert code == 3, out
    assert out["status"] == "failure" and out["error_class"] == "permission", out
    assert "globex" in out["message"] and "acme/fx-rates" in out["message"], out
    assert out["published"] is False
    assert detail(registry.url)["manifest"]["publish_id"] == live

    # `od push` of rows identical to the live version is refused the same way.
    csv = tmp_path / "fx.csv"
    frame(3).to_csv(csv, index=False)
    yaml = str(folder / "opendata.yaml")
    monkeypatch.setenv("OPENDATA_PUBLISH_TOKEN", producer_token(registry, "--namespace", "acme"))
    code, pushed = od_cli("push", str(csv), DS, "--metadata", yaml)
    assert code == 0, pushed
    monkeypatch.setenv("OPENDATA_PUBLISH_TOKEN", producer_token(registry, "--namespace", "globex"))
    code, refused = od_cli("push", str(csv), DS, "--metadata", yaml)
    assert code == 3 and "globex" in json.dumps(refused), refused
    assert detail(registry.url)["manifest"]["publish_id"] == pushed["publish_id"]


def test_a_streamed_push_publishes_through_the_registry(
    registry: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generator of frames: each shard to its signed URL once every shard is built; a bad
    batch uploads nothing."""
    no_store_secrets(monkeypatch, tmp_path)
    monkeypatch.setenv("OPENDATA_REGISTRY", registry.url)
    monkeypatch.setenv("OPENDATA_PUBLISH_TOKEN", producer_token(registry, "--namespace", "acme"))
    yaml = producer(tmp_path / "fx", days=6) / "opendata.yaml"
    whole = frame(6)

    def pages(bad: bool = False) -> Iterator[pd.DataFrame]:
        yield whole.iloc[3:]  # out of time order: the shards are sorted all the same
        yield whole.iloc[:3].assign(rate="oops") if bad else whole.iloc[:3]

    with pytest.raises(od.InvalidData, match="column 'rate' of batch 2"):
        od.push(pages(bad=True), DS, metadata=yaml)
    assert registry.parts() == set()
    result = od.push(pages(), DS, metadata=yaml)
    assert (result.rows, result.shards_written) == (6, 6) and len(registry.parts()) == 6
    assert rows(od.load(DS)) == rows(whole)
    found = detail(registry.url)
    assert found["manifest"]["publish_id"] == result.publish_id
