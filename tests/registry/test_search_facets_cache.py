"""Facet counts cached per catalogue generation stay correct when another process changes it.

The facet index is kept per process and keyed by ``registry_generation``, which triggers bump
on every write to the catalogue tables (``datasets``, ``dataset_tags``), whoever writes. Here one engine serves searches (its
index warm) while a second engine, as another registry process would, syncs changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, func, select, update

from opendata_core.api import SearchResults
from opendata_registry.context import Registry
from opendata_registry.db.engine import create_engine, migrate, session_factory
from opendata_registry.db.models import Dataset, DatasetTag
from opendata_registry.domain.catalogue.services import CatalogueService, SearchQuery
from opendata_registry.infra.hotcache import read_generation
from opendata_registry.infra.settings import Settings

from .conftest import Dataset as Doc
from .conftest import publish


def counts(results: SearchResults, facet: str) -> dict[str, int]:
    return {f.value: f.count for f in results.facets[facet]}


async def _sync(settings: Settings) -> None:
    """A sync by a second registry (its own engine and connections)."""
    other = Registry(settings)
    try:
        await other.sync(wait=True)
    finally:
        await other.engine.dispose()


async def _scenario(local_store: Any, settings: Settings) -> None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        await migrate(engine, schema=settings.database_schema)
        sessions = session_factory(engine)

        async def search(**params: Any) -> SearchResults:
            async with sessions() as session:
                return await CatalogueService(session, settings).search(SearchQuery(**params))

        async def gen() -> int:
            async with sessions() as session:
                return await read_generation(session)

        publish(local_store, Doc("ecb/fx", topics=["finance"], license="CC-BY-4.0"))
        publish(
            local_store,
            Doc("fred/unrate", title="Unemployment rate", topics=["labour"], license="CC0-1.0"),
        )
        await _sync(settings)
        first = await search()
        assert first.total == 2
        assert (await search(q="unemployment")).total == 1
        assert counts(first, "topic") == {"finance": 1, "labour": 1}
        assert counts(first, "license") == {"CC-BY-4.0": 1, "CC0-1.0": 1}

        # While nothing changes, a repeated text query is answered from the generation's memo:
        # the engine's full-text statements are not run again.
        text_statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if "MATCH" in statement or "@@" in statement:
                text_statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        assert [h.dataset.id for h in (await search(q="unemployment")).datasets] == ["fred/unrate"]
        assert text_statements == []
        assert (await search(q="unemployment", topic="labour")).total == 1
        assert text_statements == []
        assert (await search(q="rate")).total == 1  # other words: the engine is asked
        assert len(text_statements) == 2  # the keys, then the ranked head

        # A sync that changes nothing leaves the generation (and the cached index) alone.
        before = await gen()
        await _sync(settings)
        assert await gen() == before

        # Another process adds a dataset and changes one's topics and licence.
        publish(local_store, Doc("new/one", topics=["finance", "energy"], license="MIT"))
        publish(
            local_store,
            Doc("fred/unrate", title="Jobless claims", topics=["finance"], license="MIT"),
        )
        await _sync(settings)
        assert await gen() > before
        after = await search()
        assert after.total == 3
        # The text index follows the new title too.
        assert (await search(q="unemployment")).total == 0
        assert [h.dataset.id for h in (await search(q="jobless")).datasets] == ["fred/unrate"]
        assert counts(after, "topic") == {"finance": 3, "energy": 1}
        assert counts(after, "license") == {"MIT": 2, "CC-BY-4.0": 1}
        assert counts(await search(topic="finance", license="mit"), "namespace") == {
            "fred": 1,
            "new": 1,
        }

        # A write that bypasses sync (any statement on the tables) is seen too.
        async with sessions() as session, session.begin():
            await session.execute(
                update(Dataset).where(Dataset.id == "ecb/fx").values(frequency="weekly")
            )
            await session.execute(
                update(DatasetTag).where(DatasetTag.value == "energy").values(value="power")
            )
        latest = await search()
        assert counts(latest, "frequency") == {"daily": 2, "weekly": 1}
        assert counts(latest, "topic") == {"finance": 3, "power": 1}

        # The counts equal the database's own GROUP BY for a filtered search.
        filtered = await search(q="things", topic="finance")
        async with sessions() as session:
            oracle = dict(
                (
                    await session.execute(
                        select(Dataset.license, func.count()).group_by(Dataset.license)
                    )
                ).all()
            )
        assert filtered.total == 3 and counts(filtered, "license") == oracle
    finally:
        await engine.dispose()


def test_facet_cache_follows_changes_from_another_process(
    local_store: Any, settings: Settings
) -> None:
    asyncio.run(_scenario(local_store, settings))


async def _concurrent_after_change(local_store: Any, settings: Settings) -> None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        await migrate(engine, schema=settings.database_schema)
        sessions = session_factory(engine)

        async def search(**params: Any) -> SearchResults:
            async with sessions() as session:
                return await CatalogueService(session, settings).search(SearchQuery(**params))

        builds: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            # The build's first statement: every facet value's keys (UNION ALL of GROUP BYs).
            if "UNION ALL" in statement and "dataset_tags" in statement:
                builds.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        publish(local_store, Doc("ecb/fx", topics=["finance"]))
        await _sync(settings)
        assert (await search()).total == 1
        assert len(builds) == 1

        publish(local_store, Doc("fred/unrate", topics=["labour"]))
        await _sync(settings)  # another process changes the catalogue
        many = await asyncio.gather(*(search() for _ in range(8)), search(topic="labour"))
        # The nine requests that found the index stale shared one rebuild, and all of them
        # answer from the new generation.
        assert len(builds) == 2
        assert [r.total for r in many] == [2] * 8 + [1]
        assert (await search()).total == 2 and len(builds) == 2
    finally:
        await engine.dispose()


def test_concurrent_requests_after_a_change_share_one_rebuild(
    local_store: Any, settings: Settings
) -> None:
    asyncio.run(_concurrent_after_change(local_store, settings))
