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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import re
import time
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

import anyio
import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

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
    PermissionDenied,
    RateLimited,
    StoreUnavailable,
    shorten,
)
from opendata_core.ids import DatasetId
from opendata_core.metadata import DatasetMetadata, MetadataWarning, validate_metadata
from opendata_core.publish import rebase_append
from opendata_core.readme import render_readme
from opendata_registry.db.engine import SessionMaker
from opendata_registry.db.leases import acquire_lease, new_holder, release_lease
from opendata_registry.db.models import NamespaceGrant, Owner
from opendata_registry.domain.catalogue.sync import run_summary, sync_dataset, write_index
from opendata_registry.infra.identity import Publisher
from opendata_registry.infra.limits import Limiter
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.signing import UrlSigner
from opendata_registry.infra.store import Conflict, Missing, RegistryStore

__all__ = ["PublishParts", "PublishService", "repository_of"]

log = logging.getLogger("opendata_registry")

PREVIEW_ROWS: Final = 100
LEASE_WAIT: Final = 30.0
_RUN_ID_RE: Final = re.compile(r"[a-z0-9]{1,32}")
_GITHUB_RE: Final = re.compile(
    r"https?://(?:www\.)?github\.com/([A-Za-z0-9-]{1,39})/([A-Za-z0-9._-]{1,100}?)(?:\.git)?/?"
)
_PUT_ATTEMPTS: Final = 4
_VERIFY_PARALLEL: Final = 4


def repository_of(repo_url: str) -> str | None:
    """``owner/name`` (lower-case) of a GitHub repository URL, else ``None``.

    Example:
        >>> repository_of("https://github.com/ECB/fx-rates.git")
        'ecb/fx-rates'
        >>> repository_of("https://gitlab.com/ecb/fx") is None
        True
    """
    match = _GITHUB_RE.fullmatch(repo_url.strip())
    return f"{match[1]}/{match[2]}".lower() if match else None


