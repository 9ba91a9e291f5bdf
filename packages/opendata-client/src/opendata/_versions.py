"""Versions: the history entries a commit writes, reading the history, and choosing a version.

The rules (which entries are versions, retention, selection) are core's
(:mod:`opendata_core.versions`); this module does the store I/O around them (spec §8). Through
a registry the registry reads the history (``GET …/versions``) by the same rules: nothing here
lists a bucket through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from opendata._read import MAX_WORKERS
from opendata_core.documents import (
    Manifest,
    MetadataDocument,
    SchemaDiff,
    Shard,
    diff_schemas,
    encode_document,
)
from opendata_core.store import NotFound, ObjectInfo, PreconditionFailed
from opendata_core.versions import (
    decode_entry,
    entry_publish_id,
    manifest_chain,
    select_manifest,
    summaries,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from opendata._read import Reader
    from opendata._registry import RegistryTransport
    from opendata_core.api import PublishSummary
    from opendata_core.ids import DatasetId

__all__ = [
    "History",
    "VersionDiff",
    "diff",
    "listed",
    "pinned_info",
    "read_history",
    "resolve",
    "write_entry",
]

SAMPLE_KEYS = 10
"""How many keys of added, removed and changed rows a diff shows."""


@dataclass(frozen=True)
class History:
    """A dataset's versions (oldest first, current last) and the entries no chain reaches."""

    versions: list[Manifest]
    orphans: list[ObjectInfo]
    """History entries that are not versions (a commit that failed after writing them)."""
    detached: list[ObjectInfo]
    """Entries on no chain that some entry names as parent: committed versions behind a gap
    (a version between them and the current one has no entry). Never listed; gc leaves them."""
    entries: dict[str, ObjectInfo]
    """Every listed entry by publish id."""

    @property
    def current(self) -> Manifest:
        return self.versions[-1]


def write_entry(
    reader: Reader, ds: DatasetId, manifest: Manifest, previous: Manifest | None
) -> None:
    """Store ``manifest`` as its history entry; call before the conditional manifest write.

    The key and bytes depend only on the manifest, so a retried write is idempotent. When the
    manifest being replaced has no entry (published before format 1.1), it is back-filled first
    (create only if absent), so the chain stays unbroken.
    """
    store, layout = reader.store, reader.layout
    if previous is not None:
        key = layout.version(ds, previous.publish_id)
        if not store.exists(key):
            with contextlib.suppress(PreconditionFailed):  # another writer back-filled it
                store.put(key, encode_document(previous), if_absent=True)
    store.put(layout.version(ds, manifest.publish_id), encode_document(manifest))


def _registry(reader: Reader) -> RegistryTransport | None:
    from opendata._registry import RegistryTransport

    return reader.store if isinstance(reader.store, RegistryTransport) else None


def _entry(reader: Reader, ds: DatasetId, publish_id: str) -> Manifest:
    data, _ = reader.store.get(reader.layout.version(ds, publish_id))
    return decode_entry(bytes(data), str(ds), publish_id)


def read_history(reader: Reader, ds: DatasetId, current: Manifest | None = None) -> History:
    """The versions of ``ds``: one LIST of ``versions/``, the entries in parallel, then the chain.

    Only entries reachable from the current manifest through ``parent_publish_id`` are versions
    (spec §8.1); a dataset published before format 1.1 has one version, the current manifest.
    """
    if current is None:
        current, _ = reader.manifest(ds)
    prefix = reader.layout.versions_prefix(ds)
    listed: dict[str, ObjectInfo] = {}
    for obj in reader.store.list(prefix):
        publish_id = entry_publish_id(obj.key, prefix)
        if publish_id is not None:
            listed[publish_id] = obj
    others = [pid for pid in listed if pid != current.publish_id]

    def get(publish_id: str) -> Manifest | None:
        try:
            return _entry(reader, ds, publish_id)
        except NotFound:
            return None  # deleted by a collector since the LIST

    with ThreadPoolExecutor(max_workers=max(1, min(MAX_WORKERS, len(others)))) as pool:
        found = {m.publish_id: m for m in pool.map(get, others) if m is not None}
    versions = manifest_chain(current, found)
    on_chain = {v.publish_id for v in versions}
    # No publish names an orphan as its parent: parents are read from manifest.json (spec 8.1).
    descends = {m.parent_publish_id for m in found.values()}
    orphans: list[ObjectInfo] = []
    detached: list[ObjectInfo] = []
    for pid, obj in listed.items():
        if pid in on_chain:
            continue
        (detached if pid in descends else orphans).append(obj)
    return History(versions, orphans, detached, listed)


def listed(reader: Reader, ds: DatasetId) -> list[PublishSummary]:
    """The kept versions, newest first: read from the store, or the registry's list."""
    registry = _registry(reader)
    if registry is not None:
        return registry.versions(ds)
    return list(reversed(summaries(read_history(reader, ds).versions)))


def resolve(
    reader: Reader,
    ds: DatasetId,
    version: str | None = None,
    as_of: str | date | datetime | None = None,
    history: History | None = None,
) -> Manifest:
    """The manifest of the version asked for (the current one when neither is given)."""
    registry = _registry(reader)
    if registry is not None:
        return registry.resolve(ds, version, as_of)
    if history is None:
        current, _ = reader.manifest(ds)
        if version is None and as_of is None:
            return current
        if version is not None and version.strip() == current.publish_id:
            return current
        history = read_history(reader, ds, current)
    return select_manifest(str(ds), history.versions, version=version, as_of=as_of)


