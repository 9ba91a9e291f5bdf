"""The catalogue snapshot: a fresh database is filled from a few large objects, not three reads
per dataset — with the same rows as a sync from the documents, trusting a line only while the
bucket still says the same, and resuming an interrupted restore without duplicates."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from opendata_core.documents import encode_document
from opendata_core.layout import Layout
from opendata_core.lifecycle import Lifecycle, Trust
from opendata_registry.cli.main import main
from opendata_registry.context import Registry
from opendata_registry.db.models import Dataset as DatasetRow
from opendata_registry.db.models import (
    DatasetTag,
    LifecycleEventRow,
    LifecycleRow,
    Publish,
    Run,
)
from opendata_registry.domain.catalogue import snapshot as snapshot_module
from opendata_registry.domain.catalogue.snapshot import SnapshotInfo
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.store import RegistryStore

from .conftest import SECRET, Dataset, publish
from .test_sync_cli import sync

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def write_lifecycle(store: Any, doc: Lifecycle) -> None:
    import obstore

    obstore.put(store, Layout().lifecycle(doc.dataset_id), encode_document(doc))  # type: ignore[arg-type]


def seed(store: Any, n: int = 12) -> list[str]:
    """``n`` datasets (two with a history, run records, facets), a verified one and a moved
    id's tombstone."""
    ids = []
    for i in range(n):
        ds = f"ns{i % 3}/set-{i}"
        first = publish(
            store,
            Dataset(
                ds,
                title=f"Series {i}",
                topics=["finance", f"topic{i % 4}"],
                published_at=NOW - timedelta(days=2),
                runs=[("success", NOW - timedelta(days=2)), ("failure", NOW - timedelta(days=1))],
            ),
        )
        if i < 2:
            publish(store, Dataset(ds, title=f"Series {i}", parent_publish_id=first.publish_id))
        ids.append(ds)
    write_lifecycle(
        store,
        Lifecycle(
            dataset_id=ids[0],
            trust=Trust(level="verified-publisher", granted_by="ops", review_by=date(2099, 1, 1)),
        ),
    )
    write_lifecycle(
        store, Lifecycle(dataset_id="old/name", status="moved", moved_to=ids[1], since=NOW)
    )
    return ids


def settings_on(settings: Settings, tmp_path: Path, name: str) -> Settings:
    """The same store and database server, another (fresh) database."""
    if settings.database_schema is None:
        return replace(settings, database_url=f"sqlite+aiosqlite:///{tmp_path / name}.db")
    return replace(settings, database_schema=f"{settings.database_schema}_{name}")


@pytest.fixture
def fresh(settings: Settings, tmp_path: Path) -> Any:
    """A fresh database on the same store (its PostgreSQL schema dropped afterwards)."""
    made: list[Settings] = []

    def make(name: str = "fresh") -> Settings:
        made.append(settings_on(settings, tmp_path, name))
        return made[-1]

    yield make
    from .conftest import _drop_schema

    for one in made:
        if one.database_schema:
            asyncio.run(_drop_schema(one.database_schema))


def columns(model: Any, *skip: str) -> list[str]:
    return [c.name for c in model.__table__.columns if c.name not in skip]


def catalogue(settings: Settings) -> dict[str, Any]:
    """Every bucket-derived row, without surrogate keys and sync times."""

    async def go() -> dict[str, Any]:
        registry = Registry(settings)
        try:
            async with registry.sessions() as session:

                async def rows(model: Any, *skip: str) -> list[tuple[Any, ...]]:
                    found = (await session.execute(select(model))).scalars()
                    return sorted(
                        tuple(getattr(r, c) for c in columns(model, *skip)) for r in found
                    )

                datasets = {
                    r.id: {c: getattr(r, c) for c in columns(DatasetRow, "pk", "synced_at")}
                    for r in (await session.execute(select(DatasetRow))).scalars()
                }
                tags = sorted(
                    (ds, f, v)
                    for ds, f, v in await session.execute(
                        select(DatasetRow.id, DatasetTag.facet, DatasetTag.value).join(
                            DatasetTag, DatasetTag.dataset_pk == DatasetRow.pk
                        )
                    )
                )
                return {
                    "datasets": datasets,
                    "tags": tags,
                    "publishes": await rows(Publish),
                    "runs": await rows(Run),
                    "lifecycles": await rows(LifecycleRow, "updated_at"),
                    "events": await rows(LifecycleEventRow),
                }
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())


