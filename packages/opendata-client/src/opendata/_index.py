"""``index.json``: the catalogue that search, list and the portal read."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime

from opendata._lifecycle import read_from
from opendata_core.documents import (
    Index,
    IndexEntry,
    MetadataDocument,
    decode_document,
    encode_document,
)
from opendata_core.errors import ConflictError, FormatError
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.metadata import load_metadata
from opendata_core.retry import attempts
from opendata_core.store import NotFound, PreconditionFailed, Store

__all__ = ["Catalog"]

_RETRIES = 10


class Catalog:
    """Read and write a store's ``index.json`` (an :class:`~opendata.Index` document).

    Updates of one entry are conditional writes retried on conflict, so producers finishing at
    the same time do not lose each other's entries. :meth:`rebuild` recreates the whole index from
    every ``metadata.json`` (run it once after many producers finish).

    Example:
        >>> import opendata as od
        >>> idx = od.Client().index  # doctest: +SKIP
        >>> [e.id for e in idx.load().datasets]  # doctest: +SKIP
    """

    def __init__(self, store: Store, layout: Layout) -> None:
        self.store = store
        self.layout = layout

    def _read(self) -> tuple[Index, str | None]:
        try:
            data, etag = self.store.get(self.layout.index())
        except NotFound:
            return Index(updated_at=datetime.now(UTC)), None
        return decode_document(bytes(data), Index), etag

    def load(self) -> Index:
        """The index (empty when none was written yet)."""
        return self._read()[0]

    def save(self, index: Index) -> None:
        """Overwrite the index."""
        index.datasets.sort(key=lambda e: e.id)
        self.store.put(self.layout.index(), encode_document(index))

    def update(self, entries: Iterable[IndexEntry] = (), *, remove: Iterable[str] = ()) -> Index:
        """Insert or replace entries (by id) and remove ids, with a conditional write."""
        entries = list(entries)
        removed = set(remove)
        for _ in attempts(_RETRIES):
            index, etag = self._read()
            by_id = {e.id: e for e in index.datasets}
            for rid in removed:
                by_id.pop(rid, None)
            for entry in entries:
                by_id[entry.id] = entry
            new = Index(
                updated_at=datetime.now(UTC), datasets=sorted(by_id.values(), key=lambda e: e.id)
            )
            try:
                if etag is None:
                    self.store.put(self.layout.index(), encode_document(new), if_absent=True)
                else:
                    self.store.put(self.layout.index(), encode_document(new), if_match=etag)
            except PreconditionFailed:
                continue
            return new
        raise ConflictError("index.json", "index.json kept changing under us; try again")

    def register_from_file(self, path: str | os.PathLike[str]) -> IndexEntry:
        """Add (or refresh) the entry for an ``opendata.yaml``, keeping any published stats."""
        meta = load_metadata(path)
        current = {e.id: e for e in self.load().datasets}.get(meta.id)
        entry = IndexEntry.from_metadata(meta)
        if current is not None:
            entry.row_count, entry.bytes = current.row_count, current.bytes
            entry.min_time, entry.max_time = current.min_time, current.max_time
            entry.schema_hash, entry.updated_at = current.schema_hash, current.updated_at
        self.update([entry])
        return entry

    def rebuild(self) -> Index:
        """Recreate the index from every ``metadata.json`` in the store, with a conditional write.

        Entries that no ``metadata.json`` backs are kept when they were registered but never
        published (``od index add``) or when their dataset's ``metadata.json`` appeared after
        the listing (a producer publishing meanwhile); an entry newer than its ``metadata.json``
        wins. The write is conditional and retried, so a concurrent update is never lost.
        """
        published: dict[str, IndexEntry] = {}
        for obj in self.store.list(self.layout.datasets_root()):
            if not obj.key.endswith("/metadata.json"):
                continue
            try:
                data, _ = self.store.get(obj.key)
                doc = decode_document(bytes(data), MetadataDocument, name=obj.key)
                lifecycle, _ = read_from(self.store, self.layout, doc.dataset.id)
            except (NotFound, FormatError, ValueError):
                continue  # deleted meanwhile, or written by something else: skip, do not fail all
            if lifecycle is not None and lifecycle.status == "moved":
                continue  # a move's leftover: the dataset is listed under its new id
            published[doc.dataset.id] = IndexEntry.from_metadata(
                doc.dataset, doc.stats, doc.updated_at, lifecycle
            )
        for _ in attempts(_RETRIES):
            current, etag = self._read()
            by_id = dict(published)
            for entry in current.datasets:
                mine = by_id.get(entry.id)
                if mine is not None:
                    if entry.updated_at and mine.updated_at and entry.updated_at > mine.updated_at:
                        by_id[entry.id] = entry  # published after we read its metadata.json
                elif entry.updated_at is None or self._published(entry.id):
                    by_id[entry.id] = entry
            index = Index(
                updated_at=datetime.now(UTC), datasets=sorted(by_id.values(), key=lambda e: e.id)
            )
            try:
                self.store.put(
                    self.layout.index(),
                    encode_document(index),
                    if_absent=etag is None,
                    if_match=etag,
                )
            except PreconditionFailed:
                continue
            return index
        raise ConflictError("index.json", "index.json kept changing under us; try again")

    def _published(self, dataset_id: str) -> bool:
        try:
            ds = DatasetId.parse(dataset_id)
        except ValueError:
            return False
        return self.store.exists(self.layout.metadata(ds))
