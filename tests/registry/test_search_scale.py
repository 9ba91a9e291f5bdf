"""Search stays cheap as the catalogue grows: the facets are not one SQL join per facet.

Once SQLite flattened the FTS5 subquery into the facet joins and re-ran ``MATCH`` for every tag
row (a one-word search over 4,000 datasets took seconds). Now the hits' keys are read once and
the facets counted from the per-generation facet index; this bounds a search with facets over
thousands of matches, with and without a filter.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from opendata_registry.db.engine import create_engine
from opendata_registry.domain.catalogue.services import CatalogueService, SearchQuery
from opendata_registry.infra.settings import Settings

from .conftest import fill_catalogue

_N = 4000


def _texts() -> list[tuple[str, str, str, list[str]]]:
    return [
        (
            f"org{i % 50}/rates-{i}",
            "Interest rates",
            "daily interest rates of the central bank",
            ["finance", f"topic{i % 7}"],
        )
        for i in range(_N)
    ]


async def _search_statements(settings: Settings) -> tuple[list[str], Any]:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    try:
        sessions, datasets = await fill_catalogue(engine, settings.database_schema, _texts())
        async with sessions() as session:
            service = CatalogueService(session, settings)
            event.listen(engine.sync_engine, "before_cursor_execute", record)
            result = await service.search(SearchQuery(q="rates"))
            event.remove(engine.sync_engine, "before_cursor_execute", record)
            # Every document is alike, so every rank ties: ties go in the text index's own order
            # (id on PostgreSQL; on SQLite the order datasets entered the catalogue, its rowid),
            # so the pages of a ranked search follow one order and never overlap.
            ids = [d["id"] for d in datasets]
            order = sorted(ids) if engine.dialect.name == "postgresql" else ids
            for page in (1, 7):
                ranked = await service.search(SearchQuery(q="rates", page=page))
                assert [h.dataset.id for h in ranked.datasets] == order[(page - 1) * 20 : page * 20]
            filtered = await service.search(SearchQuery(q="rates", topic="topic3"))
            assert filtered.total == len([i for i in range(_N) if i % 7 == 3])
            assert {f.value: f.count for f in filtered.facets["topic"]} == {
                "finance": filtered.total,
                "topic3": filtered.total,
            }
            return statements, result
    finally:
        await engine.dispose()


def test_search_with_facets_over_thousands_of_matches_is_fast(settings: Settings) -> None:
    """Counted, not timed (the timing is the registry benchmark's): a first search over 4,000
    matches is a fixed handful of statements, the text index is read for the hits' keys once
    and for one ranked page, and no statement joins the text search with the facet tags (the
    join SQLite once flattened into a ``MATCH`` per tag row)."""
    statements, result = asyncio.run(_search_statements(settings))
    assert result.total == _N
    assert {f.value: f.count for f in result.facets["topic"]}["finance"] == _N
    text = [s for s in statements if " MATCH " in s or " @@ " in s]
    assert len(text) == 2, statements  # the hits' keys, then one ranked page
    assert not [s for s in text if "dataset_tags" in s]
    # generation (twice: again under the rebuild's lock); the facet index (once per generation:
    # the tags, the withdrawn and the trusted datasets, the two orders); text (twice); the page;
    # the hits' recent runs
    assert len(statements) <= 11, "\n".join(s[:60].replace("\n", " ") for s in statements)
    page_reads = [s for s in statements if s.startswith("SELECT datasets.pk, datasets.id")]
    assert len(page_reads) == 1 and page_reads[0].count("?") + page_reads[0].count("$") <= 21


def test_postgresql_sessions_cost_random_pages_as_cached(settings: Settings) -> None:
    """The planner must prefer the GIN index for a word in a few % of the catalogue, and plan
    each search for its own words (not one generic plan for every word)."""

    async def show() -> tuple[str, str] | None:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        try:
            if engine.dialect.name != "postgresql":
                return None
            async with engine.connect() as conn:
                cost = (await conn.exec_driver_sql("SHOW random_page_cost")).scalar_one()
                plans = (await conn.exec_driver_sql("SHOW plan_cache_mode")).scalar_one()
                return str(cost), str(plans)
        finally:
            await engine.dispose()

    value = asyncio.run(show())
    if settings.database_url.startswith("postgresql"):
        assert value == ("1.1", "force_custom_plan")
    else:
        assert value is None