def without_seen_at(rows: dict[str, Any]) -> dict[str, Any]:
    """``rows`` without when the database first saw each publish."""
    return {**rows, "publishes": [p[:-1] for p in rows["publishes"]]}


class Reads:
    """The keys the registry's store reads (GETs, HEADs) and the prefixes it lists."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gets: list[str] = []
        self.lists: list[str] = []
        get, get_many, etag, listing, read_back = (
            RegistryStore.get,
            RegistryStore.get_many,
            RegistryStore.etag,
            RegistryStore.list,
            RegistryStore.read_back,
        )
        reads = self

        async def counted_get(self: RegistryStore, key: str) -> Any:
            reads.gets.append(key)
            return await get(self, key)

        async def counted_many(self: RegistryStore, keys: Any, **kw: Any) -> Any:
            if self.root is not None:
                reads.gets.extend(keys)  # the S3 path goes through get()
            return await get_many(self, keys, **kw)

        async def counted_read_back(self: RegistryStore, key: str, limit: int) -> Any:
            reads.gets.append(key)
            return await read_back(self, key, limit)

        async def counted_etag(self: RegistryStore, key: str) -> str:
            reads.gets.append(key)
            return await etag(self, key)

        def counted_list(self: RegistryStore, prefix: str) -> Any:
            reads.lists.append(prefix)
            return listing(self, prefix)

        monkeypatch.setattr(RegistryStore, "get", counted_get)
        monkeypatch.setattr(RegistryStore, "get_many", counted_many)
        monkeypatch.setattr(RegistryStore, "etag", counted_etag)
        monkeypatch.setattr(RegistryStore, "read_back", counted_read_back)
        monkeypatch.setattr(RegistryStore, "list", counted_list)

    def documents(self) -> Counter[str]:
        """How many dataset documents were read, by file name."""
        return Counter(k.rsplit("/", 1)[1] for k in self.gets if "/datasets/" in f"/{k}")


def take_snapshot(settings: Settings, *, force: bool = False) -> SnapshotInfo | None:
    async def go() -> SnapshotInfo | None:
        registry = Registry(settings)
        try:
            return await registry.snapshot(force=force)
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())


def snapshotted(
    local_store: Any, settings: Settings, fresh: Any
) -> tuple[list[str], SnapshotInfo, dict[str, Any]]:
    """Seed datasets, sync and snapshot them: their ids, the snapshot and the catalogue a sync
    from the documents alone makes (its /history: the versions it saw)."""
    ids = seed(local_store)
    sync(settings)
    info = take_snapshot(settings)
    assert info is not None and info.parts
    reference = fresh("reference")
    sync(reference, snapshot=False)
    return ids, info, without_seen_at(catalogue(reference))


def test_a_fresh_database_is_filled_from_the_snapshot_with_the_same_rows(
    local_store: Any,
    store_root: Path,
    settings: Settings,
    fresh: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = seed(local_store)
    first = sync(settings)
    assert len(first.updated) == len(ids) and first.listed
    info = take_snapshot(settings)
    assert info is not None and info.datasets == len(ids) + 1  # and the moved id's tombstone
    assert take_snapshot(settings) is None  # nothing published since: not rewritten
    written = catalogue(settings)

    other = fresh()
    reads = Reads(monkeypatch)
    progress: list[tuple[int, int]] = []
    restored = sync(other, progress=lambda d, t: progress.append((d, t)))
    assert not restored.listed and sorted(restored.updated) == sorted(ids)
    assert restored.datasets == len(ids) and restored.problems == []
    assert (restored.publishes_added, restored.runs_added) == (0, 0)  # copied, not discovered
    # No dataset document was read, and the bucket was not listed: one HEAD of index.json,
    # snapshot.json and its parts (the datasets, then the tombstones).
    assert reads.documents() == Counter(), reads.gets
    assert reads.lists == []
    parts = [p.key for p in info.parts]
    assert len(parts) == 2
    assert sorted(reads.gets) == sorted(["index.json", "registry/snapshot.json", *parts])
    assert progress[0] == (0, len(ids) + 1) and progress[-1] == (len(ids) + 1, len(ids) + 1)
    # The same rows as the sync from the documents: entries, search words, facets, history,
    # runs, trust, the tombstone and its events.
    assert catalogue(other) == written
    # ETags were kept: the hourly full listing then finds nothing to read.
    reads.gets.clear()
    again = sync(other, snapshot=False)
    assert again.listed and not again.changed
    assert reads.documents() == Counter()


def test_a_snapshot_older_than_index_json_is_trusted_only_where_the_entry_is_unchanged(
    local_store: Any,
    store_root: Path,
    settings: Settings,
    fresh: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = seed(local_store)
    sync(settings)
    assert take_snapshot(settings) is not None
    # After the snapshot: one dataset republished, one added, one deleted, all straight to the
    # bucket; the periodic sync of the running registry rewrites index.json.
    changed, added, deleted = ids[3], "late/comer", ids[4]
    publish(local_store, Dataset(changed, title="Renamed series"))
    publish(local_store, Dataset(added, title="Late comer"))
    import shutil

    shutil.rmtree(store_root / "datasets" / deleted)
    assert sync(settings).index_written
    expected = catalogue(settings)

    other = fresh()
    reads = Reads(monkeypatch)
    restored = sync(other)
    assert not restored.listed and restored.problems == []
    assert sorted(restored.updated) == sorted([*(set(ids) - {deleted}), added])
    assert restored.from_documents == 3  # changed, added and the deleted one's listing
    # Only the changed and the added datasets' documents were read (one listing each).
    assert reads.documents() == Counter({"manifest.json": 2, "metadata.json": 2, "README.md": 2})
    read = {"/".join(k.split("/")[1:3]) for k in reads.gets if k.startswith("datasets/")}
    assert read == {changed, added}
    # One listing each of those, and of the deleted one (a line index.json no longer names).
    listed = sorted(p.rstrip("/").split("/", 1)[1] for p in reads.lists)
    assert listed == sorted([changed, added, deleted])
    got = catalogue(other)
    assert got["datasets"].keys() == expected["datasets"].keys()
    assert got["datasets"][changed]["title"] == "Renamed series"
    # The same rows, but for the deleted dataset's runs and publishes (a sync keeps those of a
    # dataset that left the bucket) and when each database first saw the republished version.
    live = set(got["datasets"])
    for table in ("runs", "publishes"):
        expected[table] = [r for r in expected[table] if r[0] in live]
    assert without_seen_at(got) == without_seen_at(expected)
    # The new database is in step: a changed-only sync is one HEAD.
    assert not sync(other, changed=True).listed


def test_an_interrupted_restore_goes_on_without_duplicates(
    local_store: Any, settings: Settings, fresh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(local_store, n=25)
    sync(settings)
    take_snapshot(settings)
    expected = catalogue(settings)
    other = fresh()
    real = snapshot_module._commit
    calls = 0

    async def failing(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("the database went away")
        await real(*args, **kwargs)

    monkeypatch.setattr(snapshot_module, "_commit", failing)
    with pytest.raises(OSError, match="went away"):
        sync(other, batch_size=10)
    assert len(catalogue(other)["datasets"]) == 20  # two batches committed
    monkeypatch.setattr(snapshot_module, "_commit", real)
    resumed = sync(other, batch_size=10)
    assert not resumed.listed
    assert sorted(resumed.updated) == sorted(ids)[20:]
    assert catalogue(other) == expected


def test_an_unreadable_part_or_pointer_falls_back_to_the_documents(
    local_store: Any, store_root: Path, settings: Settings, fresh: Any
) -> None:
    ids, info, expected = snapshotted(local_store, settings, fresh)
    # A part whose bytes are not the ones snapshot.json lists: reported, its datasets read.
    part = store_root / info.parts[0].key
    part.write_bytes(part.read_bytes()[:-1] + b"\0")
    corrupt = fresh("corrupt")
    restored = sync(corrupt)
    assert any(info.parts[0].key in p and "sha256" in p for p in restored.problems)
    assert sorted(restored.updated) == sorted(ids)
    assert without_seen_at(catalogue(corrupt)) == expected
    # A part that says it decompresses to more than a part may: not read.
    doc = msgspec.json.decode((store_root / "registry/snapshot.json").read_bytes())
    doc["parts"][0]["raw_bytes"] = snapshot_module.MAX_PART_BYTES + 1
    (store_root / "registry/snapshot.json").write_bytes(json.dumps(doc).encode())
    bomb = fresh("bomb")
    refused = sync(bomb)
    assert any("not read" in p for p in refused.problems)
    assert sorted(refused.updated) == sorted(ids)
    assert without_seen_at(catalogue(bomb)) == expected
    # A pointer that is not JSON: a normal sync (the bucket is listed).
    (store_root / "registry/snapshot.json").write_text("{not json")
    garbage = fresh("garbage")
    listed = sync(garbage)
    assert listed.listed and sorted(listed.updated) == sorted(ids)
    assert without_seen_at(catalogue(garbage)) == expected


def test_a_pointer_cannot_send_the_restore_elsewhere_or_make_it_read_without_bound(
    local_store: Any,
    store_root: Path,
    settings: Settings,
    fresh: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids, info, expected = snapshotted(local_store, settings, fresh)
    pointer_path = store_root / "registry/snapshot.json"
    good = pointer_path.read_bytes()

    def pointer(**changes: Any) -> None:
        doc = json.loads(good)
        for name, value in changes.items():
            if name.startswith("part0_"):
                doc["parts"][0][name[len("part0_") :]] = value
            else:
                doc[name] = value
        pointer_path.write_bytes(json.dumps(doc).encode())

    # A part that names another object of the bucket (a dataset's document, a path out of the
    # snapshot's folder): not read; its datasets are read from their documents.
    victim = f"datasets/{ids[0]}/metadata.json"
    blob = (store_root / victim).read_bytes()
    for n, key in enumerate((victim, f"registry/snapshots/{info.snapshot_id}/../../../{victim}")):
        pointer(
            part0_key=key,
            part0_bytes=len(blob),
            part0_sha256=hashlib.sha256(blob).hexdigest(),
        )
        elsewhere = fresh(f"elsewhere{n}")
        restored = sync(elsewhere)
        assert any(key[:50] in p and "not read" in p for p in restored.problems), restored
        assert sorted(restored.updated) == sorted(ids)
        assert without_seen_at(catalogue(elsewhere)) == expected
    # A part bigger than it says: read no further than its size, and refused.
    pointer(part0_bytes=info.parts[0].bytes - 1)
    short = fresh("short")
    restored = sync(short)
    assert any("size or sha256" in p for p in restored.problems), restored
    assert without_seen_at(catalogue(short)) == expected
    # A part that says it is bigger than any part: not read.
    pointer(part0_bytes=snapshot_module.MAX_PART_BYTES + 1)
    huge = fresh("huge")
    assert any("more than a part may" in p for p in sync(huge).problems)
    assert without_seen_at(catalogue(huge)) == expected
    # A snapshot id this registry does not write (its parts' folder): the snapshot is not used.
    pointer(snapshot_id="../../datasets")
    odd = fresh("odd")
    assert sync(odd).listed
    assert without_seen_at(catalogue(odd)) == expected
    # A pointer bigger than a pointer may be: not used (the bucket is listed).
    pointer_path.write_bytes(good)
    monkeypatch.setattr(snapshot_module, "MAX_POINTER_BYTES", len(good) - 1)
    big = fresh("big")
    assert sync(big).listed
    assert without_seen_at(catalogue(big)) == expected
    monkeypatch.setattr(snapshot_module, "MAX_POINTER_BYTES", len(good))
    fits = fresh("fits")
    assert not sync(fits).listed


def on_endpoint(
    settings: Settings, bucket: str, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """``settings`` on the S3 bucket ``bucket`` at ``endpoint`` (moto, or a proxy before it)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return replace(settings, store=f"s3://{bucket}", aws_endpoint_url=endpoint)


