"""The request path's cache (keys, manifests, shard plans): used while the database is unchanged, dropped the
moment another process writes — on SQLite and on PostgreSQL. And workers that start together
migrate one after the other.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event

from opendata_core.api import DownloadResponse
from opendata_registry.db.engine import create_engine, migrate
from opendata_registry.infra.hotcache import MAX_ENTRIES, HotCache
from opendata_registry.infra.identity import Caller
from opendata_registry.infra.settings import Settings

from .conftest import Dataset, publish
from .test_keys_limits import create_key
from .test_sync_cli import sync

DS = "acme/prices"


def statements(client: Any) -> list[str]:
    """Every SQL statement the app's engine runs from now on (appended as they run)."""
    seen: list[str] = []
    engine = client.app.state.registry.engine.sync_engine

    def record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    return seen


def download(client: Any, headers: dict[str, str]) -> DownloadResponse:
    response = client.post(f"/v1/datasets/{DS}/download", json={}, headers=headers)
    assert response.status_code == 200, response.text
    return msgspec.json.decode(response.content, type=DownloadResponse)


def test_a_repeated_download_reads_nothing_but_the_change_counter(
    local_store: Any, settings: Settings, make_client: Any
) -> None:
    publish(local_store, Dataset(DS))
    key = create_key(settings, "pro")
    headers = {"Authorization": f"Bearer {key}"}
    client = make_client(settings)
    download(client, headers)  # fills the cache: the key and the manifest
    seen = statements(client)
    for _ in range(3):
        download(client, headers)
    # SQLite reads the counter on its own sqlite3 connection; PostgreSQL through the engine.
    assert all("registry_generation" in sql for sql in seen), seen
    assert len(seen) == (3 if settings.database_url.startswith("postgresql") else 0)
    # The kept plan (shards and keys of the range) still checks each request's columns.
    wrong = client.post(f"/v1/datasets/{DS}/download", json={"columns": ["nope"]}, headers=headers)
    assert (wrong.status_code, wrong.json()["code"]) == (422, "column_not_found")


def test_a_sync_by_another_process_is_served_on_the_next_request(
    local_store: Any, settings: Settings, make_client: Any
) -> None:
    first = publish(local_store, Dataset(DS, years=[2023]))
    key = create_key(settings, "pro")
    headers = {"Authorization": f"Bearer {key}"}
    client = make_client(settings)
    assert download(client, headers).manifest.publish_id == first.publish_id
    second = publish(local_store, Dataset(DS, years=[2024], parent_publish_id=first.publish_id))
    sync(settings)  # another Registry, its own engine: as the CLI or another replica would
    got = download(client, headers)
    assert got.manifest.publish_id == second.publish_id
    assert [s.partition for s in got.shards] == ["2024"]


def test_a_full_cache_drops_the_least_recently_used_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}")
        await migrate(engine)
        cache = HotCache(engine)
        try:
            generation = await cache.refresh()
            busy = Caller(tier="pro", subject="key:busy")
            cache.remember_caller(generation, "busy", busy)
            for i in range(MAX_ENTRIES):  # one more than fits, the busy key in use meanwhile
                cache.remember_caller(generation, f"k{i}", Caller(tier="free", subject=f"{i}"))
                assert cache.caller("busy") == busy
            assert cache.caller("k0") is None  # the least recently used
            assert cache.caller("k1") is not None and cache.caller(f"k{MAX_ENTRIES - 1}")
        finally:
            cache.close()
            await engine.dispose()

    asyncio.run(scenario())


_MIGRATE = """
import asyncio, sys
from opendata_registry.db.engine import create_engine, migrate
async def go():
    engine = create_engine(sys.argv[1])
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
print("ready", flush=True)
sys.stdin.readline()  # the barrier: released when every worker is ready
asyncio.run(go())
"""


def test_workers_starting_together_migrate_one_after_the_other(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for p in procs:  # each has imported everything and waits
        assert p.stdout is not None and p.stderr is not None
        assert p.stdout.readline() == b"ready\n", p.stderr.read().decode()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        p.stdin.flush()
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
