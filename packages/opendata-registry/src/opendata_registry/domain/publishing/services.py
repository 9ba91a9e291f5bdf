"""Publishing through the registry (spec §4.1 in registry mode): who may, uploads, commit, runs.

The producer never holds storage keys: it asks for signed PUT URLs for its shards, uploads them
straight to storage, then asks the registry to commit. The commit

1. checks that every shard the live manifest does not already list exists with the announced
   size and sha256 (read back: obstore reports no stored checksum), and decodes within its
   limit with the announced rows (core's bounded decode: a decompression bomb never commits);
2. under a per-dataset lease (one commit at a time across workers and replicas), re-reads the
   live manifest: the same ``publish_id`` as ours → already committed (a retried commit whose
   reply was lost is a success); another than the request's parent → ``409 conflict`` with the
   live ``publish_id`` — except for an append (``mode: append``), which is rebased onto the live
   publish (core's ``rebase_append``) unless both wrote the same partition;
3. applies the schema gate (a changed ``schema_hash`` is refused, naming the added, removed and
   retyped columns, unless ``schema_change: allow``);
4. writes ``manifest.json`` conditionally, with provenance from the verified token — a lost reply
   or a 412 is settled by re-reading the manifest, exactly as the client does;
5. then, best effort: ``metadata.json``, ``README.md``, the run record, the catalogue rows and
   ``index.json``.

Who may publish is :mod:`.policy`; step 1's shard checks are :mod:`.verify`; run records posted
on their own are :mod:`.runs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

import msgspec
from sqlalchemy import select

from opendata_core.api import (
    CommitRequest,
    CommitResponse,
    RunPost,
    RunSummary,
    SignedUpload,
    UploadRequest,
    UploadResponse,
)
from opendata_core.documents import (
    Manifest,
    MetadataDocument,
    RunRecord,
    check_manifest,
    decode_document,
    encode_document,
    schema_gate,
)
from opendata_core.errors import (
    ConflictError,
    FormatError,
    OpenDataError,
    StoreUnavailable,
    shorten,
)
from opendata_core.ids import DatasetId
from opendata_core.metadata import DatasetMetadata, MetadataWarning, validate_metadata
from opendata_core.publish import rebase_append
from opendata_core.readme import render_readme
from opendata_core.store import PreconditionFailed
from opendata_registry.db.engine import SessionMaker
from opendata_registry.db.leases import acquire_lease, new_holder, release_lease
from opendata_registry.domain.catalogue.lifecycle import LifecycleService
from opendata_registry.domain.catalogue.sync import sync_dataset, write_index
from opendata_registry.domain.publishing.policy import PublishPolicy
from opendata_registry.domain.publishing.runs import RUN_ID_RE, derived_run_id, record_run
from opendata_registry.domain.publishing.verify import check_shard, verify_shards
from opendata_registry.infra.identity import Publisher
from opendata_registry.infra.limits import Limiter
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.signing import UrlSigner
from opendata_registry.infra.store import RegistryStore

__all__ = ["PublishParts", "PublishService", "put_method"]

log = logging.getLogger("opendata_registry")

PREVIEW_ROWS: Final = 100
LEASE_WAIT: Final = 30.0
_PUT_ATTEMPTS: Final = 4


def _lease_name(kind: str, ds: str) -> str:
    # Lease names are at most 50 characters; dataset ids are up to 141.
    return f"{kind}:{hashlib.sha256(ds.encode()).hexdigest()[:32]}"


class PublishParts(Protocol):
    """What publishing uses of the running registry (the app's :class:`~.context.Registry`)."""

    @property
    def settings(self) -> Settings: ...  # noqa: D102
    @property
    def store(self) -> RegistryStore: ...  # noqa: D102
    @property
    def sessions(self) -> SessionMaker: ...  # noqa: D102
    @property
    def limiter(self) -> Limiter: ...  # noqa: D102
    @property
    def signer(self) -> UrlSigner: ...  # noqa: D102


class PublishService:
    """Uploads, commits and run records for one request."""

    def __init__(self, registry: PublishParts) -> None:
        self.registry = registry
        self.store = registry.store
        self.settings = registry.settings
        self.policy = PublishPolicy(registry)

    # -- uploads ---------------------------------------------------------------------------

    async def _current(self, ds: DatasetId) -> tuple[Manifest | None, str | None]:
        got = await self.store.get_or_none(self.store.layout.manifest(ds))
        if got is None:
            return None, None
        return decode_document(got[0], Manifest, name=f"{ds}/manifest.json"), got[1]

    async def uploads(
        self, publisher: Publisher, dataset_id: str, request: UploadRequest, base_url: str
    ) -> UploadResponse:
        """Signed PUT URLs for the shards the live manifest does not list."""
        ds = DatasetId.parse(dataset_id)
        await self.policy.authorize(publisher, ds, repo=None)
        await self.policy.limit(ds)
        cap = self.settings.tier(self.settings.publish_tier).max_shard_bytes
        if len(request.shards) > 10_000:
            raise OpenDataError(
                f"{len(request.shards)} shards in one request; at most 10000",
                hint="choose a coarser partition",
            )
        for i, shard in enumerate(request.shards):
            check_shard(f"shards[{i}]", shard.sha256, shard.bytes, cap)
        current, _ = await self._current(ds)
        live = {s.sha256 for s in current.shards} if current else set()
        lifetime = timedelta(
            minutes=self.settings.tier(self.settings.publish_tier).url_expiry_minutes
        )
        expires_at = (datetime.now(UTC) + lifetime).replace(microsecond=0)
        uploads: list[SignedUpload] = []
        reusable: list[str] = []
        seen: set[str] = set()
        for shard in request.shards:
            if shard.sha256 in seen:
                continue
            seen.add(shard.sha256)
            if shard.sha256 in live:
                reusable.append(shard.sha256)
                continue
            # Not listed live: written again even if the key exists, so that a garbage
            # collection running now cannot delete it (spec §4.1 step 3).
            key = self.store.layout.shard(ds, shard.sha256)
            if self.store.can_sign:
                url = self.store.sign_put(key, lifetime)
            else:
                url = self.registry.signer.sign(
                    self.settings.public_url or base_url,
                    key,
                    expires=int(expires_at.timestamp()),
                    method=put_method(shard.bytes),
                )
                url += f"&bytes={shard.bytes}"
            uploads.append(
                SignedUpload(
                    sha256=shard.sha256,
                    bytes=shard.bytes,
                    path=f"parts/{shard.sha256}.parquet",
                    url=url,
                    headers={"Content-Type": "application/octet-stream"},
                )
            )
        return UploadResponse(
            uploads=uploads,
            reusable=reusable,
            expires_at=expires_at,
            current_publish_id=current.publish_id if current else None,
        )

    # -- commit ----------------------------------------------------------------------------

    async def commit(
        self, publisher: Publisher, dataset_id: str, request: CommitRequest
    ) -> CommitResponse:
        """Verify, gate and commit a publish; then write the documents that follow it."""
        ds = DatasetId.parse(dataset_id)
        manifest = request.manifest
        if manifest.dataset_id != str(ds):
            raise FormatError(
                f"manifest.dataset_id = {shorten(manifest.dataset_id)!r} is not {str(ds)!r}",
                document="commit",
                field="manifest.dataset_id",
            )
        if request.metadata.id != str(ds):
            raise FormatError(
                f"metadata.id = {shorten(request.metadata.id)!r} is not {str(ds)!r}",
                document="commit",
                field="metadata.id",
            )
        if manifest.parent_publish_id != request.parent_publish_id:
            raise FormatError(
                f"manifest.parent_publish_id = {manifest.parent_publish_id!r} is not the "
                f"request's parent_publish_id {request.parent_publish_id!r}",
                document="commit",
                field="manifest.parent_publish_id",
            )
        if request.run_id is not None and not RUN_ID_RE.fullmatch(request.run_id):
            raise FormatError(
                f"run_id = {shorten(request.run_id)!r} must be 1-32 lower-case letters or digits",
                document="commit",
                field="run_id",
            )
        check_manifest(manifest, "manifest")
        meta = _validated(request.metadata)
        register = await self.policy.authorize(publisher, ds, repo=meta.repo)
        await self.policy.limit(ds)
        current, _ = await self._current(ds)
        if current is not None and current.publish_id == manifest.publish_id:
            return await self._replay(publisher, ds, request, current)
        await verify_shards(self.store, self.settings, ds, manifest, current)
        async with self._lease(_lease_name("commit", str(ds)), str(ds)):
            current, etag = await self._current(ds)
            live = current.publish_id if current else None
            if current is not None and live == manifest.publish_id:
                return await self._replay(publisher, ds, request, current)
            rebased_onto = None
            if live != request.parent_publish_id:
                rebased = await self._rebase(ds, request, current)
                if rebased is None:
                    return _already_appended(ds, manifest)
                manifest, rebased_onto = rebased, live
            changed = schema_gate(
                str(ds), current, manifest, allow=request.schema_change == "allow"
            )
            registered = await self.policy.register(publisher, ds) if register else False
            provenance = publisher.provenance()
            final = msgspec.structs.replace(manifest, provenance=provenance)
            await self._write_history(ds, final, current)
            await self._write_manifest(ds, final, etag, live)
            response = await self._finish(
                publisher, ds, request, final, already=False, schema_changed=changed
            )
        return msgspec.structs.replace(
            response, registered=registered, rebased_onto=rebased_onto, stats=final.stats()
        )

    async def _rebase(
        self, ds: DatasetId, request: CommitRequest, live: Manifest | None
    ) -> Manifest | None:
        """The request's manifest rebuilt on ``live`` when it is an append; else ``409``.

        An append only writes its own partitions, so a publish that committed since its parent
        is no reason to send the producer back (spec §4.1, registry step 4): the rule is core's
        ``rebase_append``, which refuses only a true conflict (the same partition written by
        both, naming it). The parent is read from its history entry (``versions/<id>.json``).
        ``None``: the append is already live (a retried commit).
        """
        parent_id = request.parent_publish_id
        now = live.publish_id if live else None
        moved = ConflictError(
            str(ds),
            f"{ds}: the live publish is {now}, not the parent {parent_id}; nothing was changed",
            publish_id=now,
        )
        if request.mode != "append" or live is None:
            raise moved
        parent = None
        if parent_id is not None:
            got = await self.store.get_or_none(self.store.layout.version(ds, parent_id))
            if got is None:  # no history entry (collected by retention): cannot tell what it held
                raise moved
            parent = decode_document(got[0], Manifest, name=f"{ds}/versions/{parent_id}.json")
        return rebase_append(parent, request.manifest, live, now=datetime.now(UTC))

    async def _replay(
        self, publisher: Publisher, ds: DatasetId, request: CommitRequest, live: Manifest
    ) -> CommitResponse:
        """The publish is already live (a retried commit): complete step 7 and say success."""
        parent = request.parent_publish_id
        parent_hash = await self._parent_hash(ds, parent) if parent else None
        changed = parent_hash is not None and parent_hash != live.schema_hash
        return await self._finish(
            publisher, ds, request, live, already=True, schema_changed=changed
        )

    async def _write_history(
        self, ds: DatasetId, manifest: Manifest, previous: Manifest | None
    ) -> None:
        """The version's history entry, before the commit (spec §8.1), as the client writes it.

        The bytes depend only on the manifest, so a retried commit rewrites the same entry; a
        parent published before format 1.1 gets its entry back-filled (create only if absent).
        """
        layout = self.store.layout
        if previous is not None:
            key = layout.version(ds, previous.publish_id)
            if await self.store.get_or_none(key) is None:
                # Another writer may have back-filled it meanwhile.
                with contextlib.suppress(PreconditionFailed):
                    await self.store.put(key, encode_document(previous), if_match="")
        await self.store.put(layout.version(ds, manifest.publish_id), encode_document(manifest))

    async def _write_manifest(
        self, ds: DatasetId, manifest: Manifest, etag: str | None, before: str | None
    ) -> None:
        """The conditional write; an ambiguous outcome is settled by re-reading (spec §4.1)."""
        key = self.store.layout.manifest(ds)
        body = encode_document(manifest)
        failure: OpenDataError | None = None
        for attempt in range(_PUT_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.1 * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
            try:
                await self.store.put(key, body, if_match=etag if etag is not None else "")
                return
            except PreconditionFailed:
                lost = True
            except StoreUnavailable as exc:
                lost, failure = False, exc
            try:
                now, _ = await self._current(ds)
            except (StoreUnavailable, FormatError) as exc:
                failure = exc
                continue
            live = now.publish_id if now else None
            if live == manifest.publish_id:
                return
            if lost or live != before:
                raise ConflictError(str(ds), publish_id=live)
        raise StoreUnavailable(
            self.store.url,
            f"{key}: could not confirm whether publish {manifest.publish_id} committed "
            f"({failure}); commit again with the same publish_id to find out",
        )

    async def _finish(
        self,
        publisher: Publisher,
        ds: DatasetId,
        request: CommitRequest,
        manifest: Manifest,
        *,
        already: bool,
        schema_changed: bool,
    ) -> CommitResponse:
        """Step 7: metadata.json, README.md, run record, catalogue, index.json — never raises.

        Also run for a commit found already live, so a retry completes what a lost first
        attempt may not have.
        """
        meta = _validated(request.metadata)
        provenance = manifest.provenance or publisher.provenance()
        warnings: list[str] = []
        layout = self.store.layout

        async def run(what: str, coro: object) -> None:
            try:
                await coro  # type: ignore[misc]
            except Exception as exc:  # the publish stands whatever fails here
                # The detail (it may name the store's endpoint, bucket, prefix) goes to the log.
                log.warning(
                    "%s: after publish %s, %s failed: %s", ds, manifest.publish_id, what, exc
                )
                warnings.append(
                    f"{ds}: published {manifest.publish_id}, but {what} failed "
                    f"({type(exc).__name__}); the next publish or `opendata-registry sync` "
                    "repairs it"
                )

        doc = MetadataDocument(
            dataset=meta,
            stats=manifest.stats(),
            schema=manifest.schema,
            preview=request.preview[:PREVIEW_ROWS],
            preview_head=request.preview_head[:PREVIEW_ROWS],
            # A rebased append (a parent other than the request's) committed other data than the
            # producer profiled: no statistics rather than wrong ones.
            profile=request.profile
            if request.profile is not None
            and request.profile.publish_id == manifest.publish_id
            and manifest.parent_publish_id == request.parent_publish_id
            else None,
            updated_at=manifest.published_at,
            provenance=provenance,
        )
        await run(
            "writing metadata.json", self.store.put(layout.metadata(ds), encode_document(doc))
        )
        readme = request.readme if request.readme is not None else render_readme(meta)
        await run("writing README.md", self.store.put(layout.readme(ds), readme.encode()))
        started = request.started_at or manifest.published_at
        # Unique per publish and the same when a commit is retried (the CI run's id is in
        # provenance.run_url; one CI run may publish more than once).
        run_id = request.run_id or derived_run_id(manifest.publish_id)
        record = RunRecord(
            dataset_id=str(ds),
            run_id=run_id,
            status="success",
            started_at=started,
            finished_at=max(started, manifest.published_at),
            stats=manifest.stats(),
            publish_id=manifest.publish_id,
            schema_changed=schema_changed,
            provenance=provenance,
        )
        key = layout.run_record(ds, started, run_id)
        await run("writing the run record", self.store.put(key, encode_document(record)))
        await run("applying opendata.yaml's deprecated", self._declare(ds, meta))
        await run("updating the catalogue", self._catalogue(ds))
        return CommitResponse(
            dataset_id=str(ds),
            publish_id=manifest.publish_id,
            published_at=manifest.published_at,
            already_committed=already,
            schema_changed=record.schema_changed,
            provenance=provenance,
            warnings=warnings,
        )

    async def _parent_hash(self, ds: DatasetId, parent: str) -> str | None:
        from opendata_core.api import PublishSummary
        from opendata_registry.db.models import Publish

        async with self.registry.sessions() as session:
            text = (
                await session.execute(
                    select(Publish.summary_json).where(
                        Publish.dataset_id == str(ds), Publish.publish_id == parent
                    )
                )
            ).scalar_one_or_none()
        return msgspec.json.decode(text, type=PublishSummary).schema_hash if text else None

    async def _declare(self, ds: DatasetId, meta: DatasetMetadata) -> None:
        """The producer's ``deprecated`` into ``lifecycle.json`` unless an operator overrode it."""
        await LifecycleService(self.registry).declare(str(ds), meta.deprecated)

    async def _catalogue(self, ds: DatasetId) -> None:
        await sync_dataset(self.registry.sessions, self.store, str(ds))
        if self.store.root is not None:
            # A local folder cannot write conditionally: one index writer at a time.
            async with self._lease("index", "index.json"):
                await write_index(self.registry.sessions, self.store, attempts=5)
        else:
            await write_index(self.registry.sessions, self.store, attempts=5)

    # -- runs ------------------------------------------------------------------------------

    async def record_run(self, publisher: Publisher, dataset_id: str, run: RunPost) -> RunSummary:
        """Write a run record (failures too) with provenance from the token; update health."""
        return await record_run(self.registry, self.policy, publisher, dataset_id, run)

    # -- leases ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lease(self, name: str, what: str) -> AsyncIterator[None]:
        """Hold the database lease ``name`` (one holder across workers and replicas)."""
        holder = new_holder()
        deadline = time.monotonic() + LEASE_WAIT
        while True:
            async with self.registry.sessions() as session:
                if await acquire_lease(session, name, holder, ttl=timedelta(minutes=2)):
                    break
            if time.monotonic() > deadline:
                raise ConflictError(
                    what, f"{what}: another commit is still running; try again", publish_id=None
                )
            await asyncio.sleep(random.uniform(0.02, 0.1))  # noqa: S311
        try:
            yield
        finally:
            async with self.registry.sessions() as session:
                await release_lease(session, name, holder)


def _already_appended(ds: DatasetId, manifest: Manifest) -> CommitResponse:
    """A retried append whose first send was rebased and committed (then built upon)."""
    return CommitResponse(
        dataset_id=str(ds),
        publish_id=manifest.publish_id,
        published_at=manifest.published_at,
        already_committed=True,
    )


def _validated(meta: DatasetMetadata) -> DatasetMetadata:
    """The yaml rules applied to the sent metadata; warnings are the producer's to see, not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetadataWarning)
        return validate_metadata(meta)


def put_method(size: int) -> str:
    """What a local-store PUT URL's signature binds besides key and expiry: method and size.

    One signed field without a line break (core's ``string_to_sign`` refuses control characters
    in a field, so that two links can never share one signed text).
    """
    return f"PUT {size}"