def test_a_snapshot_over_s3_restores_from_its_parts(
    s3_bucket: tuple[str, Any],
    settings: Settings,
    fresh: Any,
    monkeypatch: pytest.MonkeyPatch,
    moto_endpoint: str,
) -> None:
    """moto's S3 server: parts are written and read over HTTP; old snapshots are deleted."""
    import obstore

    name, store = s3_bucket
    on_s3 = on_endpoint(settings, name, moto_endpoint, monkeypatch)
    ids = seed(store, n=30)
    sync(on_s3)
    monkeypatch.setattr(snapshot_module, "PART_DATASETS", 7)
    infos = []
    for _ in range(3):
        publish(store, Dataset(ids[0], title=f"Again {len(infos)}"))
        sync(on_s3)
        info = take_snapshot(on_s3)
        assert info is not None
        infos.append(info)
    # 30 datasets, 7 a part, then the tombstone's part
    assert [p.datasets for p in infos[-1].parts] == [7, 7, 7, 7, 2, 1]
    kept = {
        o["path"].split("/")[2]
        for batch in obstore.list(store, "registry/snapshots/")
        for o in batch
    }
    assert kept == {infos[-2].snapshot_id, infos[-1].snapshot_id}  # the previous one is kept
    expected = catalogue(on_s3)
    other = fresh()
    reads = Reads(monkeypatch)
    restored = sync(replace(other, store=on_s3.store, aws_endpoint_url=moto_endpoint))
    assert not restored.listed and sorted(restored.updated) == sorted(ids)
    assert reads.documents() == Counter()
    assert catalogue(replace(other, store=on_s3.store)) == expected


