"""What the client's operations return, and the names their signatures share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from opendata_core.documents import Field, Stats

__all__ = [
    "DEFAULT_GC_GRACE",
    "Format",
    "GcResult",
    "Mode",
    "PushResult",
    "ShardUrl",
]

DEFAULT_GC_GRACE = timedelta(hours=1)

Mode = Literal["replace", "append"]
Format = Literal["pandas", "polars", "arrow"]


@dataclass(frozen=True)
class PushResult:
    """What a push did."""

    dataset_id: str
    publish_id: str
    rows: int
    bytes: int
    shards_written: int
    shards_reused: int
    duration: float
    schema_hash: str
    schema_changed: bool
    min_time: str | None = None
    max_time: str | None = None
    stats: Stats | None = None
    """The published version's statistics (as in ``metadata.json``)."""
    warnings: list[str] = field(default_factory=list)
    """Steps after the commit that failed (metadata, README, index): the publish stands, and
    ``od index rebuild`` (or the next publish) repairs them."""
    unchanged: bool = False
    """The data was byte-identical to the live version: nothing was committed, and
    ``publish_id`` is the live version's."""
    schema: list[Field] = field(default_factory=list)
    """The published (or, in a dry run, would-be) columns."""
    dry_run: bool = False
    """Nothing was written: the result describes what the push would have done
    (``publish_id`` is empty unless the data is unchanged)."""

    def __str__(self) -> str:
        from opendata_core.timerange import coverage_text

        cov = f", {text}" if (text := coverage_text(self.min_time, self.max_time)) else ""
        if self.dry_run:
            return (
                f"{self.dataset_id}: dry run, nothing was written ({self.rows:,} rows{cov}; "
                f"{self.shards_written} shard(s) to write, {self.shards_reused} reused)"
            )
        if self.unchanged:
            return (
                f"{self.dataset_id}: unchanged ({self.rows:,} rows{cov}); the data is identical "
                f"to publish {self.publish_id}, nothing was committed"
            )
        return (
            f"{self.dataset_id}: {self.rows:,} rows{cov}; {self.shards_written} shard(s) written, "
            f"{self.shards_reused} reused, {self.bytes:,} bytes, {self.duration:.2f}s"
        )


@dataclass(frozen=True)
class ShardUrl:
    """One shard of a dataset, for tools that read Parquet themselves (DuckDB, Spark, ...)."""

    url: str
    sha256: str
    rows: int
    bytes: int
    partition: str
    min: str | None
    max: str | None


@dataclass(frozen=True)
class GcResult:
    """What a garbage collection removed (or would remove, with ``dry_run``)."""

    dataset_id: str
    deleted: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept_in_grace: int = 0
    versions_removed: list[str] = field(default_factory=list)
    """Versions the dataset's retention no longer keeps (their history entries were deleted)."""
    versions_kept: int = 0
