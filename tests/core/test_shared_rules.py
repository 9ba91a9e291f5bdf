"""Rules that the client, the CLI and the registry share: index entries, schema diffs, READMEs."""

from __future__ import annotations

from datetime import UTC, datetime

from opendata_core.documents import Field, IndexEntry, Stats, diff_schemas
from opendata_core.metadata import DatasetMetadata, Geo, Source
from opendata_core.readme import render_readme

META = DatasetMetadata(
    id="ecb/fx",
    title="FX rates",
    description="Daily reference rates.",
    license="CC-BY-4.0",
    repo="https://github.com/ecb/fx",
    source=Source(provider="ECB", homepage="https://www.ecb.europa.eu"),
    topics=["finance", "fx"],
    frequency="daily",
    geo=Geo(scope="region", countries=["DE", "FR"]),
    time_column="date",
)


def test_index_entry_from_metadata_carries_yaml_fields_and_stats() -> None:
    stats = Stats(row_count=10, bytes=99, shard_count=1, schema_hash="h", min_time="2024-01-01")
    when = datetime(2025, 1, 1, tzinfo=UTC)
    e = IndexEntry.from_metadata(META, stats, when)
    assert (e.id, e.provider, e.topics, e.countries, e.geo_scope) == (
        "ecb/fx",
        "ECB",
        ["finance", "fx"],
        ["DE", "FR"],
        "region",
    )
    assert (e.row_count, e.bytes, e.min_time, e.schema_hash, e.updated_at) == (
        10,
        99,
        "2024-01-01",
        "h",
        when,
    )
    bare = IndexEntry.from_metadata(META)
    assert (bare.row_count, bare.updated_at, bare.schema_hash) == (0, None, None)


def test_schema_diff_names_added_removed_retyped_and_order() -> None:
    a = [Field(name="d", type="date32[day]", nullable=False), Field(name="x", type="int64")]
    b = [Field(name="d", type="date32[day]"), Field(name="y", type="double")]
    diff = diff_schemas(a, b)
    assert diff.added == ["y"]
    assert diff.removed == ["x"]
    assert diff.retyped == [("d", "date32[day] not null", "date32[day]")]
    assert str(diff) == "added y; removed x; retyped d (date32[day] not null -> date32[day])"
    assert not diff_schemas(a, a)
    swapped = diff_schemas(a, list(reversed(a)))
    assert swapped.reordered
    assert str(swapped) == "columns reordered"


def test_readme_names_source_license_repo_and_the_load_line() -> None:
    text = render_readme(META)
    assert text.startswith("# FX rates\n\nDaily reference rates.\n")
    # List items: Markdown keeps them on lines of their own (plain lines join into one paragraph).
    assert "\n- Source: ECB (https://www.ecb.europa.eu)\n" in text
    assert "\n- License: CC-BY-4.0\n" in text
    assert "\n- Repository: https://github.com/ecb/fx\n" in text
    assert 'df = od.load("ecb/fx")' in text


def test_yaml_scalar_quotes_what_a_yaml_1_1_reader_would_not_read_as_a_string() -> None:
    import json

    from opendata_core.metadata import yaml_scalar

    for word in ("yes", "No", "on", "OFF", "y", "null", "~", "true", "3.11", ".inf", " padded"):
        text = yaml_scalar(word)
        assert text.startswith('"') and json.loads(text) == word, word
    assert yaml_scalar("Euro FX rates (daily)") == "Euro FX rates (daily)"
    assert yaml_scalar("self-hosted", flow=True) == "self-hosted"
    # in a [a, b] list a comma would split the item
    assert yaml_scalar("a, b") == "a, b"
    assert yaml_scalar("a, b", flow=True) == '"a, b"'
    assert yaml_scalar("ubuntu-latest", quote=True) == '"ubuntu-latest"'


def test_title_rule_is_the_same_in_the_checker_and_for_callers() -> None:
    import pytest

    from opendata_core.errors import MetadataError
    from opendata_core.metadata import TITLE_MAX, check_title, validate_metadata

    assert check_title("  Euro FX  ") == "Euro FX"
    too_long = "t" * (TITLE_MAX + 1)
    for bad, message in (("a\nb", "must be a single line"), (too_long, "the limit is 200")):
        with pytest.raises(ValueError, match=message):
            check_title(bad)
        raw = {**msgspec_builtins(META), "title": bad}
        with pytest.raises(MetadataError, match=message) as info:
            validate_metadata(raw)
        assert info.value.findings[0].field == "title"


def msgspec_builtins(meta: DatasetMetadata) -> dict[str, object]:
    import msgspec

    data = msgspec.to_builtins(meta)
    assert isinstance(data, dict)
    return data
