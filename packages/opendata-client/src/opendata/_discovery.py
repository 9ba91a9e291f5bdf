"""Discovery: a dataset's ``metadata.json`` and the ranking ``search`` uses over the index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from opendata_core.documents import IndexEntry, MetadataDocument

if TYPE_CHECKING:
    from opendata._read import Reader
    from opendata_core.ids import DatasetId

__all__ = ["info", "search"]


def info(reader: Reader, ds: DatasetId) -> MetadataDocument:
    """The dataset's ``metadata.json``, or DatasetNotFound with close matches."""
    doc = reader.metadata_or_none(ds)
    if doc is None:
        raise reader.not_found(ds)
    return doc


def search(
    entries: Iterable[IndexEntry],
    query: str = "",
    *,
    topic: str | None = None,
    namespace: str | None = None,
    license: str | None = None,
    frequency: str | None = None,
    country: str | None = None,
    limit: int | None = None,
) -> list[IndexEntry]:
    """The entries matching every word of ``query`` and the filters, best first."""
    words = [w.lower() for w in query.split()]
    scored: list[tuple[int, IndexEntry]] = []
    for e in entries:
        if topic and topic.lower() not in (t.lower() for t in e.topics):
            continue
        if namespace and e.namespace != namespace.lower():
            continue
        if license and e.license.lower() != license.lower():
            continue
        if frequency and (e.frequency or "").lower() != frequency.lower():
            continue
        if country and country.upper() not in e.countries:
            continue
        fields = (
            e.id.lower(),
            e.title.lower(),
            " ".join(e.topics).lower(),
            e.description.lower(),
        )
        weights = (4, 3, 2, 1)
        score = 0
        for w in words:
            hit = sum(wt for f, wt in zip(fields, weights, strict=True) if w in f)
            if not hit:
                break
            score += hit
        else:
            scored.append((score, e))
    scored.sort(key=lambda p: (-p[0], p[1].id))
    result = [e for _, e in scored]
    return result[:limit] if limit is not None else result
