"""Catalogue sync (idempotent, safe while publishing), the admin CLI and the settings."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opendata_core.errors import OpenDataError
from opendata_registry.cli.main import main
from opendata_registry.context import Registry
from opendata_registry.domain.catalogue.sync import SyncReport
from opendata_registry.infra.settings import Settings

from .conftest import Dataset, publish


def sync(settings: Settings, **options: Any) -> SyncReport:
    """One ``Registry.sync(wait=True, **options)`` on a migrated database."""

    async def go() -> SyncReport:
        registry = Registry(settings)
        try:
            await registry.migrate()
            report = await registry.sync(wait=True, **options)
            assert report is not None
            return report
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())


def test_sync_is_idempotent_and_follows_the_bucket(
    local_store: Any, store_root: Path, settings: Settings
) -> None:
    publish(local_store, Dataset("ecb/fx", runs=[("success", datetime.now(UTC))]))
    publish(local_store, Dataset("fred/unrate"))
    first = sync(settings)
    assert sorted(first.updated) == ["ecb/fx", "fred/unrate"]
    assert (first.publishes_added, first.runs_added, first.index_written) == (2, 1, True)
    again = sync(settings)
    assert not again.changed and not again.index_written and again.datasets == 2
    # A broken document is reported and skipped; the rest still syncs.
    (store_root / "datasets/fred/unrate/manifest.json").write_text("{not json")
    publish(local_store, Dataset("new/one"))
    broken = sync(settings)
    assert broken.updated == ["new/one"]
    assert any("fred/unrate" in p and "manifest.json" in p for p in broken.problems)
    # A dataset deleted from the bucket leaves the catalogue (and index.json).
    import shutil

    shutil.rmtree(store_root / "datasets/ecb")
    gone = sync(settings)
    assert gone.removed == ["ecb/fx"] and gone.index_written
    assert b"ecb/fx" not in (store_root / "index.json").read_bytes()


def test_sync_while_publishing(local_store: Any, settings: Settings) -> None:
    publish(local_store, Dataset("ecb/fx"))
    sync(settings)
    stop = threading.Event()
    published: list[str] = []

    def publisher() -> None:
        parent = None
        t0 = datetime.now(UTC)
        for i in range(15):
            ds = Dataset("ecb/fx", parent_publish_id=parent, published_at=t0 + timedelta(seconds=i))
            parent = publish(local_store, ds).publish_id
            published.append(parent)
        stop.set()

    thread = threading.Thread(target=publisher)
    thread.start()
    reports = []
    while not stop.is_set():
        reports.append(sync(settings))
    thread.join()
    final = sync(settings)
    assert not any(r.problems for r in [*reports, final])

    async def current() -> tuple[str, int]:
        from opendata_registry.domain.catalogue.services import CatalogueService

        registry = Registry(settings)
        try:
            async with registry.sessions() as session:
                service = CatalogueService(session, settings)
                detail = await service.detail("ecb/fx")
                history = await service.history("ecb/fx")
            return detail.manifest.publish_id, history.total
        finally:
            await registry.engine.dispose()

    publish_id, seen = asyncio.run(current())
    assert publish_id == published[-1]
    assert 2 <= seen <= 16


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    from obstore.store import LocalStore

    home = tmp_path / "home"
    monkeypatch.setenv("OPENDATA_HOME", str(home))
    publish(LocalStore(home / "store", mkdir=True), Dataset("ecb/fx"))
    return home


def test_cli_keys_and_sync(cli_env: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--tier", "pro", "--name", "ci", "--json"])
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)["key"]
    assert key.startswith("od_live_")
    listed = runner.invoke(main, ["keys", "list", "--json"])
    rows = json.loads(listed.output)
    assert [(r["tier"], r["name"], r["revoked_at"]) for r in rows] == [("pro", "ci", None)]
    assert key not in listed.output and key[:14] in listed.output
    revoked = runner.invoke(main, ["keys", "revoke", rows[0]["prefix"]])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert json.loads(runner.invoke(main, ["keys", "list", "--json"]).output)[0]["revoked_at"]
    missing = runner.invoke(main, ["keys", "revoke", "od_live_nothing"])
    assert missing.exit_code == 1 and "matches no key" in missing.output
    bad_tier = runner.invoke(main, ["keys", "create", "--tier", "gold"])
    assert bad_tier.exit_code == 2 and "gold" in bad_tier.output
    synced = runner.invoke(main, ["sync", "--json"])
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.output)["datasets"] == 1


def test_cli_reports_bad_settings_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENDATA_STORE", "gs://bucket")
    result = CliRunner().invoke(main, ["sync"])
    assert result.exit_code == 1
    assert "unknown store scheme 'gs'" in result.output and "hint:" in result.output


def test_settings_defaults_follow_opendata_home(tmp_path: Path) -> None:
    s = Settings.from_env({"OPENDATA_HOME": str(tmp_path)})
    assert s.store == str(tmp_path / "store")
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'registry' / 'registry.db'}"
    assert s.redis_url is None and s.sync_interval == 60
    # The generated secret is kept and reused (replicas on one home share it).
    assert Settings.from_env({"OPENDATA_HOME": str(tmp_path)}).secret == s.secret
    assert (tmp_path / "registry" / "secret").stat().st_mode & 0o077 == 0
    assert "secret" not in repr(s).lower().replace("secret=", "")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENDATA_REGISTRY_SECRET": "short"}, "OPENDATA_REGISTRY_SECRET is too short"),
        ({"OPENDATA_REGISTRY_SYNC_INTERVAL": "soon"}, "OPENDATA_REGISTRY_SYNC_INTERVAL='soon'"),
        ({"OPENDATA_REGISTRY_TIERS": "[1]"}, "OPENDATA_REGISTRY_TIERS is not a JSON object"),
        ({"OPENDATA_REGISTRY_TIERS": '{"gold": {}}'}, "unknown tier 'gold'"),
        (
            {"OPENDATA_REGISTRY_TIERS": '{"free": {"requests_per_min": 5}}'},
            "free.requests_per_min=5 is not a known positive limit",
        ),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(OpenDataError, match=message.replace("[", r"\[")):
        Settings.from_env({"OPENDATA_HOME": str(tmp_path), **env})


def test_tier_overrides(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "OPENDATA_HOME": str(tmp_path),
            "OPENDATA_REGISTRY_TIERS": '{"free": {"requests_per_minute": 7}}',
        }
    )
    assert s.tier("free").requests_per_minute == 7
    assert s.tier("pro").requests_per_minute == 3000
    assert s.tier("no-such-tier").name == "anonymous"
