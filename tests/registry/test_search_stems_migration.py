"""Migrations 0008 and 0012 on a catalogue that already holds datasets: their stems are computed
and indexed on upgrade (``"countries"`` then finds ``country``) and their words counted (a typo
gets a suggestion), a downgrade returns to words alone; and the triggers keep the counted words
those of the datasets there, through inserts, updates and deletes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import sqlalchemy as sa

from opendata_core.search import vocabulary_words
from opendata_registry.db.engine import _MIGRATIONS, create_engine, migrate, session_factory
from opendata_registry.db.models import Dataset, SearchWord, search_words
from opendata_registry.domain.catalogue.services import CatalogueService, SearchQuery
from opendata_registry.infra.settings import Settings

from .conftest import catalogue_rows

TEXTS = [
    ("ecb/fx", "Euro FX reference rates", "Daily rates.", ["finance"]),
    ("ilo/jobless", "Unemployment", "By country.", ["labour"]),
]


def _to(revision: str, down: bool = False) -> Any:
    def run(connection: sa.Connection) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    return run


async def _scenario(settings: Settings) -> None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    sessions = session_factory(engine)

    async def found(q: str) -> tuple[set[str], str | None]:
        async with sessions() as session:
            result = await CatalogueService(session, settings).search(SearchQuery(q=q))
        return {h.dataset.id for h in result.datasets}, result.suggestion

    try:
        async with engine.begin() as conn:
            if settings.database_schema:
                await conn.exec_driver_sql(f'CREATE SCHEMA "{settings.database_schema}"')
        async with engine.begin() as conn:
            await conn.run_sync(_to("0007"))
            datasets, _ = catalogue_rows(TEXTS)
            etags = {"manifest_etag": "", "metadata_etag": "", "readme_etag": ""}
            datasets = [{**etags, **d} for d in datasets]
            columns = list(datasets[0])
            await conn.execute(
                sa.text(
                    f"INSERT INTO datasets ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + c for c in columns)})"
                ),
                datasets,
            )
        async with engine.begin() as conn:
            await conn.run_sync(_to("head"))
        assert await found("rating") == ({"ecb/fx"}, None)
        assert await found("countries") == ({"ilo/jobless"}, None)  # "countri" stems "country"
        assert await found("unemplyment") == (set(), "unemployment")
        assert await _vocabulary(engine) == _counted(datasets)
        async with engine.begin() as conn:
            await conn.run_sync(_to("0007", down=True))
        assert (await found("country"))[0] == {"ilo/jobless"}  # words alone still match
        async with engine.connect() as conn:
            assert "search_stems" not in {
                c["name"]
                for c in await conn.run_sync(lambda c: sa.inspect(c).get_columns("datasets"))
            }
    finally:
        await engine.dispose()


def _counted(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Core's vocabulary words of ``rows``' texts, with the number of rows using each."""
    counts: Counter[str] = Counter()
    for r in rows:
        text = f"{r['id']} {r['title']} {r['topics_text']} {r['description']}"
        counts.update(vocabulary_words(text))
    return dict(counts)


async def _vocabulary(engine: Any) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(SearchWord.word, SearchWord.datasets))).all()
    return dict(rows)  # type: ignore[arg-type]


async def _counting(settings: Settings) -> None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        await migrate(engine, schema=settings.database_schema)
        sessions = session_factory(engine)
        datasets, _ = catalogue_rows(TEXTS)
        async with sessions() as session, session.begin():
            await session.execute(sa.insert(Dataset), datasets)
        assert await _vocabulary(engine) == _counted(datasets)
        # An update of the texts, as the sync writes it: one word gone, one new, the rest kept.
        changed = {**datasets[1], "title": "Unemployment and wages"}
        async with sessions() as session, session.begin():
            row = await session.get(Dataset, changed["pk"])
            assert row is not None
            row.title = changed["title"]
            row.search_words = search_words(row.id, row.title, row.description, row.topics_text)
        assert await _vocabulary(engine) == _counted([datasets[0], changed])
        async with sessions() as session, session.begin():
            await session.execute(sa.delete(Dataset).where(Dataset.pk == datasets[0]["pk"]))
        assert await _vocabulary(engine) == _counted([changed])  # "euro" used by none: gone
    finally:
        await engine.dispose()


def test_the_counted_words_follow_inserts_updates_and_deletes(settings: Settings) -> None:
    asyncio.run(_counting(settings))


def test_upgrade_stems_the_datasets_already_there_and_downgrade_undoes_it(
    settings: Settings,
) -> None:
    asyncio.run(_scenario(settings))
