"""Where every object of a dataset lives in a bucket.

::

    [<prefix>/]index.json
    [<prefix>/]datasets/<ns>/<name>/manifest.json
    [<prefix>/]datasets/<ns>/<name>/metadata.json
    [<prefix>/]datasets/<ns>/<name>/README.md
    [<prefix>/]datasets/<ns>/<name>/lifecycle.json
    [<prefix>/]datasets/<ns>/<name>/parts/<sha256>.parquet
    [<prefix>/]datasets/<ns>/<name>/runs/<YYYYMMDDTHHMMSSZ>-<run id>.json
    [<prefix>/]datasets/<ns>/<name>/versions/<publish_id>.json
    [<prefix>/]registry/snapshot.json
    [<prefix>/]registry/snapshots/<snapshot id>/part-<NNNNN>.jsonl.zst

Every key is built from a validated :class:`~opendata_core.ids.DatasetId`, so no ID can produce a
key outside its own ``datasets/<ns>/<name>/`` prefix.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from opendata_core.ids import DatasetId

__all__ = ["Layout"]

_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")
_RUN_ID_RE: Final = re.compile(r"[a-z0-9]{1,32}")
_PUBLISH_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PREFIX_SEGMENT_RE: Final = re.compile(r"[A-Za-z0-9._=-]+")
_SNAPSHOT_ID_RE: Final = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")
RUN_TIME_FORMAT: Final = "%Y%m%dT%H%M%SZ"


class Layout:
    """Object keys for a bucket, under an optional prefix.

    Example:
        >>> from opendata_core import DatasetId, Layout
        >>> ds = DatasetId.parse("ecb/euro-fx-rates")
        >>> Layout("prod").manifest(ds)
        'prod/datasets/ecb/euro-fx-rates/manifest.json'
        >>> Layout().shard(ds, "ab" * 32)[-20:]
        'abababababab.parquet'
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: str = "") -> None:
        prefix = prefix.strip("/")
        if prefix:
            for segment in prefix.split("/"):
                if segment in (".", "..") or not _PREFIX_SEGMENT_RE.fullmatch(segment):
                    raise ValueError(
                        f"invalid key prefix {prefix!r}: segment {segment!r} must be made of "
                        "letters, digits, '.', '_', '=', '-' and not be '.' or '..'"
                    )
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"Layout({self.prefix!r})"

    def _key(self, rest: str) -> str:
        return f"{self.prefix}/{rest}" if self.prefix else rest

    def index(self) -> str:
        """The global ``index.json``."""
        return self._key("index.json")

    def snapshot(self) -> str:
        """The registry's catalogue snapshot: which parts make the current one (spec §5.8)."""
        return self._key("registry/snapshot.json")

    def snapshots_root(self) -> str:
        """The folder of every catalogue snapshot's parts."""
        return self._key("registry/snapshots/")

    def snapshot_part(self, snapshot_id: str, number: int) -> str:
        """One part of a catalogue snapshot: zstd-compressed JSON lines, one dataset a line.

        Example:
            >>> from opendata_core import Layout
            >>> Layout().snapshot_part("20261207T120000Z-0a1b2c3d", 7)
            'registry/snapshots/20261207T120000Z-0a1b2c3d/part-00007.jsonl.zst'
        """
        if not _SNAPSHOT_ID_RE.fullmatch(snapshot_id):
            raise ValueError(
                f"snapshot id {snapshot_id[:80]!r} must look like 20261207T120000Z-0a1b2c3d"
            )
        if not 0 <= number < 100_000:
            raise ValueError(f"snapshot part number {number} must be 0-99999")
        return f"{self.snapshots_root()}{snapshot_id}/part-{number:05d}.jsonl.zst"

    def datasets_root(self) -> str:
        """The folder (with trailing ``/``) that holds every dataset."""
        return self._key("datasets/")

    def dataset_prefix(self, dataset_id: DatasetId) -> str:
        """The dataset's folder, with a trailing ``/``; every other key starts with it."""
        ds = DatasetId.parse(dataset_id)
        return self._key(f"datasets/{ds.namespace}/{ds.name}/")

    def manifest(self, dataset_id: DatasetId) -> str:
        """``manifest.json``: the commit record of the current version."""
        return self.dataset_prefix(dataset_id) + "manifest.json"

    def metadata(self, dataset_id: DatasetId) -> str:
        """``metadata.json``: the yaml fields, stats and a preview."""
        return self.dataset_prefix(dataset_id) + "metadata.json"

    def lifecycle(self, dataset_id: DatasetId) -> str:
        """``lifecycle.json``: status, trust and audit trail (absent: active, not verified)."""
        return self.dataset_prefix(dataset_id) + "lifecycle.json"

    def readme(self, dataset_id: DatasetId) -> str:
        """The dataset's ``README.md``."""
        return self.dataset_prefix(dataset_id) + "README.md"

    def parts_prefix(self, dataset_id: DatasetId) -> str:
        """The folder of the content-addressed shards."""
        return self.dataset_prefix(dataset_id) + "parts/"

    def shard(self, dataset_id: DatasetId, sha256: str) -> str:
        """An immutable shard, named by the sha256 (lower-case hex) of its bytes."""
        if not _SHA256_RE.fullmatch(sha256):
            raise ValueError(f"shard hash {sha256!r} is not 64 lower-case hex digits")
        return f"{self.parts_prefix(dataset_id)}{sha256}.parquet"

    def runs_prefix(self, dataset_id: DatasetId) -> str:
        """The folder of run records."""
        return self.dataset_prefix(dataset_id) + "runs/"

    def run_record(self, dataset_id: DatasetId, started_at: datetime, run_id: str) -> str:
        """One run record; keys sort by start time (UTC)."""
        if not _RUN_ID_RE.fullmatch(run_id):
            raise ValueError(f"run id {run_id!r} must be 1-32 lower-case letters or digits")
        if started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        stamp = started_at.astimezone(UTC).strftime(RUN_TIME_FORMAT)
        return f"{self.runs_prefix(dataset_id)}{stamp}-{run_id}.json"

    def versions_prefix(self, dataset_id: DatasetId) -> str:
        """The folder of the history: one immutable manifest per committed publish."""
        return self.dataset_prefix(dataset_id) + "versions/"

    def version(self, dataset_id: DatasetId, publish_id: str) -> str:
        """The history entry of one publish: its manifest, written before the commit.

        Example:
            >>> from opendata_core import DatasetId, Layout
            >>> Layout().version(DatasetId.parse("ecb/fx"), "01JPC7N4W0Q8V3K2D9XH5B6M1R")
            'datasets/ecb/fx/versions/01JPC7N4W0Q8V3K2D9XH5B6M1R.json'
        """
        if not _PUBLISH_ID_RE.fullmatch(publish_id):
            raise ValueError(
                f"publish id {publish_id[:80]!r} must be 1-64 letters, digits, '-' or '_'"
            )
        return f"{self.versions_prefix(dataset_id)}{publish_id}.json"

    def relative(self, dataset_id: DatasetId, key: str) -> str:
        """``key`` relative to the dataset's folder (how manifests list shards)."""
        prefix = self.dataset_prefix(dataset_id)
        if not key.startswith(prefix):
            raise ValueError(f"{key!r} is not under {prefix!r}")
        return key[len(prefix) :]

    def resolve(self, dataset_id: DatasetId, relative: str) -> str:
        """The full key of a path listed in a manifest, refusing any path that would escape."""
        parts = relative.split("/")
        if not relative or relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"path {relative!r} escapes the dataset folder")
        return self.dataset_prefix(dataset_id) + relative
