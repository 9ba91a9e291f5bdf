"""Discovery: a dataset's ``metadata.json`` (the ranking ``search`` uses is in core)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opendata_core.documents import MetadataDocument

if TYPE_CHECKING:
    from opendata._read import Reader
    from opendata_core.ids import DatasetId

__all__ = ["info"]


def info(reader: Reader, ds: DatasetId) -> MetadataDocument:
    """The dataset's ``metadata.json``, or DatasetNotFound with close matches."""
    doc = reader.metadata_or_none(ds)
    if doc is None:
        raise reader.not_found(ds)
    return doc
