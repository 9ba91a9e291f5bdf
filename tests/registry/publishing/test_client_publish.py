"""The client publishing through a real registry process (registry part 2, client side).

A real ``opendata-registry serve`` process over the local folder store (its own HMAC-signed
``PUT /files/…`` upload URLs), trusting the local OIDC issuer. The producer side is ``od run`` in
a simulated GitHub Actions job: ``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN`` point at the issuer's
token endpoint, which mints a fresh GitHub-like token per request. No storage setting reaches
the producer: only ``OPENDATA_REGISTRY``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

import opendata as od
from opendata._registry import RegistryStore
from opendata_cli.main import cli
from tests.faultproxy import FaultProxy, Rule
from tests.registry.publishing.issuer import AUDIENCE, Issuer
from tests.registry.test_live import start, stop

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


@pytest.fixture
def registry(tmp_path: Path, issuer: Issuer) -> Iterator[tuple[str, Path]]:
    """A registry process over ``home/store`` that trusts the local issuer: (url, store)."""
    home = tmp_path / "registry"
    proc, url = start(
        home,
        {"OPENDATA_REGISTRY_OIDC_ISSUER": issuer.url, "OPENDATA_REGISTRY_OIDC_AUDIENCE": AUDIENCE},
    )
    try:
        yield url, home / "store"
    finally:
        log = stop(proc)
        assert "Traceback" not in log, log[-4000:]


@pytest.fixture
def actions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, issuer: Issuer) -> None:
    """A GitHub Actions job of acme/fx-rates with ``id-token: write`` (and no store secret)."""
    for name in ("OPENDATA_STORE", "OPENDATA_API_KEY", "OPENDATA_PUBLISH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    repo = quote(json.dumps({"full_name": DS}))
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{issuer.url}/token?repo={repo}")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "actions-request-token")
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "producer"))


def producer(folder: Path, **spec: Any) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "opendata.yaml").write_text(YAML)
    (folder / "main.py").write_text(MAIN)
    (folder / "spec.json").write_text(json.dumps(spec))
    return folder


def od_run(folder: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["run", str(folder), "--json", *flags])
    return result.exit_code, json.loads(result.stdout)


def parts(store: Path) -> set[str]:
    return {p.name for p in (store / "datasets" / DS / "parts").glob("*.parquet")}


def test_od_run_publishes_through_the_registry_from_actions(
    registry: tuple[str, Path], actions: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, store = registry
    monkeypatch.setenv("OPENDATA_REGISTRY", url)
    folder = producer(tmp_path / "fx", days=5)

    # First run: the dataset did not exist; the job's OIDC token registers it.
    code, out = od_run(folder)
    assert code == 0, out
    assert out["status"] == "success" and out["shards_written"] == 5
    assert len(parts(store)) == 5
    detail = httpx.get(f"{url}/v1/datasets/{DS}").json()
    assert detail["manifest"]["publish_id"] == out["publish_id"]
    assert detail["manifest"]["provenance"]["verified_by"] == "github-oidc"
    assert rows(od.load(DS)) == rows(frame(5))

    # Second run: one more day; only that day's shard is uploaded.
    producer(folder, days=6)
    before = parts(store)
    code, out = od_run(folder)
    assert code == 0, out
    assert (out["shards_written"], out["shards_reused"]) == (1, 5)
    assert len(parts(store) - before) == 1
    assert rows(od.load(DS)) == rows(frame(6))
    live = out["publish_id"]

    # A changed schema is refused (naming the column), then accepted with the flag.
    producer(folder, days=6, extra=True)
    code, out = od_run(folder)
    assert code != 0 and out["status"] == "failure"
    assert out["error_class"] == "validation" and "source" in out["message"], out
    assert httpx.get(f"{url}/v1/datasets/{DS}").json()["manifest"]["publish_id"] == live
    code, out = od_run(folder, "--allow-schema-change")
    assert code == 0, out
    assert out["schema_changed"] is True
    assert list(od.load(DS).columns) == ["date", "rate", "source"]

    # A failing main.py leaves a failure run record in the dataset's health.
    producer(folder, fail=True)
    code, out = od_run(folder)
    assert code == 1 and out["status"] == "failure"
    health = httpx.get(f"{url}/v1/datasets/{DS}").json()["health"]
    assert health["status"] == "failing"
    assert health["last_failure_class"] == out["error_class"]


def test_a_lost_commit_reply_is_retried_and_commits_once(
    registry: tuple[str, Path], actions: None, tmp_path: Path
) -> None:
    url, store = registry
    proxy = FaultProxy(url).start()
    try:
        # The registry commits, then the reply is lost (the connection is reset).
        proxy.add(Rule("POST", r"/commit$", "forward-reset"))
        client = od.Client(RegistryStore(proxy.url))
        yaml = producer(tmp_path / "fx", days=3) / "opendata.yaml"
        result = client.push(frame(3), DS, metadata=yaml)
        proxy.wait_idle()
        assert proxy.committed("POST", r"/commit$") == 2  # the first and the retried send
        commits = [e for e in proxy.log if e.method == "POST" and e.path.endswith("/commit")]
        assert len(commits) == 2 and commits[0].action == "forward-reset"
        detail = httpx.get(f"{url}/v1/datasets/{DS}").json()
        assert detail["manifest"]["publish_id"] == result.publish_id
        assert detail["manifest"]["row_count"] == 3
        # One publish: one run record, though the commit was sent twice.
        files = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
        assert len([f for f in files if "/runs/" in f]) == 1, files
        assert rows(client.load(DS)) == rows(frame(3))
    finally:
        proxy.stop()
