"""The machine-readable routes over a registry that answers from core Structs (no live stack)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import msgspec
import pytest

from opendata_core.api import DatasetHit, DownloadResponse, SignedShard
from opendata_core.documents import Manifest, Shard
from tests.portal import samples
from tests.portal.conftest import Portal
from tests.portal.test_discover import _graph, dcat_ap_report

SHAS = ["a" * 64, "b" * 64]


EXPORTS = {
    "csv": "http://registry.test/v1/datasets/ecb/euro-fx-rates/export.csv?sig=c",
    "parquet": "http://registry.test/v1/datasets/ecb/euro-fx-rates/export.parquet?sig=p",
}


def download(n: int = 2, *, exports: bool = False, refused: str | None = None) -> DownloadResponse:
    shards = [
        Shard(
            path=f"parts/{SHAS[i]}.parquet",
            sha256=SHAS[i],
            rows=10,
            bytes=100,
            partition=str(2023 + i),
        )
        for i in range(n)
    ]
    manifest = Manifest(
        dataset_id="ecb/euro-fx-rates",
        publish_id="0002" + "f" * 28,
        published_at=samples.NOW,
        time_column="date",
        partition="year",
        schema=samples.SCHEMA,
        schema_hash="ab" * 32,
        row_count=10 * n,
        bytes=100 * n,
        shards=shards,
        primary_key=["date"],
    )
    return DownloadResponse(
        dataset_id="ecb/euro-fx-rates",
        manifest=manifest,
        shards=[
            SignedShard(
                path=s.path,
                sha256=s.sha256,
                rows=s.rows,
                bytes=s.bytes,
                partition=s.partition,
                url=f"http://store.test/{s.sha256}?sig=x",
            )
            for s in shards
        ],
        expires_at=samples.NOW + timedelta(minutes=10),
        exports=dict(EXPORTS) if exports else {},
        export_refused=refused,
    )


def routes(
    n: int = 2, *, exports: bool = False, refused: str | None = None, **more: Any
) -> dict[str, Any]:
    return {
        **samples.default_routes(),
        "/v1/datasets/ecb/euro-fx-rates/download": download(n, exports=exports, refused=refused),
        **more,
    }


def test_croissant_lists_every_shard_with_its_checksum(portal: Portal) -> None:
    doc = portal(routes()).get("/ecb/euro-fx-rates/croissant.json").json()
    files = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert [(f["name"], f["sha256"]) for f in files] == [
        ("parquet-2023", SHAS[0]),
        ("parquet-2024", SHAS[1]),
    ]
    assert (
        files[0]["contentUrl"]
        == f"http://testserver.local/ecb/euro-fx-rates/-/parts/{SHAS[0]}.parquet"
    )
    (fileset,) = [d for d in doc["distribution"] if d["@type"] == "cr:FileSet"]
    assert [c["@id"] for c in fileset["containedIn"]] == ["parquet-2023", "parquet-2024"]
    (rows,) = doc["recordSet"]
    assert [(f["name"], f["dataType"]) for f in rows["field"]] == [
        ("date", "sc:Date"),
        ("usd", "sc:Float"),
        ("note", "sc:Text"),
    ]
    assert rows["field"][0]["source"] == {
        "fileSet": {"@id": "parquet-shards"},
        "extract": {"column": "date"},
    }
    assert rows["key"] == [{"@id": "euro-fx-rates/date"}]
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert "OpenData dataset ecb/euro-fx-rates" in doc["citeAs"]


def test_a_one_shard_croissant_reads_its_file(portal: Portal) -> None:
    doc = portal(routes(1)).get("/ecb/euro-fx-rates/croissant.json").json()
    assert [d["@type"] for d in doc["distribution"]] == ["cr:FileObject"]
    assert doc["recordSet"][0]["field"][1]["source"]["fileObject"] == {"@id": "parquet-2023"}


def test_shard_links_redirect_to_fresh_signed_urls(portal: Portal) -> None:
    client = portal(routes())
    r = client.get(f"/ecb/euro-fx-rates/-/parts/{SHAS[1]}.parquet", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == f"http://store.test/{SHAS[1]}?sig=x"
    assert r.headers["cache-control"] == "no-store"
    gone = client.get(f"/ecb/euro-fx-rates/-/parts/{'c' * 64}.parquet", follow_redirects=False)
    assert gone.status_code == 404 and "croissant.json" in gone.text
    # Several shards: the whole-dataset link goes to the page that lists them; one: to the file.
    many = client.get("/ecb/euro-fx-rates/-/download.parquet", follow_redirects=False)
    assert many.status_code == 302 and many.headers["location"] == "/ecb/euro-fx-rates/download"
    one = portal(routes(1)).get("/ecb/euro-fx-rates/-/download.parquet", follow_redirects=False)
    assert one.headers["location"] == f"http://store.test/{SHAS[0]}?sig=x"


def test_the_page_embeds_dataset_jsonld_that_cannot_close_its_script(portal: Portal) -> None:
    detail = samples.detail()
    meta = msgspec.structs.replace(
        detail.metadata.dataset, title="</script><script>alert(1)</script> & <!-- x"
    )
    hostile = msgspec.structs.replace(
        detail, metadata=msgspec.structs.replace(detail.metadata, dataset=meta)
    )
    html = (
        portal(routes(**{"/v1/datasets/ecb/euro-fx-rates": hostile})).get("/ecb/euro-fx-rates").text
    )
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(blocks) == 1 and "<" not in blocks[0] and "&" not in blocks[0]
    doc = json.loads(blocks[0])
    assert doc["name"] == meta.title and doc["@type"] == "Dataset"
    assert doc["temporalCoverage"] == "1999-01-04/2025-06-30"


def _hits(n: int) -> list[DatasetHit]:
    return [DatasetHit(dataset=samples.entry(f"ns{i}/data")) for i in range(n)]


@pytest.mark.parametrize(
    ("page", "links"), [("1", {"next"}), ("2", {"previous", "next"}), ("3", {"previous"})]
)
def test_catalogue_pages_link_with_hydra(portal: Portal, page: str, links: set[str]) -> None:
    def search(request: httpx.Request) -> Any:
        assert request.url.params["per_page"] == "100" and request.url.params["sort"] == "name"
        return samples.search_results(
            _hits(3), total=250, per_page=100, page=int(request.url.params["page"])
        )

    body = portal({"/v1/datasets": search}).get(f"/catalog.jsonld?page={page}").json()
    (view,) = [n for n in body["@graph"] if n["@type"] == "hydra:PartialCollectionView"]
    assert view["@id"] == f"http://testserver.local/catalog.jsonld?page={page}"
    assert view["hydra:last"] == {"@id": "http://testserver.local/catalog.jsonld?page=3"}
    assert {k.removeprefix("hydra:") for k in view} & {"next", "previous"} == links
    assert view["hydra:totalItems"]["@value"] == "250"


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_hostile_text_stays_inside_its_literal_in_both_formats(portal: Portal) -> None:
    hostile = samples.entry(
        "evil/data",
        title='Quote " and newline\n> and "" triple """ end',
        description="back\\slash\t@en ; . ]",
        topics=['a"b', "c\nd"],
        license="Custom licence <x>",
        frequency="fortnightly",
    )
    client = portal({"/v1/datasets": samples.search_results([DatasetHit(dataset=hostile)])})
    jsonld = _graph(client.get("/catalog.jsonld").text, "json-ld")
    turtle = _graph(client.get("/catalog.ttl").text, "turtle")
    from rdflib import Literal, Namespace, URIRef
    from rdflib.compare import isomorphic

    assert isomorphic(jsonld, turtle)
    dct = Namespace("http://purl.org/dc/terms/")
    dataset = URIRef("http://testserver.local/evil/data#dataset")
    assert turtle.value(dataset, dct.title) == Literal(hostile.title, lang="en")
    assert turtle.value(dataset, dct.description) == Literal(hostile.description, lang="en")
    conforms, report = dcat_ap_report(turtle)
    assert conforms, report


