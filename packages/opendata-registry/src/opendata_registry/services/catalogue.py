"""Reading the catalogue: search with facets, dataset detail with health, runs, history, index."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

import msgspec
from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.api import (
    DatasetDetail,
    DatasetHit,
    FacetCount,
    HealthSummary,
    HistoryPage,
    PublishSummary,
    RunsPage,
    RunSummary,
    SearchResults,
)
from opendata_core.documents import Index, IndexEntry, Manifest, MetadataDocument
from opendata_core.errors import DatasetNotFound, OpenDataError
from opendata_core.ids import DatasetId
from opendata_registry.db.models import Dataset, DatasetTag, Publish, Run
from opendata_registry.services.health import compute_health
from opendata_registry.services.search import apply_text_search, query_terms
from opendata_registry.settings import Settings

__all__ = ["FACETS", "CatalogueService", "SearchQuery", "build_index", "parse_id"]

Sort = Literal["relevance", "updated", "name"]
FACETS: Final = ("topic", "namespace", "license", "frequency", "geo")
_FACET_VALUES: Final = 50
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SearchQuery:
    """The parameters of ``GET /v1/datasets`` (already validated by the controller)."""

    q: str = ""
    topic: str | None = None
    namespace: str | None = None
    license: str | None = None
    frequency: str | None = None
    geo: str | None = None
    updated_since: date | None = None
    covers_from: date | None = None
    covers_to: date | None = None
    sort: Sort | None = None
    page: int = 1
    per_page: int = 20


async def build_index(session: AsyncSession) -> Index:
    """The spec §5.5 ``index.json`` document of the catalogue (``updated_at``: the newest entry)."""
    rows = (
        await session.execute(select(Dataset.entry_json, Dataset.updated_at).order_by(Dataset.id))
    ).all()
    entries = [msgspec.json.decode(r.entry_json, type=IndexEntry) for r in rows]
    updated = max((r.updated_at for r in rows if r.updated_at is not None), default=_EPOCH)
    return Index(updated_at=updated, datasets=entries)


def parse_id(value: str) -> str:
    """The canonical form of a dataset ID from a URL (InvalidDatasetId names the broken rule)."""
    return str(DatasetId.parse(value))


class CatalogueService:
    """Queries over the catalogue tables, in one session."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # -- search ---------------------------------------------------------------------------

    def _hits(self, query: SearchQuery) -> tuple[Select[Any], bool]:
        stmt = select(Dataset.pk.label("pk"))
        terms = query_terms(query.q)
        if terms:
            stmt, rank = apply_text_search(stmt, terms, self._dialect)
            stmt = stmt.add_columns(rank.label("rank"))
        conditions = []
        if query.namespace:
            conditions.append(Dataset.namespace == query.namespace.lower())
        if query.license:
            conditions.append(func.lower(Dataset.license) == query.license.lower())
        if query.frequency:
            conditions.append(Dataset.frequency == query.frequency.lower())
        for facet, value in (("topic", query.topic), ("geo", query.geo)):
            if value:
                conditions.append(
                    exists().where(
                        DatasetTag.dataset_pk == Dataset.pk,
                        DatasetTag.facet == facet,
                        DatasetTag.value == value.lower(),
                    )
                )
        if query.updated_since:
            since = datetime.combine(query.updated_since, datetime.min.time(), UTC)
            conditions.append(Dataset.updated_at >= since)
        if query.covers_from:
            conditions.append(Dataset.min_time <= query.covers_from.isoformat())
        if query.covers_to:
            conditions.append(Dataset.max_time >= query.covers_to.isoformat())
        if conditions:
            stmt = stmt.where(and_(*conditions))
        return stmt, bool(terms)

    async def search(self, query: SearchQuery) -> SearchResults:
        """One page of matching datasets, ranked by the engine, with counts per facet value."""
        stmt, ranked = self._hits(query)
        # Materialized on SQLite: the match (FTS, filters) is evaluated once per statement
        # rather than once per joined row (SQLite flattened the FTS subquery into the facet
        # joins and re-ran MATCH per tag row: seconds per search). PostgreSQL plans the join
        # itself (one GIN scan, hash join) and drops the unused rank from facet counts.
        # An unfiltered catalogue stays a plain subquery, which the engine flattens onto its
        # indexes (the page by updated_at) instead of copying every key first.
        hits: Any
        if self._dialect == "sqlite" and (ranked or stmt.whereclause is not None):
            hits = stmt.cte("hits").prefix_with("MATERIALIZED")
        else:
            hits = stmt.subquery("hits")
        total = (await self.session.execute(select(func.count()).select_from(hits))).scalar_one()
        sort = query.sort or ("relevance" if ranked else "updated")
        page_stmt = select(
            Dataset.id, Dataset.entry_json, Dataset.frequency, Dataset.published_at
        ).join(hits, hits.c.pk == Dataset.pk)
        if sort == "relevance" and ranked:
            page_stmt = page_stmt.order_by(hits.c.rank, Dataset.id)
        elif sort == "name":
            page_stmt = page_stmt.order_by(Dataset.id)
        else:
            page_stmt = page_stmt.order_by(Dataset.updated_at.desc().nulls_last(), Dataset.id)
        page_stmt = page_stmt.limit(query.per_page).offset((query.page - 1) * query.per_page)
        rows = (await self.session.execute(page_stmt)).all()
        runs = await self._recent_runs([r.id for r in rows])
        now = datetime.now(UTC)
        hits_out = [
            DatasetHit(
                dataset=msgspec.json.decode(r.entry_json, type=IndexEntry),
                health=self._health(runs.get(r.id, []), r.frequency, r.published_at, now),
            )
            for r in rows
        ]
        facets = {name: await self._facet(name, hits) for name in FACETS}
        return SearchResults(
            query=query.q,
            total=total,
            page=query.page,
            per_page=query.per_page,
            datasets=hits_out,
            facets=facets,
        )

    async def _facet(self, name: str, hits: Any) -> list[FacetCount]:
        count = func.count().label("n")
        if name in ("topic", "geo"):
            value: Any = DatasetTag.value
            stmt = (
                select(value, count)
                .join(hits, hits.c.pk == DatasetTag.dataset_pk)
                .where(DatasetTag.facet == name)
            )
        else:
            value = getattr(Dataset, name)
            stmt = (
                select(value, count).join(hits, hits.c.pk == Dataset.pk).where(value.is_not(None))
            )
        stmt = stmt.group_by(value).order_by(count.desc(), value).limit(_FACET_VALUES)
        return [FacetCount(value=v, count=n) for v, n in (await self.session.execute(stmt)).all()]

    # -- one dataset ----------------------------------------------------------------------

    async def _row(self, dataset_id: str) -> Dataset:
        ds = parse_id(dataset_id)
        row = (
            await self.session.execute(select(Dataset).where(Dataset.id == ds))
        ).scalar_one_or_none()
        if row is None:
            ids = (await self.session.execute(select(Dataset.id))).scalars().all()
            raise DatasetNotFound(ds, difflib.get_close_matches(ds, ids, n=3, cutoff=0.6))
        return row

    async def detail(self, dataset_id: str) -> DatasetDetail:
        """Metadata, the current publish, README and health of one dataset."""
        row = await self._row(dataset_id)
        current = (
            await self.session.execute(
                select(Publish.summary_json).where(
                    Publish.dataset_id == row.id, Publish.publish_id == row.publish_id
                )
            )
        ).scalar_one()
        runs = (await self._recent_runs([row.id])).get(row.id, [])
        return DatasetDetail(
            id=row.id,
            metadata=msgspec.json.decode(row.metadata_json, type=MetadataDocument),
            manifest=msgspec.json.decode(current, type=PublishSummary),
            readme=row.readme,
            health=self._health(runs, row.frequency, row.published_at, datetime.now(UTC)),
        )

    async def runs(self, dataset_id: str, *, page: int, per_page: int) -> RunsPage:
        """The dataset's run records, newest first."""
        row = await self._row(dataset_id)
        total = (
            await self.session.execute(select(func.count()).where(Run.dataset_id == row.id))
        ).scalar_one()
        stmt = (
            select(Run.summary_json)
            .where(Run.dataset_id == row.id)
            .order_by(Run.started_at.desc(), Run.key.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        summaries = (await self.session.execute(stmt)).scalars().all()
        return RunsPage(
            total=total,
            page=page,
            per_page=per_page,
            runs=[msgspec.json.decode(s, type=RunSummary) for s in summaries],
        )

    async def history(self, dataset_id: str) -> HistoryPage:
        """Every publish of the dataset the registry has seen, oldest first."""
        row = await self._row(dataset_id)
        stmt = (
            select(Publish.summary_json)
            .where(Publish.dataset_id == row.id)
            .order_by(Publish.published_at, Publish.publish_id)
        )
        summaries = (await self.session.execute(stmt)).scalars().all()
        return HistoryPage(
            total=len(summaries),
            publishes=[msgspec.json.decode(s, type=PublishSummary) for s in summaries],
        )

    async def manifest(self, dataset_id: str, version: str | None = None) -> Manifest:
        """The current manifest, or the one of the publish ``version`` (a unique id prefix)."""
        row = await self._row(dataset_id)
        if not version or version == row.publish_id:
            return msgspec.json.decode(row.manifest_json, type=Manifest)
        stmt = (
            select(Publish.publish_id, Publish.manifest_json)
            .where(Publish.dataset_id == row.id, Publish.publish_id.startswith(version))
            .limit(2)
        )
        found = (await self.session.execute(stmt)).all()
        if len(found) != 1:
            problem = "matches several publishes" if found else "is not a known publish"
            raise OpenDataError(
                f"{row.id}: version {version!r} {problem}",
                hint=f"GET /v1/datasets/{row.id}/history lists the publish ids",
            )
        return msgspec.json.decode(found[0].manifest_json, type=Manifest)

    # -- index ----------------------------------------------------------------------------

    async def index(self) -> Index:
        """The spec §5.5 ``index.json`` document, built from the catalogue."""
        return await build_index(self.session)

    # -- health ---------------------------------------------------------------------------

    async def _recent_runs(self, ids: list[str]) -> dict[str, list[RunSummary]]:
        if not ids:
            return {}
        number = (
            func.row_number()
            .over(partition_by=Run.dataset_id, order_by=(Run.started_at.desc(), Run.key.desc()))
            .label("rn")
        )
        sub = (
            select(Run.dataset_id, Run.summary_json, number)
            .where(Run.dataset_id.in_(ids))
            .subquery()
        )
        stmt = (
            select(sub.c.dataset_id, sub.c.summary_json)
            .where(sub.c.rn <= self.settings.health_runs)
            .order_by(sub.c.dataset_id, sub.c.rn)
        )
        out: dict[str, list[RunSummary]] = {}
        for dataset_id, summary in (await self.session.execute(stmt)).all():
            out.setdefault(dataset_id, []).append(msgspec.json.decode(summary, type=RunSummary))
        return out

    def _health(
        self,
        runs: list[RunSummary],
        frequency: str | None,
        published_at: datetime | None,
        now: datetime,
    ) -> HealthSummary:
        return compute_health(
            runs,
            frequency=frequency,
            published_at=published_at,
            now=now,
            grace=self.settings.stale_grace,
        )
