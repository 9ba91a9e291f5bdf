"""Pure publish logic in core: the manifest built from shard descriptions, and the retry rule."""

from __future__ import annotations

from datetime import UTC, datetime

from opendata_core.documents import Field, Shard
from opendata_core.publish import build_manifest, same_data
from opendata_core.retry import attempts, backoff_delay

SCHEMA = [Field(name="date", type="date32[day]"), Field(name="x", type="int64")]


def _shard(sha: str, partition: str, lo: str | None, hi: str | None, rows: int = 2) -> Shard:
    return Shard(
        path=f"parts/{sha}.parquet",
        sha256=sha,
        rows=rows,
        bytes=10 * rows,
        partition=partition,
        min=lo,
        max=hi,
    )


def test_build_manifest_orders_shards_and_sums_them() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    shards = [
        _shard("b", "2024", "2024-01-01", "2024-12-31"),
        _shard("a", "2023", "2023-01-01", "2023-06-30", 3),
    ]
    first = build_manifest(
        "me/x", shards, schema=SCHEMA, time_column="date", partition="year", now=now
    )
    assert [s.sha256 for s in first.shards] == ["a", "b"]
    assert (first.row_count, first.bytes) == (5, 50)
    assert (first.min_time, first.max_time) == ("2023-01-01", "2024-12-31")
    assert first.publish_id.startswith("20240501T120000Z-") and first.parent_publish_id is None
    second = build_manifest(
        "me/x",
        list(reversed(shards)),
        schema=SCHEMA,
        time_column="date",
        partition="year",
        previous=first,
    )
    assert second.parent_publish_id == first.publish_id
    assert same_data(first, second)
    other = build_manifest("me/x", shards[:1], schema=SCHEMA, time_column="date", partition="year")
    assert not same_data(first, other)


def test_a_dataset_without_time_has_no_coverage() -> None:
    m = build_manifest(
        "me/x", [_shard("a", "all", None, None)], schema=SCHEMA, time_column=None, partition="none"
    )
    assert (m.min_time, m.max_time, m.row_count) == (None, None, 2)


def test_attempts_sleep_with_jitter_only_between_attempts() -> None:
    slept: list[float] = []
    assert list(attempts(4, sleep=slept.append)) == [0, 1, 2, 3]
    assert len(slept) == 3
    assert all(0 <= s <= cap for s, cap in zip(slept, (0.05, 0.1, 0.2), strict=True))
    assert all(0 <= backoff_delay(n) <= 2.0 for n in range(1, 30))