def test_sitemap_index_pages_and_robots(portal: Portal) -> None:
    def search(request: httpx.Request) -> Any:
        page = int(request.url.params["page"])
        return samples.search_results(_hits(2), total=2500, per_page=1000, page=page)

    client = portal({"/v1/datasets": search})
    index = client.get("/sitemap.xml")
    assert index.headers["content-type"].startswith("application/xml")
    assert re.findall(r"<loc>([^<]+)</loc>", index.text) == [
        f"http://testserver.local/sitemap.xml?page={n}" for n in (1, 2, 3)
    ]
    first = re.findall(r"<loc>([^<]+)</loc>", client.get("/sitemap.xml?page=1").text)
    assert first == [
        "http://testserver.local/",
        "http://testserver.local/ns0/data",
        "http://testserver.local/ns1/data",
    ]
    assert "<lastmod>" in client.get("/sitemap.xml?page=2").text
    assert client.get("/sitemap.xml?page=4").status_code == 404
    robots = client.get("/robots.txt").text
    assert "Sitemap: http://testserver.local/sitemap.xml" in robots and "Allow: /" in robots


def test_public_url_setting_names_the_links() -> None:
    from litestar.testing import TestClient

    from opendata_portal.app import create_app
    from opendata_portal.settings import Settings

    settings = Settings(registry_url="http://registry.test", public_url="https://data.example.org")
    with TestClient(create_app(settings, transport=samples.transport(routes()))) as client:
        assert "Sitemap: https://data.example.org/sitemap.xml" in client.get("/robots.txt").text
        doc = client.get("/ecb/euro-fx-rates/croissant.json").json()
        assert doc["url"] == "https://data.example.org/ecb/euro-fx-rates"


