"""Registry fixtures: a store with datasets written from core's Structs, a database, an app.

Datasets are written without the client: :func:`publish` builds ``manifest.json``,
``metadata.json``, ``README.md``, shards (dummy bytes with their real sha256) and run records.
The database fixture runs every test on SQLite AND on the PostgreSQL server on 127.0.0.1 (each
test in its own schema, dropped afterwards, so parallel runs do not collide).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from opendata_core.api import TierLimits
from opendata_core.blocks import hash_blocks
from opendata_core.documents import (
    Field,
    IndexEntry,
    Manifest,
    MetadataDocument,
    Provenance,
    RunRecord,
    Shard,
    encode_document,
    schema_hash,
)
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.metadata import DatasetMetadata, Geo, Source
from opendata_registry.app import create_app
from opendata_registry.infra.settings import DEFAULT_TIERS, Settings
from tests._processes import refused_port

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SECRET = b"test-secret-" + b"x" * 32
SCHEMA = [
    Field(name="date", type="date32[day]", nullable=False),
    Field(name="value", type="double"),
]


@dataclass
class Dataset:
    """What :func:`publish` writes for one dataset."""

    id: str
    title: str = "A dataset"
    description: str = "Numbers about things."
    license: str = "CC-BY-4.0"
    topics: list[str] = field(default_factory=lambda: ["finance"])
    frequency: str | None = "daily"
    geo: Geo | None = None
    years: list[int] = field(default_factory=lambda: [2023, 2024])
    published_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    publish_id: str = field(default_factory=lambda: secrets.token_hex(8))
    parent_publish_id: str | None = None
    schema: list[Field] = field(default_factory=lambda: list(SCHEMA))
    readme: str = "# Readme\n"
    runs: list[tuple[str, datetime]] = field(default_factory=list)
    """(status, started_at) of run records to write."""
    shard_paths: list[str] | None = None
    """Override the manifest's shard paths (to test escapes)."""
    blocks: bool = False
    """Format 1.1 shards: cut into two verified blocks, with a null count for the last column."""
    shard_data: Callable[[int], bytes] | None = None
    """A year's shard bytes (real Parquet for the exports), instead of :func:`shard_bytes`."""


def shard_bytes(dataset_id: str, year: int, publish_id: str = "") -> bytes:
    return f"PAR1 {dataset_id} {year} {publish_id} ".encode() * 40


