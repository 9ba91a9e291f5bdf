"""Lifecycle and trust in the registry (spec §10): every id's state, kept in step with the bucket.

The rules are core's (:mod:`opendata_core.lifecycle`: ``transition``, ``move``, ``resolve``,
``effective_lifecycle``); this module only keeps their results. Every change is written to the
bucket's ``lifecycle.json`` first (so a reader of the store without the registry sees the same),
then to the ``lifecycles`` and ``lifecycle_events`` tables; ``opendata-registry sync`` reads
changed documents back (:func:`store_lifecycle`), so a rebuilt database keeps every state, and
every moved id stays reserved.

A move copies the dataset in the bucket as spec §10.3 says (shards byte for byte, documents with
the id rewritten, the manifest last), writes both lifecycle documents, then deletes the old
folder but its ``lifecycle.json``; each step can be run again, so a move that stopped half-way
is finished by running the same command again.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final, Literal, Protocol

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.documents import (
    Manifest,
    MetadataDocument,
    RunRecord,
    decode_document,
    encode_document,
)
from opendata_core.errors import DatasetMoved, DatasetNotFound, FormatError, InvalidTransition
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import (
    MAX_HOPS,
    Change,
    Declare,
    Lifecycle,
    LifecycleEvent,
    Resolution,
    Transfer,
    Withdraw,
    effective_lifecycle,
    move,
    resolve,
    transition,
    withdrawn_error,
)
from opendata_core.metadata import Deprecation
from opendata_core.store import PreconditionFailed
from opendata_core.versions import citation
from opendata_registry.db.engine import SessionMaker
from opendata_registry.db.models import (
    Dataset,
    LifecycleEventRow,
    LifecycleRow,
    NamespaceOwner,
    Owner,
    Publish,
    Run,
)
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.store import RegistryStore

__all__ = [
    "LifecycleParts",
    "LifecycleService",
    "check_serving",
    "read_lifecycle",
    "resolve_id",
    "store_lifecycle",
]

_PUT_ATTEMPTS: Final = 4
_LIFECYCLE: Final = "lifecycle.json"


class LifecycleParts(Protocol):
    """What lifecycle changes use of the running registry (or of the CLI's)."""

    @property
    def settings(self) -> Settings: ...  # noqa: D102
    @property
    def store(self) -> RegistryStore: ...  # noqa: D102
    @property
    def sessions(self) -> SessionMaker: ...  # noqa: D102


# -- reading ------------------------------------------------------------------------------------


async def read_lifecycle(session: AsyncSession, dataset_id: str) -> Lifecycle | None:
    """The id's ``lifecycle.json`` as the registry keeps it (``None``: it has none)."""
    text = (
        await session.execute(
            select(LifecycleRow.doc_json).where(LifecycleRow.dataset_id == dataset_id)
        )
    ).scalar_one_or_none()
    return msgspec.json.decode(text, type=Lifecycle) if text is not None else None


async def resolve_id(session: AsyncSession, dataset_id: str) -> Resolution:
    """Where ``dataset_id`` leads after every move (core's :func:`resolve` over the table)."""
    start = str(DatasetId.parse(dataset_id))
    docs = await _chain(start, lambda ds: read_lifecycle(session, ds))
    return resolve(start, docs.get)


async def _chain(
    start: str, read: Callable[[str], Awaitable[Lifecycle | None]]
) -> dict[str, Lifecycle | None]:
    """The documents along the moves from ``start``: what core's ``resolve`` reads.

    Read up to one past :data:`MAX_HOPS`, so that ``resolve`` reports a chain too long.
    """
    docs: dict[str, Lifecycle | None] = {}
    current = start
    for _ in range(MAX_HOPS + 2):
        doc = docs[current] = await read(current)
        if doc is None or doc.status != "moved" or not doc.moved_to:
            break
        current = str(DatasetId.parse(doc.moved_to))
        if current in docs:
            break
    return docs


async def check_serving(session: AsyncSession, dataset_id: str, status: str | None) -> None:
    """Refuse what a reader of ``dataset_id`` may not get: a moved id, a withdrawn dataset.

    ``status`` is the catalogue row's (``None``: no dataset at that id).

    Raises:
        DatasetMoved: the id moved (HTTP 308 naming the id it resolves to now).
        DatasetWithdrawn: the dataset is withdrawn (HTTP 410 with reason and citation).
    """
    if status is None:
        found = await resolve_id(session, dataset_id)
        if found.moved:
            raise DatasetMoved(found.requested, found.dataset_id)
        return
    if status == "withdrawn":
        doc = await read_lifecycle(session, dataset_id)
        if doc is not None and doc.status == "withdrawn":
            raise withdrawn_error(doc)


async def store_lifecycle(session: AsyncSession, doc: Lifecycle, etag: str, body: bytes) -> None:
    """Keep ``doc`` (as ``body``, with the bucket's ``etag``) and its events in the tables."""
    ds = doc.dataset_id
    values = {
        "status": doc.status,
        "moved_to": doc.moved_to,
        "trust": doc.trust.level,
        "trust_review_by": doc.trust.review_by,
        "doc_json": body.decode(),
        "etag": etag,
        "updated_at": datetime.now(UTC),
    }
    row = await session.get(LifecycleRow, ds)
    if row is None:
        session.add(LifecycleRow(dataset_id=ds, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    await session.execute(delete(LifecycleEventRow).where(LifecycleEventRow.subject == ds))
    session.add_all(_event_row(ds, n, e) for n, e in enumerate(doc.events))


def _event_row(subject: str, seq: int, event: LifecycleEvent) -> LifecycleEventRow:
    return LifecycleEventRow(
        subject=subject,
        seq=seq,
        at=event.at,
        by=event.by,
        action=event.action,
        note=event.note,
        details_json=msgspec.json.encode(event.details).decode(),
    )


# -- changing -----------------------------------------------------------------------------------


class LifecycleService:
    """Operators' changes (and the producer's ``declare``): the bucket first, then the tables."""

    def __init__(self, registry: LifecycleParts) -> None:
        self.registry = registry
        self.store = registry.store
        self.sessions = registry.sessions

    async def _bucket(self, ds: DatasetId) -> tuple[Lifecycle | None, str | None]:
        """The id's ``lifecycle.json`` in the bucket and its ETag (``None, None``: absent)."""
        key = self.store.layout.lifecycle(ds)
        got = await self.store.get_or_none(key)
        if got is None:
            return None, None
        return decode_document(got[0], Lifecycle, name=f"{ds}/{_LIFECYCLE}"), got[1]

    async def _documents(self, ds: DatasetId) -> tuple[Manifest | None, MetadataDocument | None]:
        layout = self.store.layout
        got_manifest = await self.store.get_or_none(layout.manifest(ds))
        got_meta = await self.store.get_or_none(layout.metadata(ds))
        manifest = decode_document(got_manifest[0], Manifest) if got_manifest else None
        meta = decode_document(got_meta[0], MetadataDocument) if got_meta else None
        return manifest, meta

    async def _not_found(self, ds: str) -> DatasetNotFound:
        async with self.sessions() as session:
            ids = list((await session.execute(select(Dataset.id))).scalars())
        return DatasetNotFound(ds, difflib.get_close_matches(ds, ids, n=3, cutoff=0.6))

    async def _write(self, doc: Lifecycle, etag: str | None) -> None:
        """Write ``doc`` to the bucket (conditionally on ``etag``), then to the tables."""
        ds = DatasetId.parse(doc.dataset_id)
        body = encode_document(doc)
        new_etag = await self.store.put(
            self.store.layout.lifecycle(ds), body, if_match=etag if etag is not None else ""
        )
        async with self.sessions() as session, session.begin():
            await store_lifecycle(session, doc, new_etag, body)

    async def _refresh(self, *ids: str) -> None:
        """The catalogue rows and ``index.json`` after a change (status and trust in entries)."""
        from opendata_registry.domain.catalogue.sync import sync_dataset, write_index

        for ds in ids:
            await sync_dataset(self.sessions, self.store, ds)
        await write_index(self.sessions, self.store, attempts=5)

    async def change(
        self, dataset_id: str, change: Change, *, by: str, at: datetime | None = None
    ) -> Lifecycle:
        """Apply ``change`` to the dataset (core's :func:`transition`) and record it.

        Raises:
            DatasetNotFound: no dataset and no lifecycle at that id.
            InvalidTransition: its status does not allow the change (the message says why).
            ValueError: a bad argument (core names it).
        """
        ds = DatasetId.parse(dataset_id)
        for _ in range(_PUT_ATTEMPTS):
            doc, etag = await self._bucket(ds)
            manifest, meta = await self._documents(ds)
            if doc is None and manifest is None:
                raise await self._not_found(str(ds))
            current = effective_lifecycle(str(ds), doc, meta.dataset if meta else None)
            if isinstance(change, Withdraw) and manifest is not None and meta is not None:
                change = msgspec.structs.replace(
                    change,
                    citation=citation(meta.dataset, manifest, self._version_url(ds, manifest)),
                    last_publish_id=manifest.publish_id,
                )
            new = transition(current, change, by=by, at=at or datetime.now(UTC))
            if new is current:
                return current
            try:
                await self._write(new, etag)
            except PreconditionFailed:
                continue  # written meanwhile (a publish's declare): apply to the new document
            await self._refresh(str(ds))
            return new
        raise InvalidTransition(
            str(ds),
            f"{ds}: its lifecycle.json kept changing while this change was applied",
            status="unknown",
            action=type(change).__name__.lower(),
            hint="run the command again",
        )

    def _version_url(self, ds: DatasetId, manifest: Manifest) -> str:
        public = self.registry.settings.public_url
        if public:
            return f"{public}/v1/datasets/{ds}/versions/{manifest.publish_id}"
        return f"{self.store.url.rstrip('/')}/{self.store.layout.version(ds, manifest.publish_id)}"

    async def declare(self, dataset_id: str, deprecation: Deprecation | None) -> Lifecycle | None:
        """The producer's ``deprecated`` after a publish (nothing when it changes nothing)."""
        ds = DatasetId.parse(dataset_id)
        for _ in range(_PUT_ATTEMPTS):
            doc, etag = await self._bucket(ds)
            if doc is None and deprecation is None:
                return None
            current = doc or Lifecycle(dataset_id=str(ds))
            new = transition(
                current, Declare(deprecation=deprecation), by="producer", at=datetime.now(UTC)
            )
            if new is current:
                return current
            try:
                await self._write(new, etag)
            except PreconditionFailed:
                continue
            return new
        return None

    # -- moves ----------------------------------------------------------------------------

    async def _bucket_doc(self, ds: str) -> Lifecycle | None:
        return (await self._bucket(DatasetId.parse(ds)))[0]

    async def move(
        self, dataset_id: str, to: str, *, by: str, note: str | None = None
    ) -> tuple[Lifecycle, Lifecycle]:
        """Move a dataset to the id ``to`` (spec §10.3): the old id's tombstone and the dataset.

        Raises:
            DatasetNotFound: nothing at ``dataset_id``.
            InvalidTransition: its status forbids a move, or ``to`` is taken or reserved.
        """
        old, new = DatasetId.parse(dataset_id), DatasetId.parse(to)
        doc, etag = await self._bucket(old)
        if doc is not None and doc.status == "moved" and doc.moved_to == str(new):
            arrived, _ = await self._bucket(new)
            if arrived is not None and str(old) in arrived.previous_ids:
                await self._clear(old)  # a move that stopped after step 2: finish it
                await self._move_rows(old, new)
                return doc, arrived
        manifest, meta = await self._documents(old)
        if doc is None and manifest is None:
            raise await self._not_found(str(old))
        current = effective_lifecycle(str(old), doc, meta.dataset if meta else None)
        target, target_etag = await self._bucket(new)
        target_manifest, _ = await self._documents(new)
        # A manifest at the new id is another dataset, unless it is our own copy from a move
        # that stopped half-way (the same publish).
        target_live = target_manifest is not None and (
            manifest is None or target_manifest.publish_id != manifest.publish_id
        )
        chain = await _chain(str(new), self._bucket_doc) if target is not None else {}
        tombstone, arrived = move(
            current,
            new,
            by=by,
            at=datetime.now(UTC),
            note=note,
            target=target,
            target_live=target_live,
            read=chain.get,
        )
        await self._copy(old, new)  # step 1 (the manifest last)
        await self._write(arrived, target_etag)  # step 2
        await self._write(tombstone, etag)
        await self._clear(old)  # step 3
        await self._move_rows(old, new)
        return tombstone, arrived

    async def _copy(self, old: DatasetId, new: DatasetId) -> None:
        """Every object of ``old`` to ``new``: documents with the id rewritten, manifest last."""
        layout, store = self.store.layout, self.store
        source, target = layout.dataset_prefix(old), layout.dataset_prefix(new)
        keys = [obj.key async for obj in store.list(source)]
        manifest_key = layout.manifest(old)
        for key in keys:
            rest = key[len(source) :]
            if key == manifest_key or rest == _LIFECYCLE:
                continue
            rewritten = await self._rewritten(key, rest, new)
            if rewritten is None:
                await store.copy(key, target + rest)
            else:
                await store.put(target + rest, rewritten)
        if manifest_key in keys:
            body = await self._rewritten(manifest_key, "manifest.json", new)
            assert body is not None
            await store.put(layout.manifest(new), body)

    async def _rewritten(self, key: str, rest: str, new: DatasetId) -> bytes | None:
        """A JSON document of the dataset with its id rewritten (``None``: copy the bytes)."""
        replace = msgspec.structs.replace
        ds = str(new)
        kind: type[Manifest] | type[RunRecord] | type[MetadataDocument]
        if rest == "manifest.json" or (rest.startswith("versions/") and rest.endswith(".json")):
            kind = Manifest
        elif rest.startswith("runs/") and rest.endswith(".json"):
            kind = RunRecord
        elif rest == "metadata.json":
            kind = MetadataDocument
        else:
            return None
        data, _ = await self.store.get(key)
        try:
            doc = decode_document(data, kind, name=key)
        except FormatError:
            return None  # not ours to rewrite: copied as it is
        if isinstance(doc, MetadataDocument):
            return encode_document(replace(doc, dataset=replace(doc.dataset, id=ds)))
        return encode_document(replace(doc, dataset_id=ds))

    async def _clear(self, old: DatasetId) -> None:
        """Step 3: the old manifest first, then everything else but ``lifecycle.json``."""
        layout, store = self.store.layout, self.store
        await store.delete(layout.manifest(old))
        keep = layout.lifecycle(old)
        keys = [obj.key async for obj in store.list(layout.dataset_prefix(old))]
        for key in keys:
            if key != keep:
                await store.delete(key)

    async def _move_rows(self, old: DatasetId, new: DatasetId) -> None:
        """The registry's own rows follow the dataset; then the catalogue and ``index.json``."""
        a, b = str(old), str(new)
        async with self.sessions() as session, session.begin():
            pinned = await session.get(Owner, a)
            if pinned is not None and await session.get(Owner, b) is None:
                await session.execute(
                    update(Owner).where(Owner.dataset_id == a).values(dataset_id=b)
                )
            await session.execute(delete(Publish).where(Publish.dataset_id == b))
            await session.execute(
                update(Publish).where(Publish.dataset_id == a).values(dataset_id=b)
            )
            await session.execute(delete(Run).where(Run.dataset_id == b))
            await session.execute(update(Run).where(Run.dataset_id == a).values(dataset_id=b))
            await session.execute(delete(Dataset).where(Dataset.id == a))
        await self._refresh(b)

    # -- namespaces -----------------------------------------------------------------------

    async def transfer(
        self,
        namespace: str,
        to_owner: str,
        datasets: Literal["follow", "stay"],
        *,
        by: str,
        note: str | None = None,
    ) -> list[str]:
        """Give ``namespace`` to the GitHub owner id ``to_owner``; record it on each dataset.

        ``follow``: its datasets' pins to their repositories are lifted, so the new owner's
        repository registers each at its next publish; ``stay``: they stay pinned to their
        repositories. Returns the datasets the transfer was recorded on.
        """
        ns = DatasetId.parse(f"{namespace}/x").namespace
        at = datetime.now(UTC)
        async with self.sessions() as session:
            live = set(
                (await session.execute(select(Dataset.id).where(Dataset.namespace == ns))).scalars()
            )
            kept = (
                await session.execute(
                    select(LifecycleRow.dataset_id, LifecycleRow.status).where(
                        LifecycleRow.dataset_id.like(f"{ns}/%")
                    )
                )
            ).all()
        ids = sorted(live | {d for d, status in kept if status != "moved"})
        change = Transfer(to_owner=to_owner, datasets=datasets, note=note)
        for ds in ids:
            await self.change(ds, change, by=by, at=at)
        async with self.sessions() as session, session.begin():
            row = await session.get(NamespaceOwner, ns)
            previous = row.owner_id if row is not None else None
            if row is None:
                session.add(
                    NamespaceOwner(
                        namespace=ns, owner_id=to_owner, transferred_at=at, transferred_by=by
                    )
                )
            else:
                row.owner_id, row.transferred_at, row.transferred_by = to_owner, at, by
            seq = len(
                (
                    await session.execute(
                        select(LifecycleEventRow.seq).where(LifecycleEventRow.subject == ns)
                    )
                ).all()
            )
            details = {"owner": to_owner, "datasets": datasets}
            if previous:
                details["from"] = previous
            event = LifecycleEvent(at=at, by=by, action="transfer", note=note, details=details)
            session.add(_event_row(ns, seq, event))
            if datasets == "follow" and ids:
                await session.execute(delete(Owner).where(Owner.dataset_id.in_(ids)))
        return ids
