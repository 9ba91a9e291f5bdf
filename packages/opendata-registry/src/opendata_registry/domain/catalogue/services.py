"""Reading the catalogue: search with facets, dataset detail with health, runs, history, index."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import msgspec
from pyroaring import BitMap
from sqlalchemy import ColumnElement, Row, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_core.api import (
    TRUST_FACET,
    DatasetDetail,
    DatasetHit,
    HealthSummary,
    HistoryPage,
    LifecycleEvents,
    PublishSummary,
    RunsPage,
    RunSummary,
    SearchResults,
    Sort,
)
from opendata_core.documents import Index, IndexEntry, Manifest, MetadataDocument
from opendata_core.errors import DatasetNotFound
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import TRUST_LEVELS, Lifecycle, TrustLevel, effective_lifecycle
from opendata_core.metadata import DatasetMetadata
from opendata_core.search import Vocabulary
from opendata_registry.db.models import Dataset, Publish, Run
from opendata_registry.domain.catalogue.facets import (
    FacetIndex,
    MatchKey,
    RankedHead,
    facet_index,
    join_pks,
    split_pks,
)
from opendata_registry.domain.catalogue.lifecycle import check_serving, read_lifecycle
from opendata_registry.domain.catalogue.search import catalogue_words, match_keys, query_terms
from opendata_registry.domain.health.services import compute_health
from opendata_registry.infra.settings import Settings

__all__ = ["CatalogueService", "SearchQuery", "build_index", "parse_id"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# The search page-size estimate (decision 0009 says why these values).
_MARGIN: Final = 1.5
"""Rows read per allowed key expected in them: filtered keys are not spread evenly by rank."""
_SLACK: Final = 10
"""Rows read beyond the estimate, for small pages and small shares."""
_RANKED_HEAD: Final = 400
"""The least number of ranked rows read (and kept) for a text query."""
_RANK_ALL: Final = 2_000
"""Up to this many text matches are ranked and read in one statement (filters need no second)."""
_RANK_AMONG: Final = 10_000
"""A filtered search with up to this many hits ranks only them (the engine told which keys)."""


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
    trust: TrustLevel | None = None
    """The least trust level in force (``verified-publisher`` and up: ``verified=true``)."""


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


class _MetadataOnly(msgspec.Struct):
    """The part of ``metadata.json`` the lifecycle needs (the producer's ``deprecated``)."""

    dataset: DatasetMetadata


def _first_allowed(head: RankedHead, allowed: BitMap | None, stop: int) -> list[int] | None:
    """The first ``stop`` allowed keys of a ranked head, if the head holds them.

    ``None`` when it may not: fewer than ``stop`` are allowed and the head is not complete
    (the engine had more matches).
    """
    found = [pk for _, pk in head.rows if allowed is None or pk in allowed]
    return found[:stop] if head.complete or len(found) >= stop else None


class CatalogueService:
    """Queries over the catalogue tables, in one session."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # -- search ---------------------------------------------------------------------------

    @staticmethod
    def _wanted(query: SearchQuery) -> list[tuple[str, str]]:
        """The facet filters as ``(facet, lower-cased value)`` (matched case-insensitively)."""
        pairs = [
            ("namespace", query.namespace),
            ("license", query.license),
            ("frequency", query.frequency),
            ("topic", query.topic),
            ("geo", query.geo),
        ]
        return [(facet, value.lower()) for facet, value in pairs if value]

    @staticmethod
    def _time_conditions(query: SearchQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if query.updated_since:
            since = datetime.combine(query.updated_since, datetime.min.time(), UTC)
            conditions.append(Dataset.updated_at >= since)
        if query.covers_from:
            conditions.append(Dataset.min_time <= query.covers_from.isoformat())
        if query.covers_to:
            conditions.append(Dataset.max_time >= query.covers_to.isoformat())
        return conditions

    async def _keys(self, terms: list[str], query: SearchQuery, index: FacetIndex) -> BitMap:
        """Every key the engine matches (text and time conditions; no rank computed)."""
        memo_key: MatchKey = (
            tuple(terms),
            query.updated_since,
            query.covers_from,
            query.covers_to,
        )
        cached = index.matches.get(memo_key)
        if cached is not None:
            return cached
        conditions = self._time_conditions(query)
        if len(terms) > 1 and not conditions:
            # Every term is required, so the matches of several words are those every word
            # matches alone: kept answers for each word give them without a statement (a word
            # that matched nothing too: no engine drops stop words since migration 0007).
            kept = (index.matches.get(((t,), None, None, None)) for t in terms)
            words = [w for w in kept if w is not None]
            if len(words) == len(terms):
                pks = BitMap.intersection(*words)
                index.matches[memo_key] = pks
                return pks
        if terms and not conditions:
            keys = match_keys(terms, self._dialect)
        else:
            keys = select(Dataset.pk.label("pk")).where(and_(*conditions))
            if terms:
                keys = keys.where(Dataset.pk.in_(match_keys(terms, self._dialect)))
        found = keys.subquery("found")
        connection = await self.session.connection()
        pks = split_pks((await connection.execute(select(join_pks(found.c.pk)))).scalar_one())
        index.matches[memo_key] = pks
        return pks

    async def _ranked_rows(self, terms: list[str], n: int, index: FacetIndex) -> RankedHead:
        """The engine's first ``n`` ``(rank, pk)`` rows for ``terms`` (fewer: all it matched).

        A longer head kept for the same terms at this generation serves too: the first ``n``
        rows of ``ORDER BY rank LIMIT m`` are those of ``LIMIT n`` for any ``m >= n``.
        """
        cached = index.ranked.get(tuple(terms))
        if cached is not None and (cached.limit >= n or cached.complete):
            return RankedHead(n, cached.rows[:n])
        # The engine ranks every match whatever the limit; a longer head costs only the rows
        # and serves the same words' later pages and filtered searches.
        limit = max(n, _RANKED_HEAD)
        rows = await self._rank(match_keys(terms, self._dialect, rank=True).limit(limit))
        index.keep_head(tuple(terms), RankedHead(limit, rows))
        return RankedHead(n, rows[:n])

    async def _rank(self, stmt: Select[Any]) -> list[tuple[float, int]]:
        connection = await self.session.connection()  # Core rows: no ORM processing
        return [(rank, pk) for pk, rank in (await connection.execute(stmt)).all()]

    async def _ranked(
        self,
        terms: list[str],
        allowed: BitMap | None,
        share: float,
        index: FacetIndex,
        stop: int,
        matches: int | None,
    ) -> list[int]:
        """The best ``stop`` keys among ``allowed``, in the engine's order (rank, then ties).

        The engine ranks its matches over its text index alone, keeping only the best ``n``
        (a top-N sort); ``n`` covers ``stop`` allowed keys at their ``share`` of the matches,
        and is doubled in the rare case it did not. Up to :data:`_RANK_ALL` ``matches`` (the
        text's, when known) are all read at once. Up to :data:`_RANK_AMONG` ``allowed`` keys
        that the head kept for the terms does not cover are ranked alone: the engine scores
        only them, in the same order.
        """
        if allowed is not None and len(allowed) <= _RANK_AMONG:
            cached = index.ranked.get(tuple(terms))
            if cached is not None and (found := _first_allowed(cached, allowed, stop)) is not None:
                return found
            stmt = match_keys(terms, self._dialect, rank=True, among=allowed).limit(stop)
            return [pk for _, pk in await self._rank(stmt)]
        n = int((stop + 1) / max(share, 1e-6) * _MARGIN) + _SLACK
        if matches is not None and matches <= _RANK_ALL:
            n = max(n, matches + 1)
        while True:
            head = await self._ranked_rows(terms, n, index)
            if (found := _first_allowed(head, allowed, stop)) is not None:
                return found
            n *= 2

    async def _vocabulary(self, index: FacetIndex) -> Vocabulary:
        """The text index's words at the index's generation (read once per generation)."""
        if index.vocabulary is None:
            words = await catalogue_words(await self.session.connection())
            index.vocabulary = Vocabulary(words)
        return index.vocabulary

    async def search(self, query: SearchQuery) -> SearchResults:
        """One page of matching datasets, ranked by the engine, with counts per facet value.

        The engine finds the hits (full-text match and time conditions) in one statement that
        returns only their keys; the facet filters, total and counts come from the facet
        index of the catalogue's generation (:mod:`.facets`), as does the order by update or
        name. For relevance the engine ranks its matches in a second statement, read only as
        far as the page. The unfiltered catalogue needs no statement beyond the page's rows.
        Both statements' answers are kept with the facet index, for its generation only
        (:attr:`.facets.FacetIndex.matches`, :attr:`~.facets.FacetIndex.ranked`): a repeated
        query (a search log's common words) skips them. A text query that finds nothing
        carries a ``suggestion`` from the catalogue's words (core's
        :meth:`~opendata_core.search.Vocabulary.suggest`).
        """
        index = await facet_index(self.session)
        terms = query_terms(query.q)
        wanted = self._wanted(query)
        timed = bool(query.updated_since or query.covers_from or query.covers_to)
        matched = await self._keys(terms, query, index) if terms or timed else None
        pks = index.restrict(matched, wanted)
        if query.trust is not None and query.trust != "none":
            levels = TRUST_LEVELS[TRUST_LEVELS.index(query.trust) :]
            pks = index.restrict_any(pks, TRUST_FACET, levels)
        filtered = bool(wanted) or pks is not matched
        if pks is None:
            total, facets = len(index.everything), index.counts
        else:
            total, facets = len(pks), index.count(pks)
        sort = query.sort or ("relevance" if terms else "updated")
        start = (query.page - 1) * query.per_page
        stop = start + query.per_page
        if start >= total:
            page: list[int] = []
        elif sort == "relevance" and terms:
            allowed = pks if filtered or timed else None
            # The allowed share of the text's matches (a lower bound with time conditions).
            whole = len(index.everything) if timed else len(matched or ())
            share = total / max(whole, 1) if allowed is not None else 1.0
            matches = None if timed else len(matched or ())
            ranked = await self._ranked(terms, allowed, share, index, stop, matches)
            page = ranked[start:stop]
        else:
            page = index.top(pks, "name" if sort == "name" else "updated", start, stop)
        rows = {}
        if page:
            stmt = select(
                Dataset.pk, Dataset.id, Dataset.entry_json, Dataset.frequency, Dataset.published_at
            ).where(Dataset.pk.in_(page))
            rows = {r.pk: r for r in (await self.session.execute(stmt)).all()}
        ordered = [rows[pk] for pk in page if pk in rows]
        runs = await self._recent_runs([r.id for r in ordered])
        now = datetime.now(UTC)
        hits_out = [
            DatasetHit(
                dataset=msgspec.json.decode(r.entry_json, type=IndexEntry),
                health=self._health(runs.get(r.id, []), r.frequency, r.published_at, now),
            )
            for r in ordered
        ]
        suggestion = None
        if total == 0 and terms:
            suggestion = (await self._vocabulary(index)).suggest(query.q)
        return SearchResults(
            query=query.q,
            suggestion=suggestion,
            total=total,
            page=query.page,
            per_page=query.per_page,
            datasets=hits_out,
            facets=facets,
        )

    # -- one dataset ----------------------------------------------------------------------

    async def _row(self, dataset_id: str, *columns: Any, serving: bool = True) -> Row[Any]:
        """The dataset's ``columns`` (default: its ``id``) as a Core row: no ORM object is built.

        Raises DatasetNotFound, with close matches, when the catalogue does not hold it;
        DatasetMoved (308) for a moved id; with ``serving``, DatasetWithdrawn (410) for a
        withdrawn dataset (its lifecycle and events stay readable: ``serving=False``).
        """
        ds = parse_id(dataset_id)
        connection = await self.session.connection()
        stmt: Select[Any] = select(
            *(columns or (Dataset.id,)), Dataset.status.label("lifecycle_status")
        )
        row: Row[Any] | None = (await connection.execute(stmt.where(Dataset.id == ds))).first()
        if row is None or (serving and row.lifecycle_status == "withdrawn"):
            await check_serving(self.session, ds, row.lifecycle_status if row else None)
        if row is None:
            ids = (await connection.execute(select(Dataset.id))).scalars().all()
            raise DatasetNotFound(ds, difflib.get_close_matches(ds, ids, n=3, cutoff=0.6))
        return row

    async def lifecycle(self, dataset_id: str) -> Lifecycle | None:
        """The id's ``lifecycle.json`` (a moved id's tombstone too); ``None``: none written.

        Raises DatasetNotFound when the id is neither a dataset nor has a lifecycle.
        """
        ds = parse_id(dataset_id)
        doc = await read_lifecycle(self.session, ds)
        if doc is None:
            await self._row(ds, serving=False)
        return doc

    async def events(self, dataset_id: str) -> LifecycleEvents:
        """The dataset's audit trail, oldest first, with the status and trust in force."""
        row = await self._row(dataset_id, Dataset.id, Dataset.metadata_json, serving=False)
        state = await self._effective(row.id, row.metadata_json)
        return LifecycleEvents(
            dataset_id=row.id,
            status=state.status,
            trust=state.trust.effective(),
            events=state.events,
        )

    async def _effective(self, dataset_id: str, metadata_json: str) -> Lifecycle:
        doc = await read_lifecycle(self.session, dataset_id)
        meta = None
        if doc is None:
            meta = msgspec.json.decode(metadata_json, type=_MetadataOnly).dataset
        return effective_lifecycle(dataset_id, doc, meta)

    async def detail(self, dataset_id: str) -> DatasetDetail:
        """Metadata, the current publish, README and health of one dataset."""
        row = await self._row(
            dataset_id,
            Dataset.id,
            Dataset.metadata_json,
            Dataset.readme,
            Dataset.frequency,
            Dataset.published_at,
            # The current publish's summary, in the same statement.
            select(Publish.summary_json)
            .where(Publish.dataset_id == Dataset.id, Publish.publish_id == Dataset.publish_id)
            .scalar_subquery()
            .label("summary_json"),
        )
        runs = (await self._recent_runs([row.id])).get(row.id, [])
        metadata = msgspec.json.decode(row.metadata_json, type=MetadataDocument)
        doc = await read_lifecycle(self.session, row.id)
        return DatasetDetail(
            id=row.id,
            metadata=metadata,
            manifest=msgspec.json.decode(row.summary_json, type=PublishSummary),
            readme=row.readme,
            health=self._health(runs, row.frequency, row.published_at, datetime.now(UTC)),
            lifecycle=effective_lifecycle(row.id, doc, metadata.dataset),
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

    async def manifest(self, dataset_id: str) -> Manifest:
        """The current manifest (a pinned version: :class:`.versions.VersionService`)."""
        row = await self._row(dataset_id, Dataset.manifest_json)
        return msgspec.json.decode(row.manifest_json, type=Manifest)

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
