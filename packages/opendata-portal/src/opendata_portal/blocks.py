"""The parts of a dataset page that change only with a publish, rendered once and kept.

The preview rows (200 rows of escaped cells), the column statistics' bars and the sanitised
README cost most of the portal's own time on a dataset page (profiled: ``build_preview`` alone
about half of it); they depend only on what one publish wrote (``metadata.json`` and
``README.md``), so they are kept by ``(dataset id, publish id, metadata's updated_at, README)``
in a small LRU map and rebuilt when any of those changes. A visited dataset's page then costs
the registry's calls and the template alone.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup

from opendata_core.api import DatasetDetail
from opendata_portal.columns import ColumnView, column_views
from opendata_portal.preview import PreviewTable, build_preview
from opendata_portal.render import readme_html

__all__ = ["BlockCache", "PublishBlocks"]

_KEEP: Final = 512
"""Datasets whose blocks are kept (a few MB: each is about 80 KB of HTML and views)."""


@dataclass(frozen=True)
class PublishBlocks:
    """What a dataset page shows from one publish."""

    table: PreviewTable
    column_stats: dict[str, ColumnView]
    stats_stale: bool
    """The statistics are of an earlier publish than the manifest's."""
    readme: Markup


def build_blocks(detail: DatasetDetail) -> PublishBlocks:
    """Render the blocks of ``detail`` (no cache)."""
    doc, manifest = detail.metadata, detail.manifest
    table = build_preview(
        doc.preview_head,
        doc.preview,
        columns=[(f.name, f.type) for f in doc.schema],
        total=manifest.row_count,
        timed=manifest.time_column is not None,
    )
    profile = doc.profile
    return PublishBlocks(
        table=table,
        column_stats=column_views(profile, manifest.time_column),
        stats_stale=profile is not None and profile.publish_id != manifest.publish_id,
        readme=readme_html(detail.readme),
    )


class BlockCache:
    """:func:`build_blocks` kept per publish, least recently used first out."""

    def __init__(self, keep: int = _KEEP) -> None:
        self._keep = keep
        self._blocks: OrderedDict[tuple[str, str, str, str], PublishBlocks] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, detail: DatasetDetail) -> PublishBlocks:
        """The blocks of ``detail``'s publish (built on first sight)."""
        key = (
            detail.id,
            detail.manifest.publish_id,
            detail.metadata.updated_at.isoformat(),
            detail.readme,
        )
        blocks = self._blocks.get(key)
        if blocks is not None:
            self._blocks.move_to_end(key)
            self.hits += 1
            return blocks
        self.misses += 1
        blocks = build_blocks(detail)
        self._blocks[key] = blocks
        if len(self._blocks) > self._keep:
            self._blocks.popitem(last=False)
        return blocks
