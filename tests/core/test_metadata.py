from __future__ import annotations

import re
import warnings
from pathlib import Path
from textwrap import dedent

import msgspec
import pytest

from opendata_core import (
    DatasetMetadata,
    MetadataError,
    MetadataWarning,
    check_metadata,
    load_metadata,
    update_metadata,
    validate_metadata,
)

VALID = dedent(
    """\
    # Euro reference rates, published by the ECB every working day.
    id: ecb/euro-fx-rates
    title: Euro foreign exchange reference rates
    description: |
      Daily reference rates of the euro against 30 currencies.
    license: CC-BY-4.0  # the ECB's terms
    repo: https://github.com/ecb/euro-fx-rates
    source:
      provider: European Central Bank
      homepage: https://www.ecb.europa.eu/
      dataset: https://www.ecb.europa.eu/stats/eurofxref/
    topics: [finance, exchange-rates]
    geo:
      scope: multi
      countries: [DE, FR]
      regions: [Euro area]
    owners: [ecb-data]
    frequency: daily
    time_column: date
    schedule: "0 16 * * 1-5"
    partition: year
    primary_key: [date, currency]
    runner: [self-hosted, linux]
    """
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "opendata.yaml"
    path.write_text(text)
    return path


def replace_line(field: str, new: str) -> str:
    """VALID with the line starting with ``field`` replaced by ``new``."""
    lines = VALID.splitlines()
    idx = next(i for i, line in enumerate(lines) if line.startswith(field))
    lines[idx] = new
    return "\n".join(lines) + "\n"


def test_valid_file_loads_every_field(tmp_path: Path) -> None:
    meta = load_metadata(write(tmp_path, VALID))
    assert meta.id == "ecb/euro-fx-rates"
    assert str(meta.dataset_id) == "ecb/euro-fx-rates"
    assert meta.title == "Euro foreign exchange reference rates"
    assert meta.description.startswith("Daily reference rates")
    assert meta.license == "CC-BY-4.0"
    assert meta.repo == "https://github.com/ecb/euro-fx-rates"
    assert meta.source.provider == "European Central Bank"
    assert meta.source.homepage == "https://www.ecb.europa.eu/"
    assert meta.source.dataset == "https://www.ecb.europa.eu/stats/eurofxref/"
    assert meta.topics == ["finance", "exchange-rates"]
    assert meta.geo is not None
    assert (meta.geo.scope, meta.geo.countries, meta.geo.regions) == (
        "multi",
        ["DE", "FR"],
        ["Euro area"],
    )
    assert meta.owners == ["ecb-data"]
    assert meta.frequency == "daily"
    assert meta.time_column == "date"
    assert meta.schedule == "0 16 * * 1-5"
    assert meta.partition == "year"
    assert meta.primary_key == ["date", "currency"]
    assert meta.runner == ["self-hosted", "linux"]


def test_minimal_file_and_scalar_shorthands(tmp_path: Path) -> None:
    text = dedent(
        """\
        id: Acme/Widgets
        title: Widgets
        description: All the widgets.
        license: MIT
        repo: https://github.com/acme/widgets.git
        source: {provider: Acme}
        primary_key: sku
        runner: big-box
        """
    )
    meta = load_metadata(write(tmp_path, text))
    assert meta.id == "acme/widgets"
    assert meta.repo == "https://github.com/acme/widgets"
    assert meta.primary_key == ["sku"]
    assert meta.runner == ["big-box"]
    assert meta.geo is None and meta.topics == [] and meta.frequency is None


# Each field rejecting at least one bad value: (field, replacement line, location, message text).
# Each field rejecting at least one bad value:
# (field, replacement line, the text the error must point at, message text).
BAD_FIELDS = [
    ("id", "id: ecb/fx/daily", "ecb/fx", "id: must be 'namespace/name' with exactly one '/'"),
    ("id", "id: -ecb/fx", "-ecb", "id: namespace '-ecb' must not start or end with a hyphen"),
    ("title", "title: 2024", "2024", 'title: must be a string, got an integer (quote it: "2024")'),
    ("title", "title: ''", "''", "title: must not be empty"),
    ("license", "license: [MIT]", "[MIT]", "license: must be a string, got a list"),
    (
        "repo",
        "repo: https://gitlab.com/ecb/fx",
        "https",
        "repo: 'https://gitlab.com/ecb/fx' is not a GitHub repository URL",
    ),
    (
        "repo",
        "repo: http://github.com/ecb/fx",
        "http",
        "repo: 'http://github.com/ecb/fx' is not a GitHub repository URL (did you mean 'https://github.com/ecb/fx'?)",
    ),
    (
        "repo",
        "repo: https://github.com/-bad-/fx",
        "https",
        "repo: repository owner '-bad-' must not start or end",
    ),
    ("  provider", "  provider: ''", "''", "source.provider: must not be empty"),
    (
        "  homepage",
        "  homepage: ftp://ecb.eu",
        "ftp",
        "source.homepage: 'ftp://ecb.eu' is not an http(s) URL",
    ),
    (
        "  dataset",
        "  dataset: www.ecb.eu",
        "www",
        "source.dataset: 'www.ecb.eu' is not an http(s) URL",
    ),
    (
        "topics",
        "topics: finance",
        "finance",
        "topics: must be a list, got a string (e.g. [finance, exchange-rates])",
    ),
    ("topics", "topics: [finance, '']", "''", "topics[1]: must not be empty"),
    ("  scope", "  scope: planet", "planet", "geo.scope: 'planet' is not a geographic scope"),
    (
        "  countries",
        "  countries: [DE, USA]",
        "USA",
        "geo.countries[1]: 'USA' is not an ISO 3166-1 alpha-2 code (did you mean 'US'?)",
    ),
    (
        "  countries",
        "  countries: [DE, XX]",
        "XX",
        "geo.countries[1]: 'XX' is not an ISO 3166-1 alpha-2 code (use two capital letters",
    ),
    ("  regions", "  regions: Euro area", "Euro", "geo.regions: must be a list, got a string"),
    ("owners", "owners: ['@ecb']", "'@ecb'", "owners[0]: GitHub handle '@ecb' contains '@'"),
    (
        "frequency",
        "frequency: daly",
        "daly",
        "frequency: 'daly' is not a known frequency (did you mean 'daily'?)",
    ),
    ("time_column", "time_column: 7", "7", "time_column: must be a string, got an integer"),
    (
        "schedule",
        "schedule: '0 16 * *'",
        "'0",
        "schedule: '0 16 * *' has 4 fields; a cron schedule has 5",
    ),
    ("schedule", "schedule: '*/2 * * * *'", "'*", "runs more often than every 5 minutes"),
    ("schedule", "schedule: '0 25 * * *'", "'0", "'25' is not a valid hour (0-23)"),
    (
        "partition",
        "partition: yearly",
        "yearly",
        "partition: 'yearly' is not a partitioning (did you mean 'year'?)",
    ),
    ("primary_key", "primary_key: [date, date]", "[date", "primary_key: lists a column twice"),
    (
        "runner",
        "runner: ['self hosted']",
        "'self",
        "runner[0]: 'self hosted' is not a runner label",
    ),
]


@pytest.mark.parametrize(("field", "line", "token", "message"), BAD_FIELDS)
def test_each_field_rejects_a_bad_value(
    tmp_path: Path, field: str, line: str, token: str, message: str
) -> None:
    text = replace_line(field, line)
    lineno = text.splitlines().index(line) + 1
    where = f"{lineno}:{line.index(token) + 1}"
    path = write(tmp_path, text)
    with pytest.raises(MetadataError) as info:
        load_metadata(path)
    err = info.value
    assert message in str(err)
    assert str(err).startswith(f"{path}:{where}: {err.field}: ")
    assert f"{err.line}:{err.column}" == where
    assert err.path == str(path)
    assert err.field.split(".")[-1].split("[")[0] == field.strip()


def test_missing_required_fields_are_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "title: x\n")
    report = check_metadata(path)
    messages = [str(p) for p in report.errors]
    for f in ("id", "description", "license", "repo", "source"):
        assert any(f"missing required field {f!r}" in m for m in messages), f
    missing_provider = write(tmp_path, replace_line("  provider", "  name: ECB"))
    report = check_metadata(missing_provider)
    texts = [str(p) for p in report.errors]
    assert any("source.name: unknown field 'name'" in t for t in texts)
    assert any("source: missing required field 'provider'" in t for t in texts)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("license:", "licence:"))
    with pytest.raises(MetadataError) as info:
        load_metadata(path)
    problems = [str(p) for p in info.value.findings]
    assert f"{path}:6:1: licence: unknown field 'licence' (did you mean 'license'?)" in problems
    assert any("missing required field 'license'" in p for p in problems)


