"""Lifecycle on every read: the one place the client follows moves, warns and refuses (spec §10.4).

Every read of a dataset (``load``, ``scan``, ``urls``, ``to_dask``, ``info``, ``versions``,
``diff``, ``cite``, ``manifest``) starts with :func:`live`, on every transport: it reads the id's
``lifecycle.json`` through the store (a folder or a bucket reads the object; a registry answers
the key from its lifecycle endpoint), follows moves with core's :func:`~opendata_core.lifecycle.
resolve`, and then

* a moved id: reads the dataset at the end of the chain, with one ``DeprecationWarning`` naming
  the new id (and the new dataset's deprecation, when it has one, in the same warning);
* ``deprecated``: one ``DeprecationWarning`` with its message and successor;
* ``withdrawn``: raises :class:`~opendata_core.errors.DatasetWithdrawn` (reason, date, citation).

The warning points at the caller's line (the first frame outside this package), so Python's
default filters show it in ``__main__`` and notebooks, and ``-W error::DeprecationWarning`` or
pytest's ``filterwarnings = error`` turn it into an error. The cost is one small read per call
(a missing object on a store without lifecycle documents).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar, cast

from opendata_core.documents import decode_document, encode_document
from opendata_core.errors import (
    ConflictError,
    PermissionDenied,
    ServiceUnavailable,
    StoreUnavailable,
)
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import (
    Declare,
    Lifecycle,
    Resolution,
    deprecation_message,
    effective_lifecycle,
    moved_message,
    refuse_publish,
    resolve,
    transition,
    withdrawn_error,
)
from opendata_core.retry import attempts
from opendata_core.store import NotFound, PreconditionFailed

if TYPE_CHECKING:
    from datetime import datetime

    from opendata._read import Reader
    from opendata_core.layout import Layout
    from opendata_core.metadata import DatasetMetadata
    from opendata_core.store import Store

__all__ = [
    "current",
    "declare",
    "live",
    "live_with",
    "read",
    "read_from",
    "refuse",
    "resolution",
]

T = TypeVar("T")

_DECLARE_RETRIES = 5


def read(reader: Reader, dataset_id: str | DatasetId) -> tuple[Lifecycle | None, str | None]:
    """The id's ``lifecycle.json`` and its ETag, or ``(None, None)`` when it has none."""
    return read_from(reader.store, reader.layout, dataset_id)


def read_from(
    store: Store, layout: Layout, dataset_id: str | DatasetId
) -> tuple[Lifecycle | None, str | None]:
    """:func:`read` for a store and layout (the catalogue has no reader)."""
    ds = DatasetId.parse(dataset_id)
    try:
        data, etag = store.get(layout.lifecycle(ds))
    except NotFound:
        return None, None
    return decode_document(bytes(data), Lifecycle, name=f"{ds}/lifecycle.json"), etag


def resolution(reader: Reader, dataset_id: str | DatasetId) -> Resolution:
    """Where ``dataset_id`` leads after every move (core's rule), read through ``reader``."""
    from opendata._registry import RegistryTransport

    def lookup(i: str) -> Lifecycle | None:
        try:
            return read(reader, i)[0]
        except ServiceUnavailable as exc:
            if exc.service == "registry" and isinstance(reader.store, RegistryTransport):
                # The registry cannot be reached: a load may still be served from the cache
                # (with its stale-data warning); any other read fails with the same error next.
                return None
            raise

    return resolve(dataset_id, lookup)


def live(reader: Reader, dataset_id: str | DatasetId) -> DatasetId:
    """The id to read for ``dataset_id``, after warning or raising as its status says.

    Raises:
        DatasetWithdrawn: the dataset (at the end of its moves) was withdrawn.
        FormatError: the moves loop (a broken store).
    """
    return _decide(resolution(reader, dataset_id))


