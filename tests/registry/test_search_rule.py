"""The registry's engines follow core's search rule: word and stem prefixes, no stop words.

On SQLite (FTS5) and PostgreSQL (tsvector), every query finds exactly the datasets that
``opendata_core.search.search`` finds in the same texts (decision 0005), and a query that finds
nothing gets the same "did you mean" suggestion; only the order is each engine's.
"""

from __future__ import annotations

import asyncio

import msgspec

from opendata_core.documents import IndexEntry
from opendata_core.search import search
from opendata_registry.db.engine import create_engine
from opendata_registry.domain.catalogue.services import CatalogueService, SearchQuery
from opendata_registry.infra.settings import Settings

from .conftest import fill_catalogue

TEXTS = [
    ("ecb/euro-fx-rates", "Euro FX reference rates", "Daily rates against the euro.", ["finance"]),
    ("imf/rate-of-interest", "Interest", "The rate charged.", ["finance"]),
    ("me/separate", "Separated accounts", "Kept apart; see example.com for more.", ["misc"]),
    ("de/koeln", "Köln weather", "Straße by straße, the rain in 2024.", ["climate"]),
    ("acme/co2_levels", "CO2 levels", "Parts per million (ppm) at Mauna Loa.", ["climate"]),
    ("acme/running", "Runners", "Running times of the runner's club.", ["sport"]),
    ("ilo/jobless", "Unemployment by country", "Monthly, for happy countries.", ["labour"]),
]
QUERIES = [
    "rate",
    "rates",
    "ates",
    "euro-fx",
    "eur fx",
    "the",
    "the rates",
    "example",
    "com",
    "straße",
    "köln",
    "koln",
    "co2",
    "levels co",
    "run",
    "running",
    "runner",
    "ppm 2024",
    "RATES*",
    "rating",
    "countries",
    "country",
    "countr",
    "monthl",
    "unemplo",
    "happy",
    "happiness",
    "labor",
    "",
]
TYPOS = ["unemplyment", "unemplyment countries", "contries", "rtaes", "zzzzzz", "euro zzzzzz"]


async def _scenario(settings: Settings) -> None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        sessions, rows = await fill_catalogue(engine, settings.database_schema, TEXTS)
        entries = [msgspec.json.decode(r["entry_json"], type=IndexEntry) for r in rows]
        for q in QUERIES:
            async with sessions() as session:
                found = await CatalogueService(session, settings).search(
                    SearchQuery(q=q, per_page=100)
                )
            got = sorted(h.dataset.id for h in found.datasets)
            core = search(entries, q)
            assert (got, found.suggestion) == (sorted(e.id for e in core), core.suggestion), q
        for q in TYPOS:
            async with sessions() as session:
                found = await CatalogueService(session, settings).search(SearchQuery(q=q))
            core = search(entries, q)
            assert (found.total, found.suggestion) == (0, core.suggestion), q
    finally:
        await engine.dispose()


def test_the_engine_finds_what_core_finds(settings: Settings) -> None:
    asyncio.run(_scenario(settings))


def test_the_rule_stems_and_has_no_substrings_or_stop_words() -> None:
    entries = [
        IndexEntry(id=i, title=t, description=d, license="CC0", repo="", provider="P", topics=tp)
        for i, t, d, tp in TEXTS
    ]

    def ids(q: str) -> set[str]:
        return {e.id for e in search(entries, q)}

    assert ids("ates") == set()
    # "rates" and "rate" have the stem "rate", which begins imf's "rate".
    assert ids("rates") == {"ecb/euro-fx-rates", "imf/rate-of-interest"}
    assert ids("countries") == ids("country") == ids("countr") == {"ilo/jobless"}
    assert ids("monthl") == ids("unemplo") == ids("happy") == {"ilo/jobless"}
    assert ids("happiness") == {"ilo/jobless"}  # both stem to "happi"
    assert ids("the") == {"ecb/euro-fx-rates", "imf/rate-of-interest", "de/koeln", "acme/running"}
    assert ids("com") == {"me/separate"}  # example.com is two words


def test_a_query_that_finds_nothing_suggests_the_catalogues_words() -> None:
    entries = [
        IndexEntry(id=i, title=t, description=d, license="CC0", repo="", provider="P", topics=tp)
        for i, t, d, tp in TEXTS
    ]
    assert search(entries, "unemplyment").suggestion == "unemployment"
    # Known words are kept as typed; each unknown one becomes the closest word.
    assert search(entries, "Unemplyment contries").suggestion == "unemployment countries"
    assert search(entries, "rtaes").suggestion == "rates"  # a swap is one edit
    assert search(entries, "zzzzzz").suggestion is None  # nothing close enough
    assert search(entries, "euro zzzzzz").suggestion is None
    assert search(entries, "rates").suggestion is None  # found: no suggestion
    assert search(entries, "ates").suggestion == "rates"  # a word's middle: the nearest word
    assert search(entries, "euro weather").suggestion is None  # known words, no dataset has both
