"""A dataset's ``metadata.json`` in the catalogue: zstd-compressed in its SQLite row, plain text on
PostgreSQL, and the same document through the API either way — rows an older registry wrote as
text included."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import text

from opendata_core.documents import MetadataDocument
from opendata_registry.context import Registry
from opendata_registry.domain.catalogue.services import CatalogueService
from opendata_registry.infra.settings import Settings

from .conftest import Dataset, publish
from .test_sync_cli import sync


def detail_metadata(settings: Settings, dataset_id: str) -> MetadataDocument:
    async def go() -> MetadataDocument:
        registry = Registry(settings)
        try:
            async with registry.sessions() as session:
                return (await CatalogueService(session, settings).detail(dataset_id)).metadata
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())


def stored(settings: Settings, dataset_id: str) -> tuple[str, int]:
    """How the row holds the document: its SQL type and its size in bytes."""

    async def go() -> tuple[str, int]:
        registry = Registry(settings)
        try:
            async with registry.engine.connect() as conn:
                sql = (
                    "SELECT typeof(metadata_json), length(metadata_json)"
                    if conn.dialect.name == "sqlite"
                    else "SELECT pg_typeof(metadata_json)::text, octet_length(metadata_json)"
                )
                row = (
                    await conn.execute(
                        text(f"{sql} FROM datasets WHERE id = :id"), {"id": dataset_id}
                    )
                ).one()
                return str(row[0]), int(row[1])
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())


def test_metadata_is_compressed_in_sqlite_and_reads_back_the_same(
    local_store: Any, store_root: Path, settings: Settings
) -> None:
    publish(local_store, Dataset("ecb/fx", description="Daily reference rates. " * 400))
    sync(settings)
    document = (store_root / "datasets" / "ecb" / "fx" / "metadata.json").read_bytes()
    expected = msgspec.json.decode(document, type=MetadataDocument)
    assert detail_metadata(settings, "ecb/fx") == expected
    kind, size = stored(settings, "ecb/fx")
    if settings.database_url.startswith("sqlite"):
        assert kind == "blob" and size < len(document) / 5, (kind, size, len(document))
        # A row an older registry wrote holds the text itself: read as it is.
        with sqlite3.connect(settings.database_url.split("///", 1)[1]) as conn:
            conn.execute(
                "UPDATE datasets SET metadata_json = ? WHERE id = 'ecb/fx'", (document.decode(),)
            )
        assert stored(settings, "ecb/fx")[0] == "text"
        assert detail_metadata(settings, "ecb/fx") == expected
    else:
        assert kind == "text" and size == len(document)  # TOAST compresses it, not us


def test_the_column_type_compresses_for_sqlite_only_and_takes_text_compressed_beforehand() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    from opendata_registry.db.models import SQLiteCompressed, compress_text, decompress_text

    column, lite, pg = SQLiteCompressed(), sqlite.dialect(), postgresql.dialect()
    text_ = '{"dataset": {"title": "Zürich rates"}}' * 50
    packed = column.process_bind_param(text_, lite)
    assert isinstance(packed, bytes) and len(packed) < len(text_) / 5
    assert decompress_text(packed) == text_
    # A bulk sync compresses on a worker thread beforehand: SQLite stores those bytes as given,
    # and PostgreSQL (never given them by the sync) would still get the text.
    early = compress_text(text_)
    assert column.process_bind_param(early, lite) is early
    assert column.process_bind_param(early, pg) == text_
    assert column.process_bind_param(text_, pg) == text_
    assert column.process_bind_param(None, lite) is None
    assert column.process_result_value(packed, lite) == text_
    assert column.process_result_value(text_, lite) == text_  # a row written as text before
    assert column.process_result_value(None, pg) is None
