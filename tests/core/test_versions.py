"""Versions in core: the history key, ``retention`` in opendata.yaml, retention and selection."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendata_core import (
    DatasetId,
    Layout,
    Manifest,
    MetadataError,
    OpenDataError,
    Retention,
    VersionNotFound,
    decode_document,
    load_metadata,
)
from opendata_core.versions import (
    DEFAULT_RETENTION,
    Version,
    history_chain,
    parse_as_of,
    retained_versions,
    select_version,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DS = "ecb/fx"


def chain(
    n: int, *, step: timedelta = timedelta(days=1), parent: str | None = None
) -> list[Version]:
    """``n`` versions one ``step`` apart, linked by parent ids, oldest first."""
    out: list[Version] = []
    for i in range(n):
        prev = out[-1].publish_id if out else parent
        out.append(Version(f"20250101T0000{i:02d}Z-v{i:07d}", T0 + i * step, prev))
    return out


# -- layout --------------------------------------------------------------------------------


def test_history_key_and_bad_publish_ids() -> None:
    ds = DatasetId.parse("ECB/FX")
    assert (
        Layout("prod").version(ds, "01JPC7N4W0") == "prod/datasets/ecb/fx/versions/01JPC7N4W0.json"
    )
    assert Layout().versions_prefix(ds) == "datasets/ecb/fx/versions/"
    for bad in ("", "../manifest", "a/b", "x" * 65, "01J PC"):
        with pytest.raises(ValueError, match="publish id"):
            Layout().version(ds, bad)


# -- retention in opendata.yaml ---------------------------------------------------------------

BASE = dedent(
    """\
    id: ecb/fx
    title: FX
    description: d
    license: CC-BY-4.0
    repo: https://github.com/ecb/fx
    source: {provider: ECB}
    """
)


def load(tmp_path: Path, retention: str) -> Retention | None:
    path = tmp_path / "opendata.yaml"
    path.write_text(BASE + retention)
    return load_metadata(path).retention


def test_retention_forms(tmp_path: Path) -> None:
    assert load(tmp_path, "") is None
    assert load(tmp_path, "retention: all\n") == Retention(keep_all=True)
    assert load(tmp_path, "retention: {keep_versions: 30}\n") == Retention(keep_versions=30)
    assert load(tmp_path, "retention:\n  keep_versions: 30\n  keep_days: 365\n") == Retention(
        keep_versions=30, keep_days=365
    )
    assert load(tmp_path, "retention: {keep_days: 0}\n") == Retention(keep_days=0)
    assert Retention(keep_versions=10, keep_days=90) == DEFAULT_RETENTION


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("retention: forever", "7:12: retention: 'forever' is not a retention policy"),
        ("retention: 5", "retention: must be 'all' or a mapping, got an integer"),
        ("retention: {keep_versions: 0}", "retention.keep_versions: must be at least 1, got 0"),
        ("retention: {keep_days: -1}", "retention.keep_days: must be at least 0, got -1"),
        ("retention: {keep_days: 1y}", "retention.keep_days: must be a whole number, got a string"),
        (
            "retention: {keep_days: 1.5}",
            "retention.keep_days: must be a whole number, got a number",
        ),
        ("retention: {keep_all: yes please}", "retention.keep_all: must be true or false"),
        ("retention: {keep_version: 3}", "did you mean 'keep_versions'?"),
    ],
)
def test_bad_retention_names_field_value_and_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MetadataError) as info:
        load(tmp_path, text + "\n")
    assert message in str(info.value)
    assert "retention" in info.value.field
    assert info.value.hint


# -- the history chain -----------------------------------------------------------------------


def test_chain_ignores_orphans_and_stops_at_a_gap() -> None:
    v = chain(4)
    orphan = Version("orphan0000", T0 + timedelta(days=9), v[2].publish_id)  # failed commit
    entries = {x.publish_id: x for x in [*v[1:3], orphan]}  # v[0]'s entry was removed
    assert history_chain(v[3], entries) == v[1:]
    loop = Version("loop000000", T0, "loop000000")
    assert history_chain(loop, {loop.publish_id: loop}) == [loop]


# -- retention -------------------------------------------------------------------------------


def test_default_keeps_ten_versions_and_ninety_days() -> None:
    daily = chain(200)
    now = daily[-1].published_at
    kept = retained_versions(daily, None, now)
    # current at some time in the last 90 days: published on or after day 200-91
    assert kept[0] == daily[-91]
    hourly = chain(30, step=timedelta(days=100))
    assert retained_versions(hourly, None, hourly[-1].published_at) == hourly[-10:]
    assert retained_versions(daily, Retention(keep_all=True), now) == daily


def test_a_version_current_inside_the_window_is_kept() -> None:
    old = chain(2, step=timedelta(days=365))
    now = old[-1].published_at + timedelta(days=1)
    # old[0] was current until a day ago, although published a year ago
    policy = Retention(keep_versions=1, keep_days=2)
    assert retained_versions(old, policy, now) == old
    assert retained_versions(old, Retention(keep_versions=1, keep_days=0), now) == old[1:]


@given(
    gaps=st.lists(st.integers(0, 400), min_size=1, max_size=40),
    keep_versions=st.integers(1, 15),
    keep_days=st.integers(0, 500),
    later=st.integers(0, 500),
)
def test_retention_is_a_suffix_honouring_both_rules(
    gaps: list[int], keep_versions: int, keep_days: int, later: int
) -> None:
    history: list[Version] = []
    at = T0
    for i, gap in enumerate(gaps):
        at += timedelta(hours=gap)
        history.append(Version(f"v{i:09d}", at, history[-1].publish_id if history else None))
    now = at + timedelta(hours=later)
    kept = retained_versions(
        history, Retention(keep_versions=keep_versions, keep_days=keep_days), now
    )
    assert kept == history[len(history) - len(kept) :]  # a suffix: no gap in the chain
    assert kept[-1] == history[-1]
    assert len(kept) >= min(keep_versions, len(history))
    cutoff = now - timedelta(days=keep_days)
    for i, v in enumerate(history[:-1]):
        if keep_days and history[i + 1].published_at > cutoff:
            assert v in kept
    if len(kept) > keep_versions:  # kept beyond the count only for the time rule
        assert keep_days and history[len(history) - len(kept) + 1].published_at > cutoff


# -- selection -------------------------------------------------------------------------------


def test_select_by_id_prefix_and_as_of() -> None:
    v = chain(5)
    assert select_version(DS, v) == v[-1]
    assert select_version(DS, v, version=v[2].publish_id) == v[2]
    assert select_version(DS, v, version=v[2].publish_id[:22]) == v[2]
    assert select_version(DS, v, version=v[3].publish_id.lower()[:24]) == v[3]
    assert select_version(DS, v, as_of=v[1].published_at) == v[1]
    assert select_version(DS, v, as_of=v[1].published_at + timedelta(hours=23)) == v[1]
    assert select_version(DS, v, as_of=datetime(2030, 1, 1)) == v[-1]  # naive = UTC


def test_selection_errors_are_clear() -> None:
    v = chain(5)
    with pytest.raises(VersionNotFound, match="matches 5 versions") as amb:
        select_version(DS, v, version="20250101T")
    assert amb.value.matches == [x.publish_id for x in v]
    with pytest.raises(OpenDataError, match="too short: give a publish id or at least 8"):
        select_version(DS, v, version="2025")
    with pytest.raises(VersionNotFound, match="is not a version of this dataset") as unknown:
        select_version(DS, v, version="nonexistent-id")
    assert unknown.value.oldest_kept == v[0].publish_id
    with pytest.raises(VersionNotFound, match="no version existed at 2024-12-31"):
        select_version(DS, v, as_of=T0 - timedelta(days=1))
    with pytest.raises(OpenDataError, match="not both"):
        select_version(DS, v, version=v[0].publish_id, as_of=T0)


def test_removed_by_retention_names_the_oldest_kept_version() -> None:
    full = chain(6)
    kept = full[3:]  # retention removed the first three
    oldest = kept[0].publish_id
    for asked in ({"version": full[2].publish_id}, {"version": full[2].publish_id[:23]}):
        with pytest.raises(VersionNotFound, match="was removed by the dataset's retention") as e:
            select_version(DS, kept, **asked)  # type: ignore[arg-type]
        assert e.value.oldest_kept == oldest
        assert f"the oldest kept version is {oldest} (2025-01-04 00:00:00 UTC)" in str(e.value)
    with pytest.raises(VersionNotFound, match="retention may have removed it") as e:
        select_version(DS, kept, version=full[0].publish_id)
    assert oldest in str(e.value)
    with pytest.raises(VersionNotFound, match="current at 2025-01-02 .* removed by") as e:
        select_version(DS, kept, as_of=full[1].published_at)
    assert e.value.oldest_kept == oldest


def test_parse_as_of() -> None:
    assert parse_as_of("2025-03-01") == datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_as_of(date(2025, 3, 1)) == datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_as_of("2025-03-01T12:00:00+02:00") == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert parse_as_of("2025-03-01T12:00:00Z") == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert parse_as_of(datetime(2025, 3, 1, 12)) == datetime(2025, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(OpenDataError, match="as_of='last week' is not an ISO 8601"):
        parse_as_of("last week")
    for edge in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        with pytest.raises(OpenDataError, match="outside the years 1-9999 in UTC"):
            parse_as_of(edge)  # not an OverflowError (a registry's 500)


# -- format 1.1 ------------------------------------------------------------------------------


def test_a_1_0_manifest_still_decodes_and_1_1_adds_only_defaulted_fields() -> None:
    old = {
        "format": "1.0",
        "dataset_id": DS,
        "publish_id": "p1",
        "published_at": "2025-01-01T00:00:00Z",
        "schema": [{"name": "x", "type": "int64"}],
        "schema_hash": "0" * 64,
        "row_count": 0,
        "bytes": 0,
        "shards": [],
    }
    manifest = decode_document(json.dumps(old).encode(), Manifest)
    assert manifest.primary_key == []
    assert manifest.provenance.repo is None
