"""A filtered relevance search shows the unfiltered ranking's order, whichever way it is found.

A filtered search takes its page from the ranked head kept for the words, ranks only the
allowed datasets (up to ``_RANK_AMONG`` of them), or reads a longer head of the whole ranking;
all three must give the page the unfiltered ranking gives once the filter is applied. Several
words' matches come from the words' kept matches when each was searched alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event

from opendata_registry.db.engine import create_engine
from opendata_registry.domain.catalogue import services as catalogue
from opendata_registry.domain.catalogue.search import match_keys
from opendata_registry.domain.catalogue.services import CatalogueService, SearchQuery
from opendata_registry.infra.settings import Settings

from .conftest import fill_catalogue

_N = 1200


def _texts() -> list[tuple[str, str, str, list[str]]]:
    """Texts that use "rates" 1-4 times among 0-12 other words: ranks spread, and tie too."""
    return [
        (
            f"org{i % 7}/series-{i}",
            "Interest rates" if i % 3 == 0 else "Series",
            " ".join(["rates"] * (1 + i % 4) + ["filler"] * (i % 13)),
            [f"t{i % 10}"] + (["even"] if i % 2 == 0 else []),
        )
        for i in range(_N)
    ]


async def _scenario(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "MATCH" in statement or "@@" in statement:
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        sessions, datasets = await fill_catalogue(engine, settings.database_schema, _texts())
        topics = {d["id"]: set(d["topics_text"].split()) for d in datasets}

        async def ids(**params: Any) -> list[str]:
            async with sessions() as session:
                found = await CatalogueService(session, settings).search(SearchQuery(**params))
            return [h.dataset.id for h in found.datasets]

        def uses_keys() -> bool:  # a statement that names the allowed keys
            return any("json_each" in s or "ANY" in s for s in statements)

        pages: dict[tuple[str, int], list[str]] = {}

        async def search(topic: str) -> None:
            for page in (1, 3, 5):
                pages[topic, page] = await ids(q="rates", topic=topic, page=page)

        # "t3": 120 datasets, ranked alone (nothing is kept for "rates" yet).
        statements.clear()
        await search("t3")
        assert uses_keys(), statements
        # Without ranking the allowed keys alone: heads of the whole ranking, long enough.
        with monkeypatch.context() as patch:
            patch.setattr(catalogue, "_RANK_AMONG", 0)
            statements.clear()
            await search("t7")
            assert statements and not uses_keys()
        # "even": half the catalogue; the head kept by "t7" covers its first pages.
        await search("even")

        ranking: list[str] = []
        for page in range(1, _N // 100 + 1):
            ranking += await ids(q="rates", per_page=100, page=page)
        assert len(ranking) == len(set(ranking)) == _N
        for (topic, page), got in pages.items():
            wanted = [d for d in ranking if topic in topics[d]]
            assert got == wanted[(page - 1) * 20 : page * 20], (topic, page)

        # Two words searched alone: their pair needs no statement to find its matches.
        filler = await ids(q="filler", per_page=1)
        assert filler
        statements.clear()
        async with sessions() as session:
            pair = await CatalogueService(session, settings).search(SearchQuery(q="rates filler"))
        assert pair.total == sum(1 for i in range(_N) if i % 13)
        assert len(statements) == 1  # the ranked head only: the matches came from the memo

        # No stop words (core's rule, migration 0007): "the" matches nothing, alone or with
        # another word, on both engines (PostgreSQL's English stemmer used to drop it).
        assert await ids(q="the") == []
        async with sessions() as session:
            pair = await CatalogueService(session, settings).search(SearchQuery(q="the rates"))
            dialect = session.get_bind().dialect.name
            engine_says = (await session.execute(match_keys(["the", "rates"], dialect))).all()
        assert pair.total == len(engine_says) == 0
    finally:
        await engine.dispose()


def test_filtered_relevance_pages_follow_the_unfiltered_ranking(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_scenario(settings, monkeypatch))