def test_lost_replies_while_writing_a_snapshot_leave_a_whole_one_current(
    s3_bucket: tuple[str, Any],
    settings: Settings,
    fresh: Any,
    monkeypatch: pytest.MonkeyPatch,
    moto_endpoint: str,
) -> None:
    """The fault proxy between the registry and moto: a part's reply lost (its PUT landed), the
    pointer's PUT refused every time, and the pointer's PUT landing with its replies lost."""
    import obstore

    from opendata_core.errors import OpenDataError
    from tests.faultproxy import FaultProxy, Rule

    name, store = s3_bucket
    proxy = FaultProxy(moto_endpoint).start()
    try:
        on_s3 = on_endpoint(settings, name, proxy.url, monkeypatch)
        ids = seed(store, n=9)
        sync(on_s3)
        monkeypatch.setattr(snapshot_module, "PART_DATASETS", 4)

        def snapshots() -> set[str]:
            return {
                o["path"].split("/")[2]
                for batch in obstore.list(store, "registry/snapshots/")
                for o in batch
            }

        def pointer_id() -> str:
            got = obstore.get(store, "registry/snapshot.json").bytes()
            return str(msgspec.json.decode(bytes(got))["snapshot_id"])

        # A part's PUT lands but its answer is lost: the retry writes the same bytes again.
        proxy.add(Rule("PUT", r"/registry/snapshots/.*/part-00001", "forward-503"))
        first = take_snapshot(on_s3)
        assert first is not None and pointer_id() == first.snapshot_id
        assert proxy.committed("PUT", r"/part-00001") == 2
        # The pointer's PUT refused on every try: the snapshot fails, the old one stays
        # current; its parts are orphans until the next snapshot deletes them.
        proxy.clear()
        publish(store, Dataset(ids[0], title="Again"))
        sync(on_s3)
        proxy.add(Rule("PUT", r"/registry/snapshot\.json$", "503", times=100))
        with pytest.raises(OpenDataError):
            take_snapshot(on_s3)
        assert pointer_id() == first.snapshot_id
        orphans = snapshots() - {first.snapshot_id}
        assert len(orphans) == 1
        expected = without_seen_at(catalogue(on_s3))
        # A restore meanwhile uses the old snapshot and reads the changed dataset's documents.
        proxy.clear()
        old = fresh("old")
        restored = sync(replace(old, store=on_s3.store, aws_endpoint_url=proxy.url))
        assert restored.snapshot == first.snapshot_id and restored.from_documents == 1
        assert without_seen_at(catalogue(replace(old, store=on_s3.store))) == expected
        # The pointer's PUT lands each time but every answer is lost: the writer reports a
        # failure, yet the bucket holds the new pointer, whose parts are all there.
        proxy.add(Rule("PUT", r"/registry/snapshot\.json$", "forward-503", times=100))
        with pytest.raises(OpenDataError):
            take_snapshot(on_s3)
        proxy.clear()
        landed = pointer_id()
        assert landed not in {first.snapshot_id, *orphans}
        assert snapshots() == {first.snapshot_id, landed, *orphans}
        new = fresh("new")
        restored = sync(replace(new, store=on_s3.store, aws_endpoint_url=proxy.url))
        assert restored.snapshot == landed and restored.from_documents == 0
        assert not restored.problems
        assert without_seen_at(catalogue(replace(new, store=on_s3.store))) == expected
        # The next snapshot keeps the one before it and deletes the orphans.
        latest = take_snapshot(on_s3, force=True)
        assert latest is not None
        assert snapshots() == {landed, latest.snapshot_id}
    finally:
        proxy.stop()


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``opendata-registry`` use ``settings``' store and database."""
    env = {
        "OPENDATA_HOME": str(settings.home),
        "OPENDATA_STORE": settings.store,
        "OPENDATA_REGISTRY_DATABASE_URL": settings.database_url,
        "OPENDATA_REGISTRY_SECRET": SECRET.decode(),
    }
    if settings.database_schema:
        env["OPENDATA_REGISTRY_DATABASE_SCHEMA"] = settings.database_schema
    return env