def publish(store: Any, ds: Dataset, layout: Layout | None = None) -> Manifest:
    """Write one dataset's documents and shards to an obstore store."""
    import obstore

    layout = layout or Layout()
    shards = []
    for i, year in enumerate(ds.years):
        data = ds.shard_data(year) if ds.shard_data else shard_bytes(ds.id, year)
        digest = hashlib.sha256(data).hexdigest()
        path = f"parts/{digest}.parquet"
        if ds.shard_paths is not None:
            path = ds.shard_paths[i]
        else:
            obstore.put(store, layout.shard(ds.id, digest), data)  # type: ignore[arg-type]
        shards.append(
            Shard(
                path=path,
                sha256=digest,
                rows=365,
                bytes=len(data),
                partition=str(year),
                min=f"{year}-01-01",
                max=f"{year}-12-31",
                null_counts={ds.schema[-1].name: 1} if ds.blocks else {},
                blocks=hash_blocks(data, [len(data) // 2]) if ds.blocks else [],
            )
        )
    manifest = Manifest(
        dataset_id=ds.id,
        publish_id=ds.publish_id,
        published_at=ds.published_at,
        parent_publish_id=ds.parent_publish_id,
        time_column="date",
        partition="year",
        schema=ds.schema,
        schema_hash=schema_hash(ds.schema),
        row_count=365 * len(shards),
        bytes=sum(s.bytes for s in shards),
        min_time=shards[0].min if shards else None,
        max_time=shards[-1].max if shards else None,
        shards=shards,
    )
    meta = DatasetMetadata(
        id=ds.id,
        title=ds.title,
        description=ds.description,
        license=ds.license,
        repo=f"https://github.com/{ds.id.split('/')[0]}/repo",
        source=Source(provider="Provider"),
        topics=ds.topics,
        frequency=ds.frequency,
        geo=ds.geo,
        time_column="date",
    )
    provenance = Provenance(repo=meta.repo, commit="c0ffee", run_url="https://ci/run/1")
    doc = MetadataDocument(
        dataset=meta,
        stats=manifest.stats(),
        schema=ds.schema,
        preview=[{"date": "2023-01-01", "value": 1.5}],
        updated_at=ds.published_at,
        provenance=provenance,
    )
    obstore.put(store, layout.metadata(ds.id), encode_document(doc))  # type: ignore[arg-type]
    obstore.put(store, layout.readme(ds.id), ds.readme.encode())  # type: ignore[arg-type]
    for n, (status, started) in enumerate(ds.runs):
        run_id = f"r{n}{secrets.token_hex(3)}"
        record = RunRecord(
            dataset_id=ds.id,
            run_id=run_id,
            status=status,  # type: ignore[arg-type]
            error_class="network" if status == "failure" else None,
            message="GET upstream: 503 after 3 attempts" if status == "failure" else None,
            started_at=started,
            finished_at=started + timedelta(seconds=30),
            stats=manifest.stats() if status == "success" else None,
            publish_id=ds.publish_id if status == "success" else None,
            provenance=provenance,
        )
        key = layout.run_record(ds.id, started, run_id)
        obstore.put(store, key, encode_document(record))  # type: ignore[arg-type]
    # The history entry before the commit (spec §8.1), then the commit itself.
    dsid = DatasetId.parse(ds.id)
    obstore.put(store, layout.version(dsid, ds.publish_id), encode_document(manifest))  # type: ignore[arg-type]
    obstore.put(store, layout.manifest(ds.id), encode_document(manifest))  # type: ignore[arg-type]
    return manifest


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(database URL, schema): a fresh SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}", None
        return
    schema = f"t_{secrets.token_hex(6)}"
    yield PG_URL, schema
    asyncio.run(_drop_schema(schema))


async def _drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    return root


@pytest.fixture
def local_store(store_root: Path) -> Any:
    from obstore.store import LocalStore

    return LocalStore(store_root)


@pytest.fixture
def settings(tmp_path: Path, store_root: Path, database: tuple[str, str | None]) -> Settings:
    url, schema = database
    return Settings(
        home=tmp_path / "home",
        store=str(store_root),
        database_url=url,
        database_schema=schema,
        secret=SECRET,
        sync_interval=0,
    )


def with_tier(settings: Settings, name: str, **limits: int) -> Settings:
    tiers: dict[str, TierLimits] = dict(settings.tiers or DEFAULT_TIERS)
    tiers[name] = replace_struct(tiers[name], **limits)
    return replace(settings, tiers=tiers)


def replace_struct(limits: TierLimits, **values: int) -> TierLimits:
    import msgspec

    return msgspec.structs.replace(limits, **values)


@pytest.fixture
def make_client() -> Iterator[Any]:
    """Start apps for given settings; they are shut down after the test."""
    clients: list[TestClient[Any]] = []

    def make(settings: Settings) -> TestClient[Any]:
        client: TestClient[Any] = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


# -- S3 (moto's server over real HTTP on 127.0.0.1) ----------------------------------------------

AWS = {"AWS_ACCESS_KEY_ID": "AKIDREGISTRYTEST", "AWS_SECRET_ACCESS_KEY": "s3cr3t-registry-test"}


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """A fresh bucket and an obstore handle on it; the AWS_* keys are in the environment."""
    import httpx
    from obstore.store import S3Store

    for key, value in AWS.items():
        monkeypatch.setenv(key, value)
    name = f"reg-{secrets.token_hex(6)}"
    httpx.put(f"{moto_endpoint}/{name}").raise_for_status()
    store = S3Store(
        name,
        endpoint=moto_endpoint,
        region="us-east-1",
        access_key_id=AWS["AWS_ACCESS_KEY_ID"],
        secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    return name, store


def catalogue_rows(
    texts: list[tuple[str, str, str, list[str]]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``datasets`` and ``dataset_tags`` rows (topic tags) for ``(id, title, description,
    topics)`` texts, keyed 1, 2, …, to insert straight into the catalogue tables."""
    now = datetime.now(UTC)
    datasets, tags = [], []
    for pk, (dataset_id, title, description, topics) in enumerate(texts, 1):
        ns, name = dataset_id.split("/")
        entry = IndexEntry(
            id=dataset_id,
            title=title,
            description=description,
            license="CC-BY-4.0",
            repo=f"https://github.com/{ns}/{name}",
            provider="Generated",
            topics=topics,
            frequency="daily",
            updated_at=now,
        )
        datasets.append(
            {
                "pk": pk,
                "id": dataset_id,
                "namespace": ns,
                "title": title,
                "description": description,
                "topics_text": " ".join(topics),
                "license": entry.license,
                "frequency": entry.frequency,
                "updated_at": now,
                "publish_id": f"{pk:016x}",
                "published_at": now,
                "entry_json": msgspec.json.encode(entry).decode(),
                "metadata_json": "{}",
                "manifest_json": "{}",
                "readme": "",
                "synced_at": now,
            }
        )
        tags += [{"dataset_pk": pk, "facet": "topic", "value": t} for t in topics]
    return datasets, tags


async def fill_catalogue(
    engine: Any, schema: str | None, texts: list[tuple[str, str, str, list[str]]]
) -> tuple[Any, list[dict[str, Any]]]:
    """Migrate ``engine``'s database and insert :func:`catalogue_rows` of ``texts``: a session
    factory and the ``datasets`` rows."""
    from sqlalchemy import insert

    from opendata_registry.db.engine import migrate, session_factory
    from opendata_registry.db.models import Dataset as DatasetRow
    from opendata_registry.db.models import DatasetTag

    await migrate(engine, schema=schema)
    sessions = session_factory(engine)
    datasets, tags = catalogue_rows(texts)
    async with sessions() as session, session.begin():
        await session.execute(insert(DatasetRow), datasets)
        await session.execute(insert(DatasetTag), tags)
    return sessions, datasets


@contextmanager
def dead_s3(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, int]]:
    """``settings`` on an S3 store whose endpoint refuses connections, for as long as the block
    lasts (the port is held bound, never listened on): the bucket ``internal-bucket``, prefix
    ``internal-prefix``; and the port."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    with refused_port() as port:
        yield (
            replace(
                settings,
                store="s3://internal-bucket/internal-prefix",
                aws_endpoint_url=f"http://127.0.0.1:{port}",
                aws_region="us-east-1",
            ),
            port,
        )


class Records(logging.Handler):
    """The registry's log messages. (Litestar's logging set-up replaces the root logger's
    handlers when an app starts, pytest's ``caplog`` among them.)"""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def count(self, *parts: str) -> int:
        """How many messages contain every one of ``parts``."""
        return sum(all(p in m for p in parts) for m in self.messages)


@pytest.fixture
def registry_log() -> Iterator[Records]:
    """Collects the ``opendata_registry`` logger's messages (every level) during the test."""
    logger = logging.getLogger("opendata_registry")
    records = Records()
    level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    yield records
    logger.removeHandler(records)
    logger.setLevel(level)
