"""Pure publish logic in core: the manifest built from shard descriptions, and the retry rule."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from opendata_core.documents import Field, Manifest, Shard
from opendata_core.errors import ConflictError, FormatError
from opendata_core.publish import append_shards, build_manifest, rebase_append, same_data
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


def _version(
    pid: str, parent: Manifest | None, *shards: Shard, schema: list[Field] = SCHEMA
) -> Manifest:
    return build_manifest(
        "me/x",
        shards,
        schema=schema,
        time_column="date",
        partition="year",
        publish_id=pid,
        previous=parent,
    )


Y23 = _shard("a" * 64, "2023", "2023-01-01", "2023-12-31")
Y24 = _shard("b" * 64, "2024", "2024-01-01", "2024-12-31")
Y24_MORE = _shard("c" * 64, "2024", "2024-01-01", "2024-12-31", rows=5)
Y24_OTHER = _shard("d" * 64, "2024", "2024-01-01", "2024-12-31", rows=4)
Y25 = _shard("e" * 64, "2025", "2025-01-01", "2025-06-30", rows=3)


def test_append_shards_keeps_untouched_partitions_and_replaces_written_ones() -> None:
    assert append_shards([Y23, Y24], [Y24_MORE, Y25]) == [Y23, Y24_MORE, Y25]
    assert append_shards([], [Y25]) == [Y25]


def test_rebase_append_puts_the_written_partitions_on_the_live_version() -> None:
    base = _version("p0", None, Y23, Y24)
    other = _version("p1", base, Y23, Y24, Y25)
    ours = _version("p2", base, Y23, Y24_MORE)  # extends 2024
    now = datetime(2025, 7, 1, tzinfo=UTC)
    done = rebase_append(base, ours, other, now=now)
    assert done is not None
    assert [s.sha256 for s in done.shards] == [Y23.sha256, Y24_MORE.sha256, Y25.sha256]
    assert (done.publish_id, done.parent_publish_id, done.published_at) == ("p2", "p1", now)
    assert (done.row_count, done.bytes) == (2 + 5 + 3, 20 + 50 + 30)
    assert (done.min_time, done.max_time) == ("2023-01-01", "2025-06-30")
    # Built on no parent (two first publishes racing) it adds what the other did not write.
    first = rebase_append(None, _version("p3", None, Y25), _version("p4", None, Y23))
    assert first is not None and [s.partition for s in first.shards] == ["2023", "2025"]


def test_rebase_append_refuses_a_partition_written_by_both_naming_it() -> None:
    base = _version("p0", None, Y23, Y24)
    other = _version("p1", base, Y23, Y24_OTHER)
    ours = _version("p2", base, Y23, Y24_MORE)
    with pytest.raises(ConflictError, match="partition '2024' was also written by p1") as err:
        rebase_append(base, ours, other)
    assert (err.value.partition, err.value.publish_id) == ("2024", "p1")


def test_rebase_append_conflicts_when_the_live_layout_or_schema_moved() -> None:
    base = _version("p0", None, Y23)
    ours = _version("p2", base, Y23, Y25)
    wider = [*SCHEMA, Field(name="y", type="string")]
    with pytest.raises(ConflictError, match="changed the schema since p0"):
        rebase_append(base, ours, _version("p1", base, Y23, Y24, schema=wider))
    monthly = msgspec.structs.replace(_version("p1", base, Y23, Y24), partition="month")
    with pytest.raises(ConflictError, match="partitioned by month"):
        rebase_append(base, ours, monthly)
    with pytest.raises(ConflictError, match="writes no partition"):
        rebase_append(base, _version("p2", base, Y23), _version("p1", base, Y23, Y24))


def test_rebase_append_says_when_the_append_is_already_live_or_not_an_append() -> None:
    base = _version("p0", None, Y23)
    ours = _version("p2", base, Y23, Y25)
    rebased = rebase_append(base, ours, _version("p1", base, Y23, Y24))
    assert rebased is not None
    later = _version("p3", rebased, *rebased.shards, Y24_MORE)
    assert rebase_append(base, ours, later) is None  # a retry of a commit that went through
    with pytest.raises(FormatError, match="partition '2023'") as err:
        rebase_append(base, _version("p2", base, Y25), _version("p1", base, Y23, Y24))
    assert err.value.field == "mode"