_POLICY_HINT: Final = (
    "publish from {what}; the registry's admin can change the policy: "
    "opendata-registry datasets policy {ds} --help"
)


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

    # -- who may publish -------------------------------------------------------------------

    async def authorize(self, publisher: Publisher, ds: DatasetId, *, repo: str | None) -> bool:
        """Refuse a publisher that may not publish ``ds``; ``True`` when it must be registered.

        ``repo`` is the ``opendata.yaml`` ``repo`` being published (``None``: not known yet).
        """
        if publisher.kind == "producer":
            if not publisher.may_touch(ds):
                scope = publisher.dataset_id or f"namespace {publisher.namespace}"
                raise PermissionDenied(
                    f"{ds}: this producer token may publish only {scope}",
                    dataset_id=str(ds),
                    hint=f"use a producer token for {ds.namespace} (the registry's admin: "
                    f"opendata-registry tokens create --namespace {ds.namespace}), or publish "
                    "from the dataset's repository in GitHub Actions",
                )
            async with self.registry.sessions() as session:
                pinned = await session.get(Owner, str(ds))
            if pinned is not None and not pinned.allow_tokens:
                err = PermissionDenied(
                    f"{ds} is pinned to the GitHub repository {pinned.repository}: only that "
                    "repository's GitHub Actions publish it (through OIDC), not a producer token",
                    dataset_id=str(ds),
                )
                err.hint = (
                    f"publish from {pinned.repository} in GitHub Actions; or the registry's "
                    f"operator allows producer tokens for it: opendata-registry datasets policy "
                    f"{ds} --allow-tokens"
                )
                raise err
            return False
        assert publisher.repository
        assert publisher.repository_owner
        repository = publisher.repository.lower()
        if repo is not None and repository_of(repo) != repository:
            raise PermissionDenied(
                f"{ds}: opendata.yaml says repo {shorten(repo)!r}, but the token is for "
                f"https://github.com/{publisher.repository}; a dataset is published only from "
                "the repository its opendata.yaml names",
                dataset_id=str(ds),
                hint=f"if this repository is the dataset's home, set `repo: https://github.com/"
                f"{publisher.repository}` in opendata.yaml; else publish from {shorten(repo)}",
            )
        async with self.registry.sessions() as session:
            owner = await session.get(Owner, str(ds))
            granted = (
                await session.execute(
                    select(NamespaceGrant.namespace).where(
                        NamespaceGrant.namespace == ds.namespace,
                        NamespaceGrant.github_owner == publisher.repository_owner.lower(),
                    )
                )
            ).scalar_one_or_none()
        if owner is not None:
            self._check_owner(owner, publisher, ds)
            return False
        if ds.namespace != publisher.repository_owner.lower() and granted is None:
            err = PermissionDenied(
                f"{ds}: namespace {ds.namespace!r} is not the repository owner "
                f"{publisher.repository_owner!r}, and no grant lets that owner publish there",
                dataset_id=str(ds),
            )
            err.hint = (
                f"publish under {publisher.repository_owner.lower()}/…, or ask the registry's "
                f"admin: opendata-registry namespaces grant {ds.namespace} "
                f"--github-owner {publisher.repository_owner}"
            )
            raise err
        return True

    def _check_owner(self, owner: Owner, publisher: Publisher, ds: DatasetId) -> None:
        pinned = (owner.repository_id, owner.repository_owner_id)
        if pinned != (publisher.repository_id, publisher.repository_owner_id):
            raise PermissionDenied(
                f"{ds} is registered to repository {owner.repository} (id "
                f"{owner.repository_id}, owner id {owner.repository_owner_id}); this token is "
                f"for {publisher.repository} (id {publisher.repository_id}, owner id "
                f"{publisher.repository_owner_id})",
                dataset_id=str(ds),
                hint=f"only the GitHub Actions of {owner.repository} publish {ds}: run the "
                "workflow there, or publish under another id from this repository",
            )
        workflow = (publisher.workflow_ref or "").split("@", 1)[0]
        if owner.workflow_ref and workflow != owner.workflow_ref:
            raise PermissionDenied(
                f"{ds}: only the workflow {owner.workflow_ref} may publish (policy); this run is "
                f"{workflow or 'unknown'}",
                dataset_id=str(ds),
                hint=_POLICY_HINT.format(what=f"the workflow {owner.workflow_ref}", ds=ds),
            )
        # The ref and the environment are separate claims, each matched only against its own
        # policy field (as PyPI's trusted publishing does): an environment may be named
        # anything, including "refs/heads/main".
        if owner.ref and publisher.ref != owner.ref:
            raise PermissionDenied(
                f"{ds}: only {owner.ref} may publish (policy: ref); this run is on {publisher.ref}",
                dataset_id=str(ds),
                hint=_POLICY_HINT.format(what=owner.ref, ds=ds),
            )
        environment = (publisher.environment or "").lower()
        if owner.environment and environment != owner.environment:
            raise PermissionDenied(
                f"{ds}: only jobs in the GitHub environment {owner.environment!r} may publish "
                f"(policy: environment); this run is in "
                f"{repr(environment) if environment else 'no environment'}",
                dataset_id=str(ds),
                hint=_POLICY_HINT.format(what=f"a job in environment {owner.environment}", ds=ds),
            )

    async def _register(self, publisher: Publisher, ds: DatasetId) -> bool:
        """Pin ``ds`` to the publisher's repository; ``False`` when someone registered first."""
        assert publisher.repository
        assert publisher.repository_id
        assert publisher.repository_owner_id
        try:
            async with self.registry.sessions() as session, session.begin():
                session.add(
                    Owner(
                        dataset_id=str(ds),
                        repository=publisher.repository.lower(),
                        repository_id=publisher.repository_id,
                        repository_owner_id=publisher.repository_owner_id,
                        registered_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            async with self.registry.sessions() as session:
                owner = await session.get(Owner, str(ds))
            assert owner is not None
            self._check_owner(owner, publisher, ds)  # raises unless it was us
            return False
        return True

    async def _limit(self, ds: DatasetId) -> None:
        tier = self.settings.tier(self.settings.publish_tier)
        state = await self.registry.limiter.hit_request(f"ns:{ds.namespace}", tier)
        if not state.allowed:
            raise RateLimited(
                f"namespace {ds.namespace}: publishing rate limit of "
                f"{tier.requests_per_minute} requests per minute reached",
                retry_after=state.reset_after,
            )

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
        await self.authorize(publisher, ds, repo=None)
        await self._limit(ds)
        cap = self.settings.tier(self.settings.publish_tier).max_shard_bytes
        if len(request.shards) > 10_000:
            raise OpenDataError(
                f"{len(request.shards)} shards in one request; at most 10000",
                hint="choose a coarser partition",
            )
        for i, shard in enumerate(request.shards):
            _check_shard(f"shards[{i}]", shard.sha256, shard.bytes, cap)
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
        if request.run_id is not None and not _RUN_ID_RE.fullmatch(request.run_id):
            raise FormatError(
                f"run_id = {shorten(request.run_id)!r} must be 1-32 lower-case letters or digits",
                document="commit",
                field="run_id",
            )
        check_manifest(manifest, "manifest")
        meta = _validated(request.metadata)
        register = await self.authorize(publisher, ds, repo=meta.repo)
        await self._limit(ds)
        current, _ = await self._current(ds)
        if current is not None and current.publish_id == manifest.publish_id:
            return await self._replay(publisher, ds, request, current)
        await self._verify_shards(ds, manifest, current)
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
            registered = await self._register(publisher, ds) if register else False
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

    async def _verify_shards(
        self, ds: DatasetId, manifest: Manifest, current: Manifest | None
    ) -> None:
        """Check every shard the live manifest does not list, else FormatError naming it.

        Each must be uploaded, with the announced size, sha256 and rows, and decode within its
        limit (decision 0007).

        Shards are read back at most :data:`_VERIFY_PARALLEL` at a time; one is decoded at a
        time, off the event loop, counting and dropping its batches: the decode holds about one
        batch, beside the shards being read.
        """
        live = {s.sha256 for s in current.shards} if current else set()
        cap = self.settings.tier(self.settings.publish_tier).max_shard_bytes
        todo = [(i, s) for i, s in enumerate(manifest.shards) if s.sha256 not in live]
        reading = asyncio.Semaphore(_VERIFY_PARALLEL)
        decoding = asyncio.Semaphore(1)

        async def check(i: int, sha256: str, size: int, rows: int) -> None:
            where = f"manifest.shards[{i}]"
            _check_shard(where, sha256, size, cap)
            key = self.store.layout.shard(ds, sha256)
            async with reading:
                try:
                    data, found_size, found_sha = await self.store.read_back(key, size)
                except Missing:
                    raise FormatError(
                        f"{ds}: {where} parts/{sha256}.parquet was never uploaded; nothing was "
                        "changed",
                        document="commit",
                        field=where,
                    ) from None
                if found_size != size or found_sha != sha256:
                    what = f"{found_size} bytes" if found_size != size else "other bytes"
                    raise FormatError(
                        f"{ds}: {where} parts/{sha256}.parquet holds {what} than announced "
                        f"({size} bytes, sha256 {sha256[:12]}…); nothing was changed",
                        document="commit",
                        field=where,
                    )
                async with decoding:
                    found_rows = await anyio.to_thread.run_sync(
                        self._decode_check, ds, where, sha256, data
                    )
            if found_rows != rows:
                raise FormatError(
                    f"{ds}: {where} parts/{sha256}.parquet holds {found_rows:,} rows, the "
                    f"manifest lists {rows:,}; nothing was changed",
                    document="commit",
                    field=f"{where}.rows",
                )

        await asyncio.gather(*(check(i, s.sha256, s.bytes, s.rows) for i, s in todo))

    def _decode_check(self, ds: DatasetId, where: str, sha256: str, data: bytes) -> int:
        """Decode a new shard within its limit, counting and dropping the batches; its rows.

        The limit is core's rule (:func:`opendata_core.decoding.decode_limit`) with the
        registry's settings: a floor plus a ratio of the stored size (the decoded-to-stored
        ratio check), capped by ``OPENDATA_REGISTRY_MAX_DECODE_BYTES``.
        """
        from opendata_core.decoding import DecodeRefused, decode_limit, decode_parquet

        s = self.settings
        limit = decode_limit(
            len(data), s.max_decode_bytes, floor=s.decode_floor, ratio=s.decode_ratio
        )
        try:
            return decode_parquet(
                data,
                name=f"{ds}: {where} parts/{sha256}.parquet",
                limit=limit,
                setting="OPENDATA_REGISTRY_MAX_DECODE_BYTES",
                keep=False,
            ).rows
        except DecodeRefused as exc:
            raise FormatError(
                f"{exc}; nothing was changed"
                + (
                    f" (the limit is OPENDATA_REGISTRY_DECODE_FLOOR {s.decode_floor:,} + "
                    f"OPENDATA_REGISTRY_DECODE_RATIO {s.decode_ratio:,} x the shard's size, at "
                    f"most OPENDATA_REGISTRY_MAX_DECODE_BYTES {s.max_decode_bytes:,})"
                    if exc.over_limit
                    else ""
                ),
                document="commit",
                field=where,
            ) from None

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
                with contextlib.suppress(Conflict):  # another writer back-filled it meanwhile
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
            except Conflict:
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
        run_id = request.run_id or _derived_id(manifest.publish_id)
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
        ds = DatasetId.parse(dataset_id)
        await self.authorize(publisher, ds, repo=None)
        await self._limit(ds)
        run_id = run.run_id or _derived_id(f"{publisher.subject} {run.started_at.isoformat()}")
        if not _RUN_ID_RE.fullmatch(run_id):
            raise FormatError(
                f"run_id = {shorten(run_id)!r} must be 1-32 lower-case letters or digits",
                document="run",
                field="run_id",
            )
        if run.finished_at < run.started_at:
            raise FormatError(
                "finished_at is before started_at", document="run", field="finished_at"
            )
        if run.status == "failure" and run.error_class is None:
            raise FormatError(
                "a failed run needs an error_class (network, parse, validation, upload, "
                "permission or unknown)",
                document="run",
                field="error_class",
            )
        record = RunRecord(
            dataset_id=str(ds),
            run_id=run_id,
            status=run.status,
            error_class=run.error_class if run.status == "failure" else None,
            message=shorten(run.message, 2000) if run.message else None,
            started_at=run.started_at,
            finished_at=run.finished_at,
            stats=run.stats,
            publish_id=run.publish_id,
            schema_changed=run.schema_changed,
            unchanged=run.unchanged,
            provenance=publisher.provenance(),
        )
        key = self.store.layout.run_record(ds, run.started_at, run_id)
        await self.store.put(key, encode_document(record))
        with contextlib.suppress(OpenDataError):
            await sync_dataset(self.registry.sessions, self.store, str(ds))
        return run_summary(record)

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


def _check_shard(where: str, sha256: str, size: int, cap: int) -> None:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise FormatError(
            f"{where}.sha256 = {shorten(sha256, 80)!r} is not 64 lower-case hex digits",
            document="request",
            field=f"{where}.sha256",
        )
    if size <= 0 or size > cap:
        raise FormatError(
            f"{where}.bytes = {size} is outside 1..{cap} (the largest shard this registry accepts)",
            document="request",
            field=f"{where}.bytes",
        )


def _derived_id(seed: str) -> str:
    """A run id (``[a-z0-9]{16}``) derived from ``seed``."""
    return hashlib.sha256(seed.encode()).hexdigest()[:16]
