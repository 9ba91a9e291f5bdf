from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from opendata_core import DatasetId, Layout

DS = DatasetId.parse("ecb/euro-fx-rates")
SHA = "0123456789abcdef" * 4


def test_keys_without_prefix() -> None:
    layout = Layout()
    assert layout.index() == "index.json"
    assert layout.datasets_root() == "datasets/"
    assert layout.dataset_prefix(DS) == "datasets/ecb/euro-fx-rates/"
    assert layout.manifest(DS) == "datasets/ecb/euro-fx-rates/manifest.json"
    assert layout.metadata(DS) == "datasets/ecb/euro-fx-rates/metadata.json"
    assert layout.readme(DS) == "datasets/ecb/euro-fx-rates/README.md"
    assert layout.shard(DS, SHA) == f"datasets/ecb/euro-fx-rates/parts/{SHA}.parquet"
    started = datetime(2024, 5, 1, 6, 30, 5, tzinfo=UTC)
    assert layout.run_record(DS, started, "abc123") == (
        "datasets/ecb/euro-fx-rates/runs/20240501T063005Z-abc123.json"
    )


def test_prefix_is_normalised_and_applied_everywhere() -> None:
    layout = Layout("/prod/v1/")
    assert layout.prefix == "prod/v1"
    assert layout.index() == "prod/v1/index.json"
    assert layout.manifest(DS).startswith("prod/v1/datasets/ecb/euro-fx-rates/")


def test_run_record_times_are_utc() -> None:
    cet = timezone(timedelta(hours=1))
    key = Layout().run_record(DS, datetime(2024, 1, 1, 0, 30, tzinfo=cet), "r1")
    assert key.endswith("runs/20231231T233000Z-r1.json")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Layout("a/../b"), "segment '..'"),
        (lambda: Layout("a b"), "invalid key prefix"),
        (lambda: Layout().shard(DS, "../../x"), "not 64 lower-case hex"),
        (lambda: Layout().shard(DS, SHA.upper()), "not 64 lower-case hex"),
        (lambda: Layout().run_record(DS, datetime(2024, 1, 1, tzinfo=UTC), "../x"), "run id"),
        (lambda: Layout().run_record(DS, datetime(2024, 1, 1), "r1"), "timezone-aware"),
        (lambda: Layout().resolve(DS, "../other/manifest.json"), "escapes"),
        (lambda: Layout().resolve(DS, "/abs"), "escapes"),
        (lambda: Layout().resolve(DS, "parts//x"), "escapes"),
        (lambda: Layout().relative(DS, "datasets/other/x/manifest.json"), "is not under"),
    ],
)
def test_bad_keys_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_relative_and_resolve_round_trip() -> None:
    layout = Layout("p")
    key = layout.shard(DS, SHA)
    rel = layout.relative(DS, key)
    assert rel == f"parts/{SHA}.parquet"
    assert layout.resolve(DS, rel) == key
