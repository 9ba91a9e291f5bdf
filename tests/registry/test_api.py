"""Every catalogue endpoint through Litestar's test client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from opendata_core.api import DatasetDetail, HistoryPage, RunsPage, SearchResults, UsageReport
from opendata_core.documents import Index
from opendata_core.metadata import Geo
from opendata_core.problems import ProblemDetails
from opendata_registry.infra.settings import Settings

from .conftest import Dataset, publish, with_tier

NOW = datetime.now(UTC)


@pytest.fixture
def catalogue(local_store: Any) -> None:
    publish(
        local_store,
        Dataset(
            "ecb/euro-fx-rates",
            title="Euro foreign exchange reference rates",
            description="Daily euro reference rates for about 30 currencies.",
            topics=["finance", "exchange-rates"],
            geo=Geo(scope="region", regions=["Euro area"]),
            years=[2023, 2024, 2025],
            published_at=NOW - timedelta(hours=3),
            runs=[
                ("success", NOW - timedelta(days=2)),
                ("failure", NOW - timedelta(days=1)),
                ("success", NOW - timedelta(hours=3, minutes=1)),
            ],
        ),
    )
    publish(
        local_store,
        Dataset(
            "us-treasury/yield-curve",
            title="Daily Treasury par yield curve rates",
            description="Yields of US Treasury securities, in percent; not exchange rates.",
            topics=["finance", "interest-rates"],
            geo=Geo(scope="country", countries=["US"]),
            license="LicenseRef-US-Government-Work",
            years=[2024],
            published_at=NOW - timedelta(days=10),
            runs=[("failure", NOW - timedelta(days=1))],
        ),
    )
    publish(
        local_store,
        Dataset(
            "opendata/iso-countries",
            title="ISO 3166 country codes",
            description="Codes and names of countries.",
            topics=["reference"],
            frequency="yearly",
            geo=Geo(scope="global"),
            years=[2020],
            published_at=NOW - timedelta(days=30),
        ),
    )


def decode(response: Any, kind: type[Any]) -> Any:
    assert response.status_code == 200, response.text
    return msgspec.json.decode(response.content, type=kind)


def problem(response: Any, status: int, code: str) -> ProblemDetails:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = msgspec.json.decode(response.content, type=ProblemDetails)
    assert body.code == code
    assert body.status == status
    return body


@pytest.fixture
def client(catalogue: None, settings: Settings, make_client: Any) -> Any:
    return make_client(settings)


def ids(results: SearchResults) -> list[str]:
    return [h.dataset.id for h in results.datasets]


def test_search_ranks_by_the_engine(client: Any) -> None:
    results = decode(client.get("/v1/datasets", params={"q": "exchange rates"}), SearchResults)
    # Both mention exchange rates; the ECB title and topics do, the treasury only its description.
    assert ids(results) == ["ecb/euro-fx-rates", "us-treasury/yield-curve"]
    assert results.total == 2 and results.query == "exchange rates"
    prefix = decode(client.get("/v1/datasets", params={"q": "curr"}), SearchResults)
    assert ids(prefix) == ["ecb/euro-fx-rates"]  # "currencies", by prefix
    by_id = decode(client.get("/v1/datasets", params={"q": "treasury"}), SearchResults)
    assert ids(by_id) == ["us-treasury/yield-curve"]
    none = decode(client.get("/v1/datasets", params={"q": "zebra"}), SearchResults)
    assert none.total == 0 and none.datasets == []


@pytest.mark.parametrize(
    "q", ['"', "euro OR", "NEAR(euro fx)", "* ^ -", "'; DROP TABLE datasets; --", "é€"]
)
def test_search_syntax_from_users_never_breaks_the_engine(client: Any, q: str) -> None:
    response = client.get("/v1/datasets", params={"q": q})
    assert response.status_code == 200, response.text
    assert decode(client.get("/v1/datasets"), SearchResults).total == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"topic": "finance"}, {"ecb/euro-fx-rates", "us-treasury/yield-curve"}),
        ({"topic": "FINANCE"}, {"ecb/euro-fx-rates", "us-treasury/yield-curve"}),
        ({"namespace": "ecb"}, {"ecb/euro-fx-rates"}),
        ({"license": "cc-by-4.0"}, {"ecb/euro-fx-rates", "opendata/iso-countries"}),
        ({"frequency": "yearly"}, {"opendata/iso-countries"}),
        ({"geo": "US"}, {"us-treasury/yield-curve"}),
        ({"geo": "region"}, {"ecb/euro-fx-rates"}),
        ({"updated_since": (NOW - timedelta(days=2)).date().isoformat()}, {"ecb/euro-fx-rates"}),
        ({"covers_from": "2023-06-01", "covers_to": "2025-01-01"}, {"ecb/euro-fx-rates"}),
        ({"covers_to": "2024-06-01"}, {"ecb/euro-fx-rates", "us-treasury/yield-curve"}),
        ({"topic": "finance", "q": "yield"}, {"us-treasury/yield-curve"}),
    ],
)
def test_filters(client: Any, params: dict[str, str], expected: set[str]) -> None:
    results = decode(client.get("/v1/datasets", params=params), SearchResults)
    assert set(ids(results)) == expected
    assert results.total == len(expected)


def test_facet_counts_follow_the_filters(client: Any) -> None:
    results = decode(client.get("/v1/datasets"), SearchResults)
    topics = {f.value: f.count for f in results.facets["topic"]}
    assert topics == {"finance": 2, "exchange-rates": 1, "interest-rates": 1, "reference": 1}
    assert {f.value: f.count for f in results.facets["frequency"]} == {"daily": 2, "yearly": 1}
    assert {f.value: f.count for f in results.facets["geo"]} == {
        "region": 1,
        "country": 1,
        "us": 1,
        "global": 1,
    }
    assert set(results.facets) == {"topic", "namespace", "license", "frequency", "geo", "trust"}
    assert {f.value: f.count for f in results.facets["trust"]} == {"none": 3}
    filtered = decode(client.get("/v1/datasets", params={"topic": "finance"}), SearchResults)
    assert {f.value: f.count for f in filtered.facets["namespace"]} == {
        "ecb": 1,
        "us-treasury": 1,
    }


def test_sort_and_pagination(client: Any) -> None:
    by_name = decode(client.get("/v1/datasets", params={"sort": "name"}), SearchResults)
    assert ids(by_name) == sorted(ids(by_name))
    updated = decode(client.get("/v1/datasets", params={"sort": "updated"}), SearchResults)
    assert ids(updated) == [
        "ecb/euro-fx-rates",
        "us-treasury/yield-curve",
        "opendata/iso-countries",
    ]
    pages = [
        decode(
            client.get("/v1/datasets", params={"sort": "name", "per_page": 2, "page": p}),
            SearchResults,
        )
        for p in (1, 2, 3)
    ]
    assert [ids(p) for p in pages] == [ids(by_name)[:2], ids(by_name)[2:], []]
    assert all(p.total == 3 and p.per_page == 2 for p in pages)


def test_page_size_is_capped_by_the_tier(
    catalogue: None, settings: Settings, make_client: Any
) -> None:
    client = make_client(with_tier(settings, "anonymous", max_page_size=2))
    capped = decode(client.get("/v1/datasets", params={"per_page": 3}), SearchResults)
    assert capped.per_page == 2 and len(capped.datasets) == 2 and capped.total == 3
    assert decode(client.get("/v1/datasets"), SearchResults).per_page == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"sort": "size"}, "sort"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_parameters_name_the_field(client: Any, params: dict[str, str], field: str) -> None:
    body = problem(client.get("/v1/datasets", params=params), 400, "bad_request")
    assert repr(field) in body.message


def test_detail_with_health(client: Any) -> None:
    detail = decode(client.get("/v1/datasets/ecb/euro-fx-rates"), DatasetDetail)
    assert detail.id == "ecb/euro-fx-rates"
    assert detail.metadata.dataset.title == "Euro foreign exchange reference rates"
    assert detail.metadata.preview == [{"date": "2023-01-01", "value": 1.5}]
    assert detail.readme == "# Readme\n"
    assert detail.manifest.shard_count == 3 and detail.manifest.row_count == 3 * 365
    assert detail.manifest.min_time == "2023-01-01" and detail.manifest.max_time == "2025-12-31"
    assert [f.name for f in detail.manifest.schema] == ["date", "value"]
    assert detail.manifest.provenance.commit == "c0ffee"
    health = detail.health
    assert health.recent == ["success", "failure", "success"]
    assert health.success_rate == pytest.approx(2 / 3)
    assert health.status == "ok" and not health.stale
    assert health.last_failure_class == "network"
    assert health.last_failure_message == "GET upstream: 503 after 3 attempts"
    # Upper case is folded, as everywhere.
    assert decode(client.get("/v1/datasets/ECB/Euro-FX-Rates"), DatasetDetail).id == detail.id


def test_failing_and_stale_health(client: Any) -> None:
    treasury = decode(client.get("/v1/datasets/us-treasury/yield-curve"), DatasetDetail)
    assert treasury.health.status == "failing"
    assert treasury.health.stale  # daily, last publish 10 days ago
    assert treasury.health.stale_reason and "10 days ago" in treasury.health.stale_reason
    countries = decode(client.get("/v1/datasets/opendata/iso-countries"), DatasetDetail)
    assert countries.health.status == "unknown" and not countries.health.stale  # yearly
    hit = decode(client.get("/v1/datasets", params={"q": "treasury"}), SearchResults).datasets[0]
    assert hit.health.status == "failing"


def test_unknown_dataset_suggests_close_matches(client: Any) -> None:
    body = problem(client.get("/v1/datasets/ecb/euro-fx-rate"), 404, "dataset_not_found")
    assert body.details["close_matches"] == ["ecb/euro-fx-rates"]
    body = problem(client.get("/v1/datasets/nobody/nothing/runs"), 404, "dataset_not_found")
    assert body.details["close_matches"] == []


@pytest.mark.parametrize("path", ["/v1/datasets/e--cb/fx", "/v1/datasets/ecb/fx@1/history"])
def test_invalid_ids_name_the_rule(client: Any, path: str) -> None:
    body = problem(client.get(path), 400, "invalid_dataset_id")
    assert body.details["rule"]


def test_runs_are_paginated_newest_first(client: Any) -> None:
    first = decode(
        client.get("/v1/datasets/ecb/euro-fx-rates/runs", params={"per_page": 2}), RunsPage
    )
    assert first.total == 3 and [r.status for r in first.runs] == ["success", "failure"]
    second = decode(
        client.get("/v1/datasets/ecb/euro-fx-rates/runs", params={"per_page": 2, "page": 2}),
        RunsPage,
    )
    assert [r.status for r in second.runs] == ["success"]
    assert second.runs[0].started_at < first.runs[1].started_at


def test_index_json_etag_and_gzip(client: Any) -> None:
    response = client.get("/v1/index.json", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    index = msgspec.json.decode(response.content, type=Index)
    assert [e.id for e in index.datasets] == sorted(
        ["ecb/euro-fx-rates", "us-treasury/yield-curve", "opendata/iso-countries"]
    )
    ecb = index.datasets[0]
    assert ecb.row_count == 3 * 365 and ecb.min_time == "2023-01-01"
    etag = response.headers["etag"]
    again = client.get("/v1/index.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/v1/index.json", headers={"If-None-Match": '"other"'}).status_code == 200
    # The raw body really is gzip on the wire.
    raw = client.get("/v1/index.json", headers={"Accept-Encoding": "gzip"})
    assert gzip.compress(raw.content)  # decoded by httpx; content-encoding proves the wire form


def test_the_registry_writes_index_json_to_the_bucket(client: Any, store_root: Any) -> None:
    from opendata_core.documents import decode_document

    index = decode_document((store_root / "index.json").read_bytes(), Index)
    assert len(index.datasets) == 3


def test_history_records_every_publish_seen(
    local_store: Any, settings: Settings, make_client: Any
) -> None:
    import asyncio

    from opendata_registry.context import Registry

    first = publish(local_store, Dataset("ecb/fx", published_at=NOW - timedelta(days=2)))
    client = make_client(settings)
    publish(
        local_store,
        Dataset(
            "ecb/fx",
            published_at=NOW - timedelta(days=1),
            parent_publish_id=first.publish_id,
            schema=[*first.schema, msgspec.structs.replace(first.schema[1], name="extra")],
        ),
    )

    async def resync() -> None:
        registry = Registry(settings)
        try:
            await registry.sync(wait=True)
        finally:
            await registry.engine.dispose()

    asyncio.run(resync())
    history = decode(client.get("/v1/datasets/ecb/fx/history"), HistoryPage)
    assert history.total == 2
    assert [p.parent_publish_id for p in history.publishes] == [None, first.publish_id]
    assert [p.schema_changed for p in history.publishes] == [False, True]
    detail = decode(client.get("/v1/datasets/ecb/fx"), DatasetDetail)
    assert [f.name for f in detail.manifest.schema] == ["date", "value", "extra"]


def test_framework_errors_are_problem_details(client: Any) -> None:
    problem(client.get("/v1/nothing"), 404, "not_found")
    problem(client.delete("/v1/datasets"), 405, "bad_request")
    problem(
        client.post("/v1/datasets/ecb/euro-fx-rates/download", content=b"{not json"),
        400,
        "bad_request",
    )
    body = problem(
        client.post("/v1/datasets/ecb/euro-fx-rates/download", json={"start": 2024}),
        400,
        "bad_request",
    )
    assert "start" in body.message


def test_usage_counts_requests_downloads_bytes_and_failures(client: Any) -> None:
    client.get("/v1/datasets")
    client.get("/v1/datasets/ecb/nope")
    download = client.post("/v1/datasets/ecb/euro-fx-rates/download", json={"start": "2024"})
    assert download.status_code == 200
    signed = sum(s["bytes"] for s in download.json()["shards"])
    report = decode(client.get("/v1/usage"), UsageReport)
    assert report.tier == "anonymous" and report.key_prefix is None
    assert report.limits.requests_per_minute == 60
    today = report.days[0]
    assert today.day == datetime.now(UTC).date()
    assert today.requests == 3 and today.failures == 1
    assert today.downloads == 1 and today.bytes == signed


def test_health_endpoints(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "database": "ok", "store": "ok"}


def test_readyz_fails_when_the_store_is_gone(
    catalogue: None, settings: Settings, make_client: Any, store_root: Any
) -> None:
    import shutil

    client = make_client(settings)
    shutil.rmtree(store_root)
    (store_root.parent / "store").write_text("not a folder")
    body = problem(client.get("/readyz"), 503, "unavailable")
    assert body.details["service"] == "store" and "store down" in body.message
    assert str(store_root) not in body.message


def test_openapi_schema_is_served(client: Any) -> None:
    import importlib.metadata

    schema = client.get("/schema/openapi.json").json()
    assert schema["info"]["version"] == importlib.metadata.version("opendata-registry")
    paths = set(schema["paths"])
    assert {
        "/v1/index.json",
        "/v1/datasets",
        "/v1/datasets/{namespace}/{name}",
        "/v1/datasets/{namespace}/{name}/runs",
        "/v1/datasets/{namespace}/{name}/history",
        "/v1/datasets/{namespace}/{name}/download",
        "/v1/usage",
        "/healthz",
        "/readyz",
    } <= paths