@pytest.mark.parametrize(
    "path", ["/catalog.jsonld?page=0", "/catalog.ttl?page=x", "/sitemap.xml?page=-1"]
)
def test_bad_page_numbers_are_named(portal: Portal, path: str) -> None:
    r = portal().get(path)
    assert r.status_code == 400 and "page=" in r.text


def test_download_page_links_the_signed_files_and_keeps_the_form(portal: Portal) -> None:
    seen: list[httpx.Request] = []
    html = portal(routes(), seen=seen).get("/ecb/euro-fx-rates/download?start=2024").text
    assert f'href="http://store.test/{SHAS[1]}?sig=x"' in html and "2 files" in html
    asked = [msgspec.json.decode(r.content) for r in seen if r.url.path.endswith("/download")]
    assert asked == [
        {"start": "2024", "end": None, "columns": None, "version": None, "as_of": None}
    ]
    assert 'id="start"' in html and 'value="2024"' in html
    assert "od get ecb/euro-fx-rates --start 2024 -o euro-fx-rates.csv" in html


def test_download_page_says_why_a_range_has_no_files(portal: Portal) -> None:
    from opendata_core.problems import ProblemDetails

    bad = ProblemDetails(code="invalid_time_range", message="start='x' is not a date", status=422)
    r = portal(routes(**{"/v1/datasets/ecb/euro-fx-rates/download": bad})).get(
        "/ecb/euro-fx-rates/download?start=x"
    )
    assert r.status_code == 400 and "start=&#39;x&#39; is not a date" in r.text
    assert 'id="start"' in r.text


def test_several_shards_read_the_registrys_one_file_export(portal: Portal) -> None:
    doc = portal(routes(exports=True)).get("/ecb/euro-fx-rates/croissant.json").json()
    (rows,) = [d for d in doc["distribution"] if d["@id"] == "parquet-rows"]
    publish_id = "0002" + "f" * 28
    assert rows["contentUrl"] == (
        f"http://testserver.local/ecb/euro-fx-rates/-/export.parquet?version={publish_id}"
    )
    assert "sha256" not in rows and doc["isLiveDataset"] is True  # made on demand: no checksum
    assert doc["recordSet"][0]["field"][0]["source"] == {
        "fileObject": {"@id": "parquet-rows"},
        "extract": {"column": "date"},
    }
    # Past the registry's export bound: the shards' FileSet, as before.
    past = portal(routes(refused="too big")).get("/ecb/euro-fx-rates/croissant.json").json()
    assert "isLiveDataset" not in past
    assert past["recordSet"][0]["field"][0]["source"]["fileSet"] == {"@id": "parquet-shards"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_links_redirect_to_the_registrys_signed_file(portal: Portal, fmt: str) -> None:
    seen: list[httpx.Request] = []
    client = portal(routes(exports=True), seen=seen)
    r = client.get(
        f"/ecb/euro-fx-rates/-/export.{fmt}?start=2024&version=0002ff", follow_redirects=False
    )
    assert r.status_code == 302 and r.headers["location"] == EXPORTS[fmt]
    assert r.headers["cache-control"] == "no-store"
    (asked,) = [msgspec.json.decode(q.content) for q in seen if q.url.path.endswith("/download")]
    assert (asked["start"], asked["end"], asked["version"]) == ("2024", None, "0002ff")


def test_past_the_export_bound_the_download_page_says_why(portal: Portal) -> None:
    client = portal(routes(refused="the rows asked for are 300.0 MB of Parquet, more than 64.0 MB"))
    r = client.get("/ecb/euro-fx-rates/-/export.csv?start=2020", follow_redirects=False)
    assert (
        r.status_code == 302 and r.headers["location"] == "/ecb/euro-fx-rates/download?start=2020"
    )
    html = client.get("/ecb/euro-fx-rates/download?start=2020").text
    assert "No single file for this range:" in html and "300.0 MB of Parquet" in html
    assert 'id="exports"' not in html and "2 files" in html  # the Parquet files stay


def test_download_page_links_the_csv_and_one_parquet_file(portal: Portal) -> None:
    html = portal(routes(exports=True)).get("/ecb/euro-fx-rates/download?start=2024").text
    assert f'href="{EXPORTS["csv"]}"' in html and f'href="{EXPORTS["parquet"]}"' in html
    assert "CSV of this range" in html and "starts with <code>'</code>" in html
    page = portal(routes(exports=True)).get("/ecb/euro-fx-rates").text
    assert 'href="/ecb/euro-fx-rates/-/export.csv"' in page