def pinned_info(doc: MetadataDocument, manifest: Manifest) -> MetadataDocument:
    """``metadata.json`` as of one version: its stats, schema, time and provenance, no preview."""
    return MetadataDocument(
        dataset=doc.dataset,
        stats=manifest.stats(),
        schema=manifest.schema,
        preview=[],
        updated_at=manifest.published_at,
        provenance=manifest.provenance,
    )


@dataclass(frozen=True)
class VersionDiff:
    """What changed between two versions (:meth:`opendata.Client.diff`)."""

    dataset_id: str
    old: str
    new: str
    """The two publish ids."""
    schema: SchemaDiff
    rows_before: int
    rows_after: int
    coverage_before: tuple[str | None, str | None]
    coverage_after: tuple[str | None, str | None]
    primary_key: list[str]
    added: int | None = None
    """Rows whose key is only in ``new`` (``None`` without a primary key)."""
    removed: int | None = None
    changed: int | None = None
    """Rows whose key is in both with different values (in the columns both versions have)."""
    examples: dict[str, list[dict[str, Any]]] | None = None
    """Up to :data:`SAMPLE_KEYS` keys each of ``added``, ``removed`` and ``changed`` rows."""
    shards_read: int = 0
    shards_skipped: int = 0
    """Shards in both versions (equal sha256), which were not read."""
    bytes_read: int = 0

    def __str__(self) -> str:
        lines = [
            f"{self.dataset_id}: {self.old} -> {self.new}",
            f"rows: {self.rows_before:,} -> {self.rows_after:,} "
            f"({self.rows_after - self.rows_before:+,})",
            f"coverage: {_span(self.coverage_before)} -> {_span(self.coverage_after)}",
            f"schema: {self.schema}",
        ]
        if self.added is not None:
            lines.append(
                f"rows by key ({', '.join(self.primary_key)}): {self.added:,} added, "
                f"{self.removed:,} removed, {self.changed:,} changed"
            )
            for kind, keys in (self.examples or {}).items():
                if keys:
                    shown = "; ".join(", ".join(f"{k}={v}" for k, v in key.items()) for key in keys)
                    lines.append(f"  {kind}: {shown}")
        else:
            lines.append("rows by key: no primary key (set primary_key in opendata.yaml)")
        lines.append(
            f"read {self.shards_read} shard(s), {self.bytes_read:,} bytes; "
            f"{self.shards_skipped} unchanged shard(s) skipped"
        )
        return "\n".join(lines)


def _span(coverage: tuple[str | None, str | None]) -> str:
    return f"{coverage[0]} .. {coverage[1]}" if coverage[0] is not None else "none"


def diff(reader: Reader, ds: DatasetId, v1: str, v2: str, *, rows: bool = True) -> VersionDiff:
    """:meth:`opendata.Client.diff`: only shards whose sha256 is in one version are read."""
    history = None if _registry(reader) else read_history(reader, ds)
    old = resolve(reader, ds, v1, history=history)
    new = resolve(reader, ds, v2, history=history)
    both = {s.sha256 for s in old.shards} & {s.sha256 for s in new.shards}
    key = list(new.primary_key or old.primary_key)
    names = {f.name for f in old.schema}
    key_ok = (
        bool(key)
        and all(k in names for k in key)
        and all(k in (f.name for f in new.schema) for k in key)
    )
    result = VersionDiff(
        dataset_id=str(ds),
        old=old.publish_id,
        new=new.publish_id,
        schema=diff_schemas(old.schema, new.schema),
        rows_before=old.row_count,
        rows_after=new.row_count,
        coverage_before=(old.min_time, old.max_time),
        coverage_after=(new.min_time, new.max_time),
        primary_key=key if key_ok else [],
        shards_skipped=len(both),
    )
    if not (rows and key_ok):
        return result
    old_only = [s for s in old.shards if s.sha256 not in both]
    new_only = [s for s in new.shards if s.sha256 not in both]
    before = _rows_by_key(reader, ds, old_only, key)
    after = _rows_by_key(reader, ds, new_only, key)
    read = old_only + new_only
    common = [f.name for f in new.schema if f.name in names and f.name not in key]
    added = [k for k in after if k not in before]
    removed = [k for k in before if k not in after]
    changed = [
        k for k in after if k in before and any(before[k].get(c) != after[k].get(c) for c in common)
    ]

    def sample(keys: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        return [dict(zip(key, k, strict=True)) for k in keys[:SAMPLE_KEYS]]

    return VersionDiff(
        **{
            **result.__dict__,
            "added": len(added),
            "removed": len(removed),
            "changed": len(changed),
            "examples": {
                "added": sample(added),
                "removed": sample(removed),
                "changed": sample(changed),
            },
            "shards_read": len(read),
            "bytes_read": sum(s.bytes for s in read),
        }
    )


def _rows_by_key(
    reader: Reader, ds: DatasetId, shards: Sequence[Shard], key: list[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rows of ``shards`` (verified downloads) by their primary key; the last row wins."""
    if not shards:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(shards))) as pool:
        tables: list[pa.Table] = list(pool.map(lambda s: reader.read_table(ds, s), shards))
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for table in tables:
        for row in table.to_pylist():
            out[tuple(row[k] for k in key)] = row
    return out
