"""The freshness watch (issue 10, point 5): a dataset with no successful publish within its
``frequency`` plus grace is stale, and says why when it can tell (GitHub disables scheduled
workflows after 60 days without repository activity). Shown in the registry's dataset health and
in ``od info`` (text and ``--json``) through that registry: a real registry process over a store
whose run records are dated in the past.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from opendata_cli.main import cli
from tests.registry.conftest import Dataset, publish
from tests.registry.test_live import start, stop

NOW = datetime.now(UTC)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from obstore.store import LocalStore

    home = tmp_path / "home"
    store = LocalStore(home / "store", mkdir=True)
    # Daily, last run and publish 70 days ago: stale, and the schedule was likely disabled.
    old = NOW - timedelta(days=70)
    publish(store, Dataset("acme/asleep", published_at=old, runs=[("success", old)]))
    # Daily, last run 4 days ago: stale (1 day + 48 h grace), the schedule may still be on.
    late = NOW - timedelta(days=4)
    publish(store, Dataset("acme/late", published_at=late, runs=[("success", late)]))
    # Published an hour ago.
    fresh = NOW - timedelta(hours=1)
    publish(store, Dataset("acme/fresh", published_at=fresh, runs=[("success", fresh)]))
    proc, url = start(home)
    for name in ("OPENDATA_STORE", "OPENDATA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "reader"))
    monkeypatch.setenv("OPENDATA_REGISTRY", url)
    try:
        yield url
    finally:
        log = stop(proc)
    assert "Traceback" not in log, log[-4000:]


def test_staleness_and_its_reason_in_health_and_od_info(registry: str) -> None:
    health = httpx.get(f"{registry}/v1/datasets/acme/asleep").json()["health"]
    assert health["status"] == "stale" and health["stale"] is True
    assert "last successful publish 70 days ago" in health["stale_reason"]
    assert "last run 70 days ago" in health["stale_reason"]
    assert "the schedule may have been disabled" in health["stale_reason"]

    text = CliRunner().invoke(cli, ["info", "acme/asleep"])
    assert text.exit_code == 0, text.output
    assert "health: stale" in text.output
    assert "last run 70 days ago: the schedule may have been disabled" in text.output

    out = CliRunner().invoke(cli, ["info", "acme/asleep", "--json"])
    assert out.exit_code == 0, out.output
    found = json.loads(out.stdout)
    assert found["dataset"]["id"] == "acme/asleep"  # the metadata document, as before
    assert found["health"]["status"] == "stale"
    assert found["health"]["stale_reason"] == health["stale_reason"]

    # Stale for 4 days: no schedule guess before GitHub's 60 days.
    late = json.loads(CliRunner().invoke(cli, ["info", "acme/late", "--json"]).stdout)["health"]
    assert late["stale"] is True and "4 days ago" in late["stale_reason"]
    assert "schedule" not in late["stale_reason"]

    fresh = CliRunner().invoke(cli, ["info", "acme/fresh"])
    assert "health: ok" in fresh.output and "stale" not in fresh.output
    as_json = json.loads(CliRunner().invoke(cli, ["info", "acme/fresh", "--json"]).stdout)
    assert as_json["health"]["status"] == "ok" and as_json["health"]["stale"] is False


def test_od_info_on_a_store_has_no_health(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store read directly has no run watch: od info says nothing about health."""
    from obstore.store import LocalStore

    monkeypatch.delenv("OPENDATA_REGISTRY", raising=False)
    store = tmp_path / "store"
    publish(LocalStore(store, mkdir=True), Dataset("acme/fresh"))
    text = CliRunner().invoke(cli, ["info", "acme/fresh", "--store", str(store)])
    assert text.exit_code == 0, text.output
    assert "health" not in text.output
    out = json.loads(
        CliRunner().invoke(cli, ["info", "acme/fresh", "--store", str(store), "--json"]).stdout
    )
    assert "health" not in out