def live_with(
    reader: Reader, dataset_id: str | DatasetId, step: Callable[[DatasetId], T]
) -> tuple[DatasetId, T]:
    """:func:`live`, with ``step`` (a read of the id's manifest) costing no extra round trip.

    Through a registry the download answer carries the dataset's lifecycle, so a load is one
    request (:meth:`~opendata._registry.RegistryTransport.served_lifecycle`); on a store the
    lifecycle and the manifest are read at the same time (spec §10.4 allows both). ``step``'s
    answer for a moved id (not found, or the registry's 308) is dropped and ``step`` runs again
    on the live id; a withdrawn dataset raises whatever ``step`` found. When the store fails
    both reads, ``step``'s error is raised (it names the manifest, the document read for).
    """
    from opendata._registry import RegistryTransport

    ds = DatasetId.parse(dataset_id)
    store = reader.store
    if isinstance(store, RegistryTransport):
        try:
            value = step(ds)
        except Exception:  # a 308 or 410 among them: the lifecycle read says which
            target = _decide(resolution(reader, ds))
            if target == ds:
                raise
            return target, step(target)
        served = store.served_lifecycle(ds)
        if served is None:  # an older registry, or the manifest came from the cache
            return _decide(resolution(reader, ds)), value
        # The registry answered for ``ds`` itself, so ``ds`` has not moved.
        return _decide(resolve(ds, lambda i: served[0] if i == str(ds) else None)), value
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(resolution, reader, ds)
        got: T | None = None
        failed: Exception | None = None
        try:
            got = step(ds)
        except Exception as exc:  # decided below, once the status is known
            failed = exc
        try:
            found = pending.result()
        except (StoreUnavailable, PermissionDenied):
            if failed is not None:  # the same store failed both reads: name the manifest
                raise failed from None
            raise
    target = _decide(found)
    if target != ds:
        return target, step(target)
    if failed is not None:
        raise failed
    return ds, cast("T", got)


def _decide(found: Resolution) -> DatasetId:
    doc = found.lifecycle
    if doc is not None and doc.status == "withdrawn":
        raise withdrawn_error(doc)
    text = []
    if found.moved:
        text.append(moved_message(found.requested, found.dataset_id))
    if doc is not None and doc.status == "deprecated":
        text.append(deprecation_message(doc))
    if text:
        warnings.warn(" ".join(text), DeprecationWarning, stacklevel=_callers_level())
    return DatasetId.parse(found.dataset_id)


def current(reader: Reader, dataset_id: str | DatasetId) -> Lifecycle:
    """The lifecycle of the dataset ``dataset_id`` leads to, whatever its status (no warning).

    A dataset without ``lifecycle.json`` gets the producer's ``deprecated`` of its
    ``metadata.json``, else ``active`` and not verified (core's
    :func:`~opendata_core.lifecycle.effective_lifecycle`).
    """
    found = resolution(reader, dataset_id)
    if found.lifecycle is not None:
        return found.lifecycle
    target = DatasetId.parse(found.dataset_id)
    doc = reader.metadata_or_none(target)
    if doc is None:
        raise reader.not_found(target)
    return effective_lifecycle(found.dataset_id, None, doc.dataset)


def refuse(reader: Reader, dataset_id: str | DatasetId) -> None:
    """A writer's step 2 on a store (spec §10.4): refuse a moved or withdrawn id.

    Raises:
        PermissionDenied: naming the id to publish to instead (core's
            :func:`~opendata_core.lifecycle.refuse_publish`).
    """
    refuse_publish(resolution(reader, dataset_id))


def declare(
    reader: Reader, dataset_id: DatasetId, meta: DatasetMetadata, at: datetime
) -> Lifecycle | None:
    """After a commit on a store: apply the yaml's ``deprecated`` (core's ``declare``).

    Writes ``lifecycle.json`` conditionally when the document changed (re-read and re-applied
    on a conflict) and returns the dataset's lifecycle (``None``: it has none).
    """
    for _ in attempts(_DECLARE_RETRIES):
        doc, etag = read(reader, dataset_id)
        before = doc or Lifecycle(dataset_id=str(dataset_id))
        after = transition(before, Declare(deprecation=meta.deprecated), by="producer", at=at)
        if after is before:
            return doc
        key = reader.layout.lifecycle(dataset_id)
        try:
            reader.store.put(key, encode_document(after), if_absent=etag is None, if_match=etag)
        except PreconditionFailed:
            continue
        return after
    raise ConflictError(str(dataset_id), f"{dataset_id}/lifecycle.json kept changing; try again")


def _callers_level() -> int:
    """The ``stacklevel`` that names the first frame outside the ``opendata`` package.

    Counted from the function that calls :func:`warnings.warn` (level 1): od.load, Client.load
    and the CLI all reach :func:`_decide` through a different number of frames.
    """
    frame = sys._getframe(2)  # the caller of _decide(); the function that warns is level 1
    level = 2
    while frame is not None and _ours(frame.f_globals.get("__name__", "")):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _ours(module: str) -> bool:
    return module == "opendata" or module.startswith("opendata.")
