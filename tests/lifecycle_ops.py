"""An operator's lifecycle changes made straight on a store, as the registry writes them.

The registry's admin commands (``opendata-registry datasets verify|deprecate|move|withdraw``)
apply core's :func:`~opendata_core.lifecycle.transition` / :func:`~opendata_core.lifecycle.move`
and write the documents into the bucket (spec §10.3). These helpers write the same end state
with the same core functions, so the client's and the CLI's reading of a store can be tested
without a registry; the index is rebuilt afterwards, as the registry updates its entries.
"""

from __future__ import annotations

from datetime import UTC, datetime

import opendata as od
from opendata_core.documents import decode_document, encode_document
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import (
    Change,
    Deprecate,
    Lifecycle,
    Verify,
    Withdraw,
    move,
    transition,
)
from opendata_core.store import NotFound

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
OPERATOR = "alice"

__all__ = ["NOW", "OPERATOR", "apply", "deprecate", "move_dataset", "read", "verify", "withdraw"]


def read(client: od.Client, dataset_id: str) -> Lifecycle | None:
    ds = DatasetId.parse(dataset_id)
    try:
        data, _ = client.store.get(client.layout.lifecycle(ds))
    except NotFound:
        return None
    return decode_document(bytes(data), Lifecycle)


def _put(client: od.Client, doc: Lifecycle) -> None:
    key = client.layout.lifecycle(DatasetId.parse(doc.dataset_id))
    client.store.put(key, encode_document(doc))


def apply(client: od.Client, dataset_id: str, change: Change) -> Lifecycle:
    """``change`` applied to the dataset's lifecycle and written, then the index rebuilt."""
    doc = read(client, dataset_id) or Lifecycle(dataset_id=dataset_id)
    doc = transition(doc, change, by=OPERATOR, at=NOW)
    _put(client, doc)
    client.index.rebuild()
    return doc


def verify(client: od.Client, dataset_id: str, level: str, note: str = "checked") -> Lifecycle:
    return apply(client, dataset_id, Verify(level=level, note=note))  # type: ignore[arg-type]


def deprecate(
    client: od.Client, dataset_id: str, message: str, successor: str | None = None
) -> Lifecycle:
    return apply(client, dataset_id, Deprecate(message=message, successor=successor))


def withdraw(client: od.Client, dataset_id: str, reason: str = "licence") -> Lifecycle:
    manifest = client.manifest(dataset_id)
    cited = client.cite(dataset_id)
    change = Withdraw(
        reason=reason,  # type: ignore[arg-type]
        note="the licence was revoked",
        citation=cited,
        last_publish_id=manifest.publish_id,
    )
    return apply(client, dataset_id, change)


def move_dataset(client: od.Client, old: str, new: str) -> tuple[Lifecycle, Lifecycle]:
    """Move ``old`` to ``new``, which the caller has published with the same data.

    The end state of the registry's move (spec §10.3): ``new`` live with the dataset's
    lifecycle and the move event, ``old`` only a ``moved`` pointer (its other objects deleted).
    """
    doc = read(client, old) or Lifecycle(dataset_id=old)
    tombstone, arrived = move(doc, new, by=OPERATOR, at=NOW, note="renamed")
    _put(client, arrived)
    _put(client, tombstone)
    keep = client.layout.lifecycle(DatasetId.parse(old))
    root = client.layout.dataset_prefix(DatasetId.parse(old))
    for obj in list(client.store.list(root)):
        if obj.key != keep:
            client.store.delete(obj.key)
    client.index.rebuild()
    return tombstone, arrived
