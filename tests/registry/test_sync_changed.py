"""Incremental sync: ``sync --changed`` and the periodic sync list the bucket only when
``index.json`` changed, and read only the changed datasets' documents (counted); a running
registry picks up a publish made straight to the bucket within one sync interval."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

import opendata as od
from opendata_registry.cli.main import main
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.store import RegistryStore

from .test_live import start, stop
from .test_sync_cli import sync


def frame(version: int) -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=5, freq="D")
    return pd.DataFrame({"date": days.date, "value": [float(version + d) for d in range(5)]})


def push(store_root: Path, dataset_id: str, version: int = 1) -> None:
    """A direct-store publish with the client (documents, shards and its index.json update)."""
    od.Client(store=store_root).push(frame(version), dataset_id, time_column="date")


class Reads:
    """Every store call the registry makes, by kind: the keys read, listed and HEADed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: Counter[str] = Counter()
        self.read: list[str] = []
        counting = self

        get, get_many, listing, etag = (
            RegistryStore.get,
            RegistryStore.get_many,
            RegistryStore.list,
            RegistryStore.etag,
        )

        async def counted_get(self: RegistryStore, key: str) -> Any:
            counting.calls["get"] += 1
            counting.read.append(key)
            return await get(self, key)

        async def counted_get_many(self: RegistryStore, keys: Any, **kw: Any) -> Any:
            counting.calls["get"] += len(keys)
            counting.read.extend(keys)
            return await get_many(self, keys, **kw)

        def counted_list(self: RegistryStore, prefix: str) -> Any:
            counting.calls["list"] += 1
            return listing(self, prefix)

        async def counted_etag(self: RegistryStore, key: str) -> Any:
            counting.calls["head"] += 1
            return await etag(self, key)

        monkeypatch.setattr(RegistryStore, "get", counted_get)
        monkeypatch.setattr(RegistryStore, "get_many", counted_get_many)
        monkeypatch.setattr(RegistryStore, "list", counted_list)
        monkeypatch.setattr(RegistryStore, "etag", counted_etag)

    def reset(self) -> None:
        self.calls.clear()
        self.read.clear()

    def datasets_read(self) -> set[str]:
        """The datasets whose documents were read (``datasets/<ns>/<name>/...``)."""
        return {"/".join(k.split("/")[1:3]) for k in self.read if k.startswith("datasets/")}


def test_changed_sync_reads_only_what_was_published_since(
    store_root: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for ds in ("me/alpha", "me/beta", "me/gamma"):
        push(store_root, ds)
    reads = Reads(monkeypatch)
    first = sync(settings, changed=True)  # never synced: lists like a full sync
    assert sorted(first.updated) == ["me/alpha", "me/beta", "me/gamma"] and first.listed
    reads.reset()
    quiet = sync(settings, changed=True)
    # Nothing published: one HEAD of index.json, no listing, no document read.
    assert (quiet.listed, quiet.datasets, quiet.changed) == (False, 3, False)
    assert reads.calls == {"head": 1}
    push(store_root, "me/alpha", version=2)
    push(store_root, "me/delta")
    reads.reset()
    after = sync(settings, changed=True)
    assert after.listed and sorted(after.updated) == ["me/alpha", "me/delta"]
    assert after.publishes_added == 2
    assert reads.datasets_read() == {"me/alpha", "me/delta"}
    assert reads.calls["list"] == 1 and reads.calls["head"] == 1
    reads.reset()
    assert not sync(settings, changed=True).listed
    assert reads.calls == {"head": 1}
    # A full sync lists (and reads nothing: every ETag is known).
    reads.reset()
    full = sync(settings, changed=False)
    assert full.listed and not full.changed and reads.datasets_read() == set()


def test_a_publish_during_the_listing_is_left_for_the_next_changed_sync(
    store_root: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """index.json rewritten by a producer after the sync read its ETag: the sync must not
    remember the new ETag (its listing may have missed that publish)."""
    push(store_root, "me/alpha")
    real = RegistryStore.list
    late = {"done": False}

    async def list_then_publish(self: RegistryStore, prefix: str) -> Any:
        async for obj in real(self, prefix):
            yield obj
        if not late["done"]:
            late["done"] = True
            await asyncio.to_thread(push, store_root, "me/late")

    monkeypatch.setattr(RegistryStore, "list", list_then_publish)
    first = sync(settings, changed=True)
    assert first.updated == ["me/alpha"]
    monkeypatch.setattr(RegistryStore, "list", real)
    index = json.loads((store_root / "index.json").read_bytes())
    assert {e["id"] for e in index["datasets"]} == {"me/alpha", "me/late"}  # not overwritten
    second = sync(settings, changed=True)
    assert second.listed and second.updated == ["me/late"]


def test_sync_command_changed_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "store"))
    push(tmp_path / "store", "me/alpha")
    runner = CliRunner()
    first = json.loads(runner.invoke(main, ["sync", "--changed", "--json"]).stdout)
    assert (first["updated"], first["listed"]) == (["me/alpha"], True)
    quiet = runner.invoke(main, ["sync", "--changed"])
    assert quiet.exit_code == 0
    assert "1 datasets; index.json unchanged since the last sync" in quiet.stdout


def test_running_registry_picks_up_a_direct_publish_within_one_interval(tmp_path: Path) -> None:
    home = tmp_path / "home"
    push(home / "store", "me/first")
    interval = 2.0
    proc, url = start(home, {"OPENDATA_REGISTRY_SYNC_INTERVAL": str(interval)})
    try:
        assert httpx.get(f"{url}/v1/datasets/me/first").status_code == 200
        push(home / "store", "me/direct")
        published = time.monotonic()
        seen = None
        while time.monotonic() - published < 30:
            if httpx.get(f"{url}/v1/datasets/me/direct").status_code == 200:
                seen = time.monotonic() - published
                break
            time.sleep(0.05)
        assert seen is not None, stop(proc)
        # One interval (with its ±10 % jitter), plus the sync itself on a busy machine.
        assert seen <= interval * 1.1 + 2.0, f"picked up after {seen:.1f} s"
    finally:
        stop(proc)


def test_a_publish_through_the_registry_keeps_the_catalogue_in_step(
    store_root: Path, local_store: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry's commit path (sync_dataset, then write_index) leaves index.json as the one
    the catalogue is in step with: the next changed sync does not list the bucket."""
    from opendata_registry.context import Registry
    from opendata_registry.domain.catalogue.sync import sync_dataset, write_index

    from .conftest import Dataset, publish

    push(store_root, "me/alpha")
    sync(settings, changed=True)
    publish(local_store, Dataset("me/through"))  # the documents a registry commit wrote

    async def commit() -> bool:
        registry = Registry(settings)
        try:
            await sync_dataset(registry.sessions, registry.store, "me/through")
            return await write_index(registry.sessions, registry.store, attempts=5)
        finally:
            await registry.engine.dispose()

    assert asyncio.run(commit())
    reads = Reads(monkeypatch)
    quiet = sync(settings, changed=True)
    assert (quiet.listed, quiet.datasets) == (False, 2) and reads.calls == {"head": 1}
    # A producer's publish after that is seen again.
    push(store_root, "me/after")
    assert sync(settings, changed=True).updated == ["me/after"]
