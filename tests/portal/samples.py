"""Registry API bodies built from core's Structs, for the portal's unit tests.

The end-to-end tests (test_e2e_browser.py) use a real registry instead; these samples let the
views and templates be tested on their own, including answers a real registry rarely gives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec

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
    VersionList,
)
from opendata_core.documents import Field, IndexEntry, MetadataDocument, Provenance, Stats
from opendata_core.metadata import DatasetMetadata, Geo, Source
from opendata_core.problems import ProblemDetails

NOW = datetime.now(UTC)
SCHEMA = [
    Field(name="date", type="date32[day]", nullable=False),
    Field(name="usd", type="double"),
    Field(name="note", type="string"),
]


def entry(dataset_id: str = "ecb/euro-fx-rates", **changes: Any) -> IndexEntry:
    values: dict[str, Any] = {
        "id": dataset_id,
        "title": "Euro foreign exchange reference rates",
        "description": "Daily reference rates of the euro against 30 currencies, from the ECB.",
        "license": "CC-BY-4.0",
        "repo": "https://github.com/ecb/opendata-euro-fx-rates",
        "provider": "European Central Bank",
        "topics": ["finance", "currencies"],
        "frequency": "daily",
        "geo_scope": "region",
        "countries": [],
        "time_column": "date",
        "row_count": 6789,
        "bytes": 123_456,
        "min_time": "1999-01-04",
        "max_time": "2025-06-30",
        "schema_hash": "ab" * 32,
        "updated_at": NOW - timedelta(hours=3),
    }
    values.update(changes)
    return IndexEntry(**values)


def search_results(hits: list[DatasetHit] | None = None, **changes: Any) -> SearchResults:
    hits = (
        [DatasetHit(dataset=entry(), health=HealthSummary(status="ok"))] if hits is None else hits
    )
    values: dict[str, Any] = {
        "total": len(hits),
        "page": 1,
        "per_page": 20,
        "datasets": hits,
        "facets": {
            "topic": [
                FacetCount(value="finance", count=1),
                FacetCount(value="currencies", count=1),
            ],
            "namespace": [FacetCount(value="ecb", count=1)],
            "license": [FacetCount(value="CC-BY-4.0", count=1)],
            "frequency": [FacetCount(value="daily", count=1)],
            "geo": [FacetCount(value="region", count=1)],
        },
    }
    values.update(changes)
    return SearchResults(**values)


def publish(i: int = 0, *, rows: int = 6789, schema_changed: bool = False) -> PublishSummary:
    return PublishSummary(
        publish_id=f"{i:04d}" + "f" * 28,
        published_at=NOW - timedelta(days=10 - i),
        row_count=rows,
        bytes=123_456,
        shard_count=3,
        min_time="1999-01-04",
        max_time="2025-06-30",
        time_column="date",
        partition="year",
        schema=SCHEMA,
        schema_hash="ab" * 32,
        schema_changed=schema_changed,
        provenance=Provenance(
            repo="https://github.com/ecb/opendata-euro-fx-rates",
            commit="0123456789abcdef0123456789abcdef01234567",
            run_url="https://github.com/ecb/opendata-euro-fx-rates/actions/runs/42",
        ),
    )


def detail(
    dataset_id: str = "ecb/euro-fx-rates",
    *,
    readme: str = "# Rates\n\nHello **world**.",
    **health: Any,
) -> DatasetDetail:
    meta = DatasetMetadata(
        id=dataset_id,
        title="Euro foreign exchange reference rates",
        description="Daily reference rates of the euro against 30 currencies, from the ECB.",
        license="CC-BY-4.0",
        repo="https://github.com/ecb/opendata-euro-fx-rates",
        source=Source(provider="European Central Bank", homepage="https://www.ecb.europa.eu/"),
        topics=["finance", "currencies"],
        geo=Geo(scope="region", regions=["Euro area"]),
        frequency="daily",
        time_column="date",
    )
    stats = Stats(
        row_count=6789, bytes=123_456, shard_count=3, schema_hash="ab" * 32, null_counts={"note": 2}
    )
    preview = [
        {"date": "1999-01-04", "usd": 1.1789, "note": None},
        {"date": "1999-01-05", "usd": 1.179, "note": "<script>alert(1)</script>"},
    ]
    document = MetadataDocument(
        dataset=meta,
        stats=stats,
        schema=SCHEMA,
        preview=preview,
        updated_at=NOW - timedelta(hours=3),
    )
    summary = HealthSummary(
        status="ok", success_rate=0.9, runs_considered=10, recent=["success"] * 9 + ["failure"]
    )
    if health:
        summary = msgspec.structs.replace(summary, **health)
    return DatasetDetail(
        id=dataset_id, metadata=document, manifest=publish(2), readme=readme, health=summary
    )


def history(n: int = 3) -> HistoryPage:
    return HistoryPage(
        total=n,
        publishes=[publish(i, rows=1000 * (i + 1), schema_changed=i == 1) for i in range(n)],
    )


def versions(n: int = 3) -> VersionList:
    """The kept versions, newest first (the current one is ``publish(n - 1)``)."""
    return VersionList(
        dataset_id="ecb/euro-fx-rates",
        versions=[publish(i, rows=1000 * (i + 1)) for i in reversed(range(n))],
    )


def runs() -> RunsPage:
    items = [
        RunSummary(
            run_id=f"r{i}",
            status="failure" if i == 3 else "success",
            error_class="network" if i == 3 else None,
            message="connection reset" if i == 3 else None,
            started_at=NOW - timedelta(days=i, minutes=5),
            finished_at=NOW - timedelta(days=i),
        )
        for i in range(5)
    ]
    return RunsPage(total=5, page=1, per_page=20, runs=items)


Handler = Callable[[httpx.Request], Any]


def transport(
    routes: dict[str, Any], *, seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    """Answer registry paths with Structs (200), ProblemDetails (their status) or exceptions."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        body = routes.get(request.url.path)
        if callable(body) and not isinstance(body, msgspec.Struct):
            body = body(request)
        if isinstance(body, Exception):
            raise body
        if body is None:
            problem = ProblemDetails(
                code="not_found", message=f"no route {request.url.path}", status=404
            )
            return httpx.Response(404, content=msgspec.json.encode(problem))
        if isinstance(body, ProblemDetails):
            return httpx.Response(body.status, content=msgspec.json.encode(body))
        if isinstance(body, bytes):
            return httpx.Response(200, content=body)
        return httpx.Response(200, content=msgspec.json.encode(body))

    return httpx.MockTransport(handle)


def default_routes() -> dict[str, Any]:
    return {
        "/v1/datasets": search_results(),
        "/v1/datasets/ecb/euro-fx-rates": detail(),
        "/v1/datasets/ecb/euro-fx-rates/history": history(),
        "/v1/datasets/ecb/euro-fx-rates/runs": runs(),
        "/v1/datasets/ecb/euro-fx-rates/versions": versions(),
    }