def test_every_problem_is_collected_in_file_order(tmp_path: Path) -> None:
    text = replace_line("frequency", "frequency: daly").replace(
        "countries: [DE, FR]", "countries: [DEU]"
    )
    report = check_metadata(write(tmp_path, text))
    assert [p.field for p in report.errors] == ["geo.countries[0]", "frequency"]
    assert "(and 1 more error(s))" in str(MetadataError(report.errors))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: [unclosed\n", "invalid YAML"),
        ("a: 1\na: 2\n", "invalid YAML"),
        ("", "the file is empty"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_broken_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        load_metadata(write(tmp_path, text))


def test_yaml_syntax_error_has_a_location(tmp_path: Path) -> None:
    path = write(tmp_path, "id: a/b\ntitle: x\n  bad: indent\n")
    with pytest.raises(MetadataError) as info:
        load_metadata(path)
    assert info.value.line == 3
    assert info.value.column is not None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="file not found .*od init"):
        load_metadata(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("license", "ok_quietly"),
    [
        ("MIT", True),
        ("CC-BY-4.0", True),
        ("MIT OR Apache-2.0", True),
        ("(MIT AND BSD-3-Clause)", True),
        ("GPL-2.0-or-later WITH Classpath-exception-2.0", True),
        ("LicenseRef-Public-Domain", True),
        ("Public Domain", False),
        ("mit", False),
    ],
)
def test_licenses(tmp_path: Path, license: str, ok_quietly: bool) -> None:
    path = write(tmp_path, replace_line("license", f"license: {license!r}"))
    report = check_metadata(path)
    assert report.ok  # a non-SPDX licence is accepted ...
    assert (report.warnings == []) is ok_quietly  # ... with a warning the caller can read


def test_non_spdx_license_warns_through_warnings_module(tmp_path: Path) -> None:
    path = write(tmp_path, replace_line("license", "license: Public Domain"))
    with pytest.warns(MetadataWarning, match="'Public Domain' is not an SPDX licence identifier"):
        meta = load_metadata(path)
    assert meta.license == "Public Domain"
    path = write(tmp_path, replace_line("license", "license: mit"))
    with pytest.warns(MetadataWarning, match="did you mean 'MIT'"):
        load_metadata(path)


def test_repo_owner_mismatch_warns(tmp_path: Path) -> None:
    report = check_metadata(
        write(tmp_path, replace_line("repo", "repo: https://github.com/someone/fx"))
    )
    assert report.ok
    assert [w.field for w in report.warnings] == ["repo"]
    assert "differs from the id's namespace 'ecb'" in str(report.warnings[0])


def test_scope_country_needs_one_country(tmp_path: Path) -> None:
    report = check_metadata(write(tmp_path, VALID.replace("scope: multi", "scope: country")))
    assert [str(p).split(": ", 1)[1] for p in report.errors] == [
        "geo.countries: scope 'country' needs exactly one country (use scope 'multi' for several)"
    ]


def test_update_keeps_comments_and_order(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    meta = update_metadata(path, {"title": "Euro FX rates", "geo.scope": "region", "topics": None})
    assert meta.title == "Euro FX rates"
    text = path.read_text()
    assert "# Euro reference rates, published by the ECB every working day." in text
    assert "license: CC-BY-4.0  # the ECB's terms" in text
    assert "topics" not in text
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == [
        "id",
        "title",
        "description",
        "license",
        "repo",
        "source",
        "geo",
        "owners",
        "frequency",
        "time_column",
        "schedule",
        "partition",
        "primary_key",
        "runner",
    ]
    assert load_metadata(path).geo.scope == "region"  # type: ignore[union-attr]
    # Adding a nested field that did not exist:
    update_metadata(path, {"source.homepage": None, "geo.regions": ["Europe"]})
    assert load_metadata(path).source.homepage is None


def test_bad_update_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    with pytest.raises(MetadataError, match="frequency: 'sometimes' is not a known frequency"):
        update_metadata(path, {"frequency": "sometimes"})
    with pytest.raises(MetadataError, match="unknown field 'titel'.*did you mean 'title'"):
        update_metadata(path, {"titel": "x"})
    assert path.read_text() == VALID
    assert [p.name for p in tmp_path.iterdir()] == ["opendata.yaml"]


def test_validate_metadata_from_python() -> None:
    meta = DatasetMetadata(
        id="Acme/Widgets",
        title="W",
        description="d",
        license="MIT",
        repo="https://github.com/acme/widgets",
        source=msgspec.convert(
            {"provider": "Acme"},
            type=DatasetMetadata.__annotations__["source"]
            if False
            else __import__("opendata_core").Source,
        ),
    )
    assert validate_metadata(meta).id == "acme/widgets"
    with pytest.raises(MetadataError, match="<metadata>: frequency: 'often'"):
        validate_metadata({**msgspec.to_builtins(meta), "frequency": "often"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_metadata(meta)


@pytest.mark.parametrize(
    "deep", ["title: " + "[" * 4000 + "]" * 4000 + "\n", "title:\n" + "- " * 4000 + "x\n"]
)
def test_deeply_nested_yaml_is_a_metadata_error(tmp_path: Path, deep: str) -> None:
    from opendata_core.errors import MetadataError
    from opendata_core.metadata import load_metadata

    path = tmp_path / "opendata.yaml"
    path.write_text("id: me/x\n" + deep)
    with pytest.raises(MetadataError, match="nested too deeply") as info:
        load_metadata(path)
    assert info.value.hint is not None


# -- messages that say the fix (issue 23 §4) ---------------------------------------------------


@pytest.mark.parametrize(
    ("license", "meant"),
    [
        ("GPL", ["GPL-3.0-only", "GPL-3.0-or-later"]),
        ("GPLv2", ["GPL-2.0-only", "GPL-2.0-or-later"]),
        ("GPL-3.0", ["GPL-3.0-only", "GPL-3.0-or-later"]),  # deprecated: its successors
        ("Apache", ["Apache-2.0"]),
        ("CC BY 4.0", ["CC-BY-4.0"]),
        ("BSD", ["BSD-3-Clause", "BSD-2-Clause"]),
        ("mit", ["MIT"]),
    ],
)
def test_a_licence_family_suggests_its_current_spdx_ids(
    tmp_path: Path, license: str, meant: list[str]
) -> None:
    path = write(tmp_path, replace_line("license", f"license: {license}"))
    (warning,) = check_metadata(path).warnings
    advice = re.search(r"(?:did you mean|; use) (.*)", warning.message)
    assert advice is not None, warning.message
    suggested = re.findall(r"'([^']+)'", advice[1])
    assert suggested == meant, warning.message
    assert "NGPL" not in warning.message


def test_an_empty_licence_is_reported_on_its_own_line_with_an_example(tmp_path: Path) -> None:
    text = replace_line("license", "license:")
    path = write(tmp_path, text)
    (error,) = check_metadata(path).errors
    assert error.line == text.splitlines().index("license:") + 1  # not the `repo:` line after it
    assert error.field == "license"
    assert error.hint is not None and "license: CC-BY-4.0" in error.hint


@pytest.mark.parametrize(
    ("field", "fix"),
    [
        ("license", "license: CC-BY-4.0"),
        ("repo", "repo: https://github.com/"),
        ("title", "title: "),
        ("id", "id: <owner>/<name>"),
    ],
)
def test_a_missing_required_field_says_what_to_add(tmp_path: Path, field: str, fix: str) -> None:
    text = "\n".join(line for line in VALID.splitlines() if not line.startswith(f"{field}:"))
    (error,) = (p for p in check_metadata(write(tmp_path, text + "\n")).errors)
    assert f"missing required field {field!r}" in error.message
    assert error.hint is not None and fix in error.hint and error.hint.startswith("add ")


def test_a_missing_provider_says_where_it_goes(tmp_path: Path) -> None:
    path = write(tmp_path, replace_line("  provider", "  name: ECB"))
    missing = [p for p in check_metadata(path).errors if "missing" in p.message]
    assert missing and missing[0].hint is not None and "under `source:`" in missing[0].hint


def test_registry_is_a_url_od_deploy_can_write(tmp_path: Path) -> None:
    ok = write(tmp_path, VALID + "registry: https://registry.example.org/v1/\n")
    assert load_metadata(ok).registry == "https://registry.example.org/v1"
    for bad in ("http://registry.example.org", "registry.example.org", "https://r.example/${{"):
        path = write(tmp_path, VALID + f"registry: '{bad}'\n")
        (error,) = check_metadata(path).errors
        assert error.field == "registry" and "is not a registry URL" in error.message, bad
