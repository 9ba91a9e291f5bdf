"""The search ranking in core: the same order for the client and the static portal."""

from __future__ import annotations

import pytest

from opendata_core.documents import IndexEntry
from opendata_core.search import search


def _entry(id: str, title: str, description: str = "", **kw: object) -> IndexEntry:
    return IndexEntry(
        id=id, title=title, description=description, license="CC0", repo="", provider="P", **kw
    )  # type: ignore[arg-type]


ENTRIES = [
    _entry(
        "me/weather",
        "Weather",
        "daily rates of rain",
        topics=["climate"],
        geo_scope="country",
        countries=["DE"],
    ),
    _entry(
        "ecb/fx-rates", "Euro FX rates", "reference rates", topics=["finance"], geo_scope="global"
    ),
    _entry("imf/rates", "Interest rates", frequency="monthly"),
]


def test_every_word_must_match_and_id_and_title_weigh_most() -> None:
    assert [e.id for e in search(ENTRIES, "rates")] == ["ecb/fx-rates", "imf/rates", "me/weather"]
    assert [e.id for e in search(ENTRIES, "euro rates")] == ["ecb/fx-rates"]
    assert search(ENTRIES, "rates nothing") == []


def test_filters_are_exact_and_case_insensitive() -> None:
    assert [e.id for e in search(ENTRIES, topic="CLIMATE")] == ["me/weather"]
    assert [e.id for e in search(ENTRIES, geo="de")] == ["me/weather"]
    assert [e.id for e in search(ENTRIES, geo="Global")] == [
        "ecb/fx-rates"
    ]  # a scope, as on the registry
    assert [e.id for e in search(ENTRIES, geo="country")] == ["me/weather"]
    assert [e.id for e in search(ENTRIES, frequency="Monthly")] == ["imf/rates"]
    assert [e.id for e in search(ENTRIES, namespace="ECB")] == ["ecb/fx-rates"]
    assert [e.id for e in search(ENTRIES, "", limit=1)] == ["ecb/fx-rates"]


def test_country_is_the_deprecated_name_of_geo_and_the_warning_points_at_the_caller() -> None:
    with pytest.warns(DeprecationWarning, match=r"search\(country=\) is deprecated") as caught:
        found = search(ENTRIES, country="de")
    assert [e.id for e in found] == ["me/weather"]
    assert caught[0].filename == __file__
    with pytest.raises(TypeError, match="give geo= only"):
        search(ENTRIES, geo="fr", country="de")


def test_words_are_letters_and_digits_and_a_query_word_must_begin_one() -> None:
    # The rule every transport follows (decision 0005): word prefixes, no substrings.
    assert [e.id for e in search(ENTRIES, "rate")] == ["ecb/fx-rates", "imf/rates", "me/weather"]
    assert search(ENTRIES, "ates") == []
    assert [e.id for e in search(ENTRIES, "fx-rates")] == ["ecb/fx-rates"]  # two words
    assert [e.id for e in search(ENTRIES, "ECB/FX")] == ["ecb/fx-rates"]
    assert search(ENTRIES, "rates*") == search(ENTRIES, "rates")  # operators are not words


def test_only_the_first_words_of_a_query_count() -> None:
    from opendata_core.search import MAX_QUERY_WORDS, query_words

    long = "euro " + " ".join(f"w{i}" for i in range(MAX_QUERY_WORDS))
    assert len(query_words(long)) == MAX_QUERY_WORDS
    assert [e.id for e in search(ENTRIES, " ".join(["euro"] * MAX_QUERY_WORDS) + " zzz")] == [
        "ecb/fx-rates"
    ]
