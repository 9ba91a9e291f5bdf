"""The embedded database's page size: 16 KiB for a new file, an existing file keeps its own."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text

from opendata_registry.db.engine import create_engine, migrate


async def _migrated(path: Path) -> tuple[int, str]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            size = (await conn.execute(text("PRAGMA page_size"))).scalar_one()
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            tables = (
                await conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name='datasets'"))
            ).scalar_one()
            assert tables == 1
        return int(size), str(mode)
    finally:
        await engine.dispose()


def test_a_new_database_has_16_kib_pages(tmp_path: Path) -> None:
    # A dataset's row holds its metadata document (~20 KB with its preview): 16 KiB pages
    # store it in two pages, not six; decision 0013 has the measured difference.
    assert asyncio.run(_migrated(tmp_path / "registry.db")) == (16384, "wal")


def test_an_existing_database_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("CREATE TABLE before_us (x)")
    assert asyncio.run(_migrated(path)) == (4096, "wal")
