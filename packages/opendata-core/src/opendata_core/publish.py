"""Building a dataset version's ``manifest.json`` from its shards (the commit record).

Pure: the client's push and the registry's commit build the same document from the same shard
descriptions; writing it (conditionally) is the caller's job (spec 4.1). The append rule lives
here too (:func:`append_shards`, :func:`rebase_append`): the client applies it to a direct
store, the registry to rebase an append onto a publish that moved on (spec 4.1, registry step 4).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from opendata_core.documents import Field, Manifest, Partitioning, Provenance, Shard, schema_hash
from opendata_core.errors import ConflictError, FormatError

__all__ = ["append_shards", "build_manifest", "new_publish_id", "rebase_append", "same_data"]


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
    primary_key: Sequence[str] = (),
    provenance: Provenance | None = None,
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
        primary_key: The columns that identify a row (recorded since format 1.1).
        provenance: Where the publish came from (recorded since format 1.1).

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
        primary_key=list(primary_key),
        provenance=provenance or Provenance(),
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


def append_shards(base: Sequence[Shard], written: Sequence[Shard]) -> list[Shard]:
    """The shards of an append: ``base``'s outside the partitions ``written`` covers, and those.

    An append writes whole partitions: a partition it extends is written again with its old
    rows and the new ones; every other partition is kept as it is. The one rule for the client
    (on a direct store) and the registry (rebasing, :func:`rebase_append`).

    Example:
        >>> old = [Shard(path="parts/a.parquet", sha256="a", rows=1, bytes=1, partition="2023"),
        ...        Shard(path="parts/b.parquet", sha256="b", rows=1, bytes=1, partition="2024")]
        >>> new = [Shard(path="parts/c.parquet", sha256="c", rows=2, bytes=2, partition="2024")]
        >>> [s.sha256 for s in append_shards(old, new)]
        ['a', 'c']
    """
    touched = {s.partition for s in written}
    return [*(s for s in base if s.partition not in touched), *written]


def _by_partition(shards: Sequence[Shard]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for s in shards:
        found.setdefault(s.partition, set()).add(s.sha256)
    return found


def rebase_append(
    parent: Manifest | None, ours: Manifest, live: Manifest, *, now: datetime | None = None
) -> Manifest | None:
    """An append built on ``parent``, rebuilt on ``live`` (a publish that committed meanwhile).

    The partitions the append writes are those whose shards differ between ``parent`` and
    ``ours``. The result is :func:`append_shards` of ``live``'s shards and ours in those
    partitions, with totals, coverage and schema hash recomputed, ``ours``'s ``publish_id``,
    ``live`` as parent and ``now`` as publish time. ``None`` means ``live`` already holds exactly
    what the append writes (a retried commit that went through).

    Raises:
        ConflictError: ``live`` changed a partition the append writes (two appends to one
            partition; ``.partition`` names it), or changed the schema, time column or
            partitioning since ``parent``: the append must be merged again onto ``live``.
        FormatError: ``ours`` drops a partition of ``parent``: not an append.

    Example:
        >>> def shard(sha, label):
        ...     return Shard(path=f"parts/{sha}.parquet", sha256=sha, rows=1, bytes=1,
        ...                  partition=label)
        >>> def version(pid, parent, *shards):
        ...     return build_manifest("me/x", shards, schema=[], time_column=None,
        ...                           partition="year", publish_id=pid, previous=parent)
        >>> base = version("p0", None, shard("a", "2023"))
        >>> other = version("p1", base, shard("a", "2023"), shard("b", "2024"))
        >>> ours = version("p2", base, shard("a", "2023"), shard("c", "2025"))
        >>> done = rebase_append(base, ours, other)
        >>> ([s.sha256 for s in done.shards], done.parent_publish_id, done.publish_id)
        (['a', 'b', 'c'], 'p1', 'p2')
    """
    ds = ours.dataset_id
    before = _by_partition(parent.shards if parent else [])
    after = _by_partition(ours.shards)
    dropped = sorted(set(before) - set(after))
    if dropped:
        raise FormatError(
            f"{ds}: an append keeps every partition, but partition {dropped[0]!r} of "
            f"{parent.publish_id if parent else 'the parent'} has no shard in the manifest; "
            "send it as a replace (mode omitted)",
            document="commit",
            field="mode",
        )
    written = sorted(label for label in after if after[label] != before.get(label))
    now_live = _by_partition(live.shards)
    if written and all(now_live.get(label) == after[label] for label in written):
        return None
    retry = f"; nothing was changed — merge the append again onto {live.publish_id}"
    if not written:
        raise ConflictError(
            ds, f"{ds}: the append writes no partition{retry}", publish_id=live.publish_id
        )
    if (live.time_column, live.partition) != (ours.time_column, ours.partition):
        raise ConflictError(
            ds,
            f"{ds}: the live publish {live.publish_id} is partitioned by "
            f"{live.partition} on {live.time_column!r}, the append by {ours.partition} on "
            f"{ours.time_column!r}{retry}",
            publish_id=live.publish_id,
        )
    if parent is not None and live.schema_hash != parent.schema_hash:
        raise ConflictError(
            ds,
            f"{ds}: the live publish {live.publish_id} changed the schema since "
            f"{parent.publish_id}{retry}",
            publish_id=live.publish_id,
        )
    for label in written:
        if now_live.get(label, set()) != before.get(label, set()):
            raise ConflictError(
                ds,
                f"{ds}: partition {label!r} was also written by {live.publish_id} after "
                f"{parent.publish_id if parent else 'the first publish'}{retry}",
                publish_id=live.publish_id,
                partition=label,
            )
    return build_manifest(
        ds,
        append_shards(live.shards, [s for s in ours.shards if s.partition in written]),
        schema=ours.schema,
        time_column=ours.time_column,
        partition=ours.partition,
        previous=live,
        now=now,
        publish_id=ours.publish_id,
        primary_key=ours.primary_key,
        provenance=ours.provenance,
    )
