"""The bulk sync: batches committed one by one (checkpoints), resumed after a failure or a kill
without duplicates; an empty SQLite catalogue loaded with its search index and word counts built
once at the end (the same as row by row); the progress bar of ``opendata-registry sync``."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from opendata_registry.cli.main import main
from opendata_registry.context import Registry
from opendata_registry.db.models import Dataset as DatasetRow
from opendata_registry.db.models import DatasetTag, Publish, Run
from opendata_registry.domain.catalogue import sync as sync_module
from opendata_registry.infra.settings import Settings

from .conftest import Dataset, publish
from .test_sync_cli import sync

ROOT = Path(__file__).resolve().parents[2]


def clone(store_root: Path, source: str, n: int) -> list[str]:
    """``n`` copies of dataset ``source`` (documents and run records, ids replaced)."""
    folder = store_root / "datasets" / source
    ids = []
    for i in range(n):
        ds = f"bulk{i % 7}/set-{i}"
        ids.append(ds)
        for path in folder.rglob("*"):
            if path.is_dir() or "parts" in path.parts or "versions" in path.parts:
                continue
            target = store_root / "datasets" / ds / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes().replace(source.encode(), ds.encode()))
    return ids


def counts(settings: Settings) -> dict[str, int]:
    async def go() -> dict[str, int]:
        registry = Registry(settings)
        try:
            async with registry.sessions() as session:
                return {
                    table.__tablename__: (
                        await session.execute(select(func.count()).select_from(table))
                    ).scalar_one()
                    for table in (DatasetRow, Publish, Run, DatasetTag)
                }
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())


def search_index(settings: Settings, *, check: bool = True) -> dict[str, Any] | None:
    """SQLite's search state: the bulk-load flag, the ids each word finds through the FTS5 index
    and the counted vocabulary (``None`` on PostgreSQL). With ``check``, FTS5's integrity check
    first: it fails when the index and the rows differ."""
    if not settings.database_url.startswith("sqlite"):
        return None
    with sqlite3.connect(settings.database_url.split("///", 1)[1]) as conn:
        if check:
            conn.execute(
                "INSERT INTO datasets_fts(datasets_fts, rank) VALUES ('integrity-check', 1)"
            )
        found = {
            word: sorted(
                r[0]
                for r in conn.execute(
                    "SELECT id FROM datasets WHERE pk IN "
                    "(SELECT rowid FROM datasets_fts WHERE datasets_fts MATCH ?)",
                    (word,),
                )
            )
            for word in ("finance", "rates", "rate", "bulk3", "set", "zebra")
        }
        return {
            "bulk_load": conn.execute(
                "SELECT count(*) FROM sync_state WHERE name = 'bulk_load'"
            ).fetchone()[0],
            "found": found,
            "vocabulary": dict(conn.execute("SELECT word, datasets FROM search_vocabulary")),
        }


@pytest.fixture
def bulk(local_store: Any, store_root: Path) -> list[str]:
    """601 datasets, each with one successful run record and two topics."""
    publish(
        local_store,
        Dataset("seed/one", topics=["finance", "rates"], runs=[("success", datetime.now(UTC))]),
    )
    return ["seed/one", *clone(store_root, "seed/one", 600)]


def test_a_failed_sync_resumes_after_its_last_batch_without_duplicates(
    bulk: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opendata_registry.infra.store import RegistryStore

    real = RegistryStore.get_many
    calls = 0

    async def failing(self: RegistryStore, keys: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 4:  # the 4th read fails while batch 3 is written (each read runs ahead)
            raise OSError("the bucket went away")
        return await real(self, keys, **kwargs)

    monkeypatch.setattr(RegistryStore, "get_many", failing)
    thresholds = gc.get_threshold()
    with pytest.raises(OSError, match="went away"):
        sync(settings, batch_size=100)
    assert gc.get_threshold() == thresholds  # the sync's own, given back
    monkeypatch.setattr(RegistryStore, "get_many", real)
    done = counts(settings)
    assert done == {"datasets": 300, "publishes": 300, "runs": 300, "dataset_tags": 600}
    halfway = search_index(settings, check=False)
    if halfway is not None:  # SQLite: a bulk load, its search index not built yet
        assert halfway["bulk_load"] == 1 and halfway["found"]["finance"] == []
    progress: list[tuple[int, int]] = []
    resumed = sync(settings, batch_size=100, progress=lambda d, t: progress.append((d, t)))
    # Only what the failed sync had not committed is read and written again.
    assert len(resumed.updated) == len(bulk) - 300
    assert (resumed.publishes_added, resumed.runs_added, resumed.problems) == (301, 301, [])
    assert progress == [(0, 301), (100, 301), (200, 301), (300, 301), (301, 301)]
    assert counts(settings) == {
        "datasets": 601,
        "publishes": 601,
        "runs": 601,
        "dataset_tags": 1202,
    }
    after = search_index(settings)
    if after is not None:  # the resumed sync finished the bulk load
        assert after["bulk_load"] == 0 and len(after["found"]["finance"]) == 601
        assert after["vocabulary"]["finance"] == 601
    assert not sync(settings).changed


def test_an_empty_catalogue_is_bulk_loaded_to_the_search_a_row_by_row_sync_makes(
    bulk: list[str],
    settings: Settings,
    local_store: Any,
    store_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL indexes by generated column and statement triggers: no bulk mode")
    sync(settings, batch_size=100)
    loaded = search_index(settings)
    assert loaded is not None and loaded["bulk_load"] == 0
    assert len(loaded["found"]["finance"]) == 601 and len(loaded["found"]["bulk3"]) == 86
    # The same catalogue written with the triggers on, row by row.
    rowwise = replace(
        settings, database_url=f"sqlite+aiosqlite:///{store_root.parent / 'rowwise.db'}"
    )

    async def no_bulk(sessions: Any) -> bool:
        return False

    with monkeypatch.context() as patched:
        patched.setattr(sync_module, "begin_bulk_load", no_bulk)
        sync(rowwise, batch_size=100)
    assert search_index(rowwise) == loaded
    # Once loaded, the triggers keep both in step again: a publish and a deletion.
    publish(local_store, Dataset("zoo/zebra", title="Zebra crossings", topics=["finance"]))
    shutil.rmtree(store_root / "datasets" / "bulk3" / "set-3")
    for db in (settings, rowwise):
        report = sync(db)
        assert report.updated == ["zoo/zebra"] and report.removed == ["bulk3/set-3"]
    now = search_index(settings)
    assert now == search_index(rowwise)
    assert now is not None and now["found"]["zebra"] == ["zoo/zebra"]
    assert now["vocabulary"]["finance"] == 601 and now["vocabulary"]["zebra"] == 1
    assert "bulk3/set-3" not in now["found"]["bulk3"]


def test_a_bulk_load_left_unfinished_is_finished_by_the_next_quiet_sync(
    local_store: Any, settings: Settings
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("no bulk mode on PostgreSQL")
    publish(local_store, Dataset("ecb/fx", topics=["finance"]))
    sync(settings)
    # A load that stopped after its last batch, before its index was built.
    with sqlite3.connect(settings.database_url.split("///", 1)[1]) as conn:
        conn.execute("INSERT INTO sync_state (name, value) VALUES ('bulk_load', '')")
        conn.execute("INSERT INTO datasets_fts(datasets_fts) VALUES ('delete-all')")
        conn.execute("DELETE FROM search_vocabulary")
    with pytest.raises(sqlite3.DatabaseError):
        search_index(settings)  # the index no longer matches the rows
    quiet = sync(settings, changed=True)
    assert not quiet.listed  # nothing published: only the unfinished load was finished
    after = search_index(settings)
    assert after is not None and after["bulk_load"] == 0
    assert after["found"]["finance"] == ["ecb/fx"] and after["vocabulary"]["finance"] == 1


def test_a_killed_sync_command_resumes_without_duplicates(
    bulk: list[str], tmp_path: Path, store_root: Path
) -> None:
    """SIGKILL ``opendata-registry sync`` mid-way; the next run goes on from its checkpoint."""
    db = tmp_path / "kill.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "AWS_"))},
        "OPENDATA_HOME": str(tmp_path / "home"),
        "OPENDATA_STORE": str(store_root),
        "OPENDATA_REGISTRY_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
    }
    # The killed process cannot give its lease back: a short lease keeps the test short (the
    # real one lasts 30 s after the last renewal).
    command = [
        sys.executable,
        "-c",
        "import sys, datetime, opendata_registry.context as c; "
        "c._SYNC_LEASE = datetime.timedelta(seconds=1); "
        "from opendata_registry.cli.main import main; main(sys.argv[1:])",
        "sync",
        "--json",
        "--batch-size",
        "20",
    ]

    def committed() -> int:
        if not db.exists():
            return 0
        try:
            with sqlite3.connect(db, timeout=5) as conn:
                return int(conn.execute("SELECT count(*) FROM datasets").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the tables are not created yet

    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while committed() < 40 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = committed()
    assert 40 <= before < len(bulk), f"the kill came too late: {before} committed"
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=300, check=True)
    report = json.loads(done.stdout)
    assert len(report["updated"]) == len(bulk) - before
    assert report["publishes_added"] == len(bulk) - before
    with sqlite3.connect(db) as conn:
        got = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("datasets", "publishes", "runs", "dataset_tags")
        }
    assert got == {"datasets": 601, "publishes": 601, "runs": 601, "dataset_tags": 1202}


def test_sync_command_shows_a_progress_bar(
    local_store: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "store"))
    publish(local_store, Dataset("ecb/fx"))
    result = CliRunner().invoke(main, ["sync", "--progress", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["updated"] == ["ecb/fx"]
    assert "syncing datasets" in result.stderr and "1/1" in result.stderr
