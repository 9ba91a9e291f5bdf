"""``download``: the manifest and short-lived signed GET URLs for exactly the overlapping shards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from opendata_core.api import DownloadRequest, DownloadResponse, SignedShard
from opendata_core.documents import Manifest
from opendata_core.errors import ColumnNotFound, FormatError, OpenDataError, RateLimited
from opendata_core.ids import DatasetId
from opendata_core.timerange import select_shards
from opendata_registry.db.engine import SessionMaker
from opendata_registry.domain.catalogue.versions import VersionService
from opendata_registry.domain.downloads.export import export_links, export_refusal
from opendata_registry.domain.gateway.services import gateway_url
from opendata_registry.domain.usage.services import UsageRecorder
from opendata_registry.infra.hotcache import HotCache, PlanKey, ShardPlan
from opendata_registry.infra.identity import Caller
from opendata_registry.infra.limits import Limiter
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.signing import UrlSigner
from opendata_registry.infra.store import RegistryStore

__all__ = ["DownloadParts", "DownloadService"]


class DownloadParts(Protocol):
    """What a download uses of the running registry (the app's :class:`~.context.Registry`)."""

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
    @property
    def usage(self) -> UsageRecorder: ...  # noqa: D102
    @property
    def hot(self) -> HotCache: ...  # noqa: D102
    @property
    def versions(self) -> VersionService: ...  # noqa: D102


class DownloadService:
    """Signs downloads: by the store itself (S3/R2), or by the registry (local folder)."""

    def __init__(self, registry: DownloadParts) -> None:
        self.registry = registry

    async def download(
        self,
        dataset_id: str,
        request: DownloadRequest,
        caller: Caller,
        base_url: str,
        generation: int,
    ) -> DownloadResponse:
        """Signed URLs for the shards of ``[start, end]``, counted against the byte budget.

        ``generation``: the request's value of the cache's change counter
        (:meth:`HotCache.for_request`); the current manifest is served from that cache.
        """
        manifest = await self.registry.versions.resolve(
            dataset_id, request.version, request.as_of, generation=generation
        )
        plan = self._plan(manifest, request, generation)
        for column in request.columns or []:
            if column not in plan.available:
                raise ColumnNotFound(str(plan.ds), column, plan.available)
        shards, total = plan.shards, plan.total
        settings = self.registry.settings
        tier = settings.tier(caller.tier)
        budget = await self.registry.limiter.hit_bytes(caller.subject, tier, total)
        if not budget.allowed:
            raise RateLimited(
                f"daily download budget of {tier.download_bytes_per_day} bytes reached "
                f"({tier.name} tier; this request needs {total} bytes)",
                retry_after=budget.reset_after,
            )
        lifetime = timedelta(minutes=tier.url_expiry_minutes)
        expires_at = (datetime.now(UTC) + lifetime).replace(microsecond=0)
        store = self.registry.store
        expires, root = int(expires_at.timestamp()), settings.public_url or base_url
        signed = []
        gateway = settings.gateway
        for shard, key in zip(shards, plan.keys, strict=True):
            if gateway is not None:  # the edge checks the link and serves from R2
                url = gateway_url(
                    gateway,
                    key,
                    store_prefix=store.layout.prefix,
                    expires=expires,
                    subject=caller.subject,
                    tier=caller.tier,
                    namespace=plan.ds.namespace,
                )
            elif store.can_sign:
                url = store.sign_get(key, lifetime)
            else:
                url = self.registry.signer.sign(root, key, expires=expires)
            signed.append(
                SignedShard(
                    path=shard.path,
                    sha256=shard.sha256,
                    rows=shard.rows,
                    bytes=shard.bytes,
                    partition=shard.partition,
                    min=shard.min,
                    max=shard.max,
                    url=url,
                )
            )
        # Behind a gateway the edge reports the bytes it served (gateway.services.fold_events).
        counted = 0 if gateway is not None else total
        self.registry.usage.record(caller.subject, downloads=1, nbytes=counted)
        # The same rows as one CSV or Parquet file, made by the registry (export.py): counted
        # with the shards above, so its link is signed like theirs.
        refused = export_refusal(str(plan.ds), total, settings)
        exports = {}
        if refused is None:
            exports = export_links(
                self.registry.signer, root, manifest, request.start, request.end, expires
            )
        return DownloadResponse(
            dataset_id=str(plan.ds),
            manifest=manifest,
            shards=signed,
            expires_at=expires_at,
            exports=exports,
            export_refused=refused,
            # Deprecated or not: the client warns without asking again (spec §10.4).
            lifecycle=await self.registry.versions.lifecycle(str(plan.ds), generation),
        )

    def _plan(self, manifest: Manifest, request: DownloadRequest, generation: int) -> ShardPlan:
        """The shards of ``[start, end]`` and their keys, kept with the manifest's generation."""
        hot = self.registry.hot
        cache_key: PlanKey = (manifest.dataset_id, manifest.publish_id, request.start, request.end)
        plan = hot.plan(cache_key)
        if plan is not None:
            return plan
        ds = DatasetId.parse(manifest.dataset_id)
        try:
            shards = select_shards(manifest, request.start, request.end)
        except OpenDataError:
            raise
        except ValueError as exc:
            # Core's message says it all: the field and the accepted forms, or the order of
            # start and end (an ISO hint would send an order problem the wrong way).
            raise OpenDataError(str(exc)) from None
        keys = []
        for shard in shards:
            try:
                keys.append(self.registry.store.layout.resolve(ds, shard.path))
            except ValueError as exc:
                raise FormatError(
                    f"{ds}/manifest.json lists a shard outside the dataset: {exc}",
                    document="manifest.json",
                    field="shards",
                ) from None
        plan = ShardPlan(
            ds=ds,
            available=[f.name for f in manifest.schema],
            shards=shards,
            keys=keys,
            total=sum(s.bytes for s in shards),
        )
        hot.remember_plan(generation, cache_key, plan)
        return plan
