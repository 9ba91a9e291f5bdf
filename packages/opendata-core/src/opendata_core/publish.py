"""Building a dataset version's ``manifest.json`` from its shards (the commit record).

Pure: the client's push and the registry's commit build the same document from the same shard
descriptions; writing it (conditionally) is the caller's job (spec 4.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from opendata_core.documents import Field, Manifest, Partitioning, Shard, schema_hash

__all__ = ["build_manifest", "new_publish_id", "same_data"]


def new_publish_id(now: datetime) -> str:
    """A publish id: the UTC time and 8 random hex digits (sorts by time).

    Example:
        >>> new_publish_id(datetime(2024, 5, 1, 12, tzinfo=UTC))[:17]
        '20240501T120000Z-'
    """
    return f"{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def build_manifest(
    dataset_id: str,
    shards: Sequence[Shard],
    *,
    schema: Sequence[Field],
    time_column: str | None,
    partition: Partitioning,
    previous: Manifest | None = None,
    now: datetime | None = None,
    publish_id: str | None = None,
) -> Manifest:
    """The manifest of a new version: shards in time order, totals, coverage and schema hash.

    Args:
        dataset_id: ``namespace/name``.
        shards: Every shard of the version (new and carried over), in any order.
        schema: The columns.
        time_column: The time column, or ``None``.
        partition: ``"year"``, ``"month"``, ``"day"`` or ``"none"``.
        previous: The version this one replaces (its ``publish_id`` becomes the parent).
        now: The publish time (default: now).
        publish_id: Default: :func:`new_publish_id` of ``now``.

    Example:
        >>> s = Shard(path="parts/ab.parquet", sha256="ab", rows=2, bytes=10, partition="2024",
        ...           min="2024-01-01", max="2024-01-02")
        >>> m = build_manifest("me/x", [s], schema=[Field(name="date", type="date32[day]")],
        ...                    time_column="date", partition="year", publish_id="p1")
        >>> (m.row_count, m.bytes, m.min_time, m.max_time, m.parent_publish_id)
        (2, 10, '2024-01-01', '2024-01-02', None)
    """
    now = now or datetime.now(UTC)
    ordered = sorted(shards, key=lambda s: (s.min or "", s.partition))
    times = [(s.min, s.max) for s in ordered if s.min is not None and s.max is not None]
    fields = list(schema)
    return Manifest(
        dataset_id=dataset_id,
        publish_id=publish_id or new_publish_id(now),
        published_at=now,
        parent_publish_id=previous.publish_id if previous else None,
        time_column=time_column,
        partition=partition,
        schema=fields,
        schema_hash=schema_hash(fields),
        row_count=sum(s.rows for s in ordered),
        bytes=sum(s.bytes for s in ordered),
        min_time=min(t[0] for t in times) if times else None,
        max_time=max(t[1] for t in times) if times else None,
        shards=ordered,
    )


def same_data(a: Manifest, b: Manifest) -> bool:
    """Whether two versions hold byte-identical data the same way (a publish would change nothing).

    Same shards in the same order, same schema, time column and partitioning.
    """
    return [s.sha256 for s in a.shards] == [s.sha256 for s in b.shards] and (
        a.schema_hash,
        a.time_column,
        a.partition,
    ) == (b.schema_hash, b.time_column, b.partition)
