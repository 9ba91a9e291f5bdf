"""Migration 0008 on a catalogue that already holds datasets: their stems are computed and
indexed on upgrade (``"countries"`` then finds ``country``), and a downgrade returns to words
alone."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from opendata_registry.db.engine import _MIGRATIONS, create_engine, session_factory
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


def test_upgrade_stems_the_datasets_already_there_and_downgrade_undoes_it(
    settings: Settings,
) -> None:
    asyncio.run(_scenario(settings))