def test_snapshot_and_sync_commands(local_store: Any, settings: Settings, fresh: Any) -> None:
    ids = seed(local_store, n=4)
    sync(settings)
    runner = CliRunner()
    env = cli_env(settings)
    made = runner.invoke(main, ["snapshot", "--json"], env=env)
    assert made.exit_code == 0, made.output
    out = json.loads(made.output)
    assert out["written"] and out["datasets"] == 5 and out["parts"] == 2  # and the tombstone
    again = runner.invoke(main, ["snapshot"], env=env)
    assert again.exit_code == 0 and "up to date" in again.output
    forced = runner.invoke(main, ["snapshot", "--force"], env=env)
    assert forced.exit_code == 0 and "5 datasets in 2 parts" in forced.output
    other = fresh()
    listed = runner.invoke(main, ["sync", "--json", "--no-snapshot"], env=cli_env(other))
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["listed"] is True
    restored = runner.invoke(main, ["sync", "--json"], env=cli_env(fresh("second")))
    assert restored.exit_code == 0, restored.output
    report = json.loads(restored.output)
    assert report["listed"] is False and sorted(report["updated"]) == sorted(ids)
    current = json.loads((Path(settings.store) / "registry/snapshot.json").read_bytes())
    assert report["snapshot"] == current["snapshot_id"] != out["snapshot_id"]  # --force wrote it
    assert report["from_documents"] == 0
    said = runner.invoke(main, ["sync"], env=cli_env(fresh("third")))
    assert said.exit_code == 0, said.output
    assert f"4 datasets from catalogue snapshot {report['snapshot']}" in said.output
    assert "(0 read from their own documents)" in said.output


def test_a_serving_registry_writes_snapshots_and_a_new_one_starts_from_them(
    local_store: Any,
    store_root: Path,
    settings: Settings,
    fresh: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = seed(local_store, n=5)
    pointer = store_root / "registry/snapshot.json"

    async def serve(settings: Settings, until: Any) -> int:
        registry = Registry(settings)
        await registry.start()
        try:
            for _ in range(200):
                if until():
                    break
                await asyncio.sleep(0.05)
            async with registry.sessions() as session:
                return len((await session.execute(select(DatasetRow.id))).all())
        finally:
            await registry.stop()

    # Serving, it syncs at start and writes a snapshot within one interval.
    assert asyncio.run(serve(replace(settings, snapshot_interval=0.2), pointer.exists)) == 5
    info = msgspec.json.decode(pointer.read_bytes(), type=SnapshotInfo)
    assert info.datasets == 6  # and the tombstone
    # A new replica on a fresh database answers from the snapshot: no document read.
    reads = Reads(monkeypatch)
    new = replace(fresh(), snapshot_interval=0)
    assert asyncio.run(serve(new, lambda: True)) == len(ids)
    assert reads.documents() == Counter() and reads.lists == []


def test_hostile_lines_are_refused_and_large_parts_are_cut(
    local_store: Any,
    store_root: Path,
    settings: Settings,
    fresh: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whoever can write the bucket can write a snapshot: a line is checked like a document."""

    import pyarrow as pa

    ids = seed(local_store, n=6)
    sync(settings)
    monkeypatch.setattr(snapshot_module, "PART_BYTES", 20_000)  # a few datasets a part
    info = take_snapshot(settings)
    assert info is not None and len(info.parts) > 2
    assert all(p.raw_bytes <= 20_000 or p.datasets == 1 for p in info.parts)
    codec = pa.Codec("zstd")
    first = info.parts[0]
    data = codec.decompress(
        (store_root / first.key).read_bytes(), decompressed_size=first.raw_bytes, asbytes=True
    )
    lines = msgspec.json.Decoder(snapshot_module.Line).decode_lines(data)
    victim, other = lines[0], lines[1]
    # A line for another id carrying a victim's documents, and ids no key can have.
    forged = [
        msgspec.structs.replace(victim, id=other.id),
        msgspec.structs.replace(victim, id="../../etc"),
        msgspec.structs.replace(victim, id="NS0/Set-0"),
        *lines[2:],
    ]
    raw = b"".join(msgspec.json.encode(line) + b"\n" for line in forged)
    packed = codec.compress(raw, asbytes=True)
    (store_root / first.key).write_bytes(packed)
    pointer = msgspec.json.decode((store_root / "registry/snapshot.json").read_bytes())
    pointer["parts"][0].update(
        raw_bytes=len(raw), bytes=len(packed), sha256=hashlib.sha256(packed).hexdigest()
    )
    (store_root / "registry/snapshot.json").write_bytes(json.dumps(pointer).encode())
    other_db = fresh()
    restored = sync(other_db)
    assert any("../../etc" in p and "not a dataset id" in p for p in restored.problems)
    assert any("NS0/Set-0" in p for p in restored.problems)
    assert any(other.id in p and "another dataset" in p for p in restored.problems)
    # The victim's line is gone and the forged one refused: both are read from their documents.
    assert sorted(restored.updated) == sorted(ids)
    rows = catalogue(other_db)["datasets"]
    assert json.loads(rows[other.id]["metadata_json"])["dataset"]["id"] == other.id
