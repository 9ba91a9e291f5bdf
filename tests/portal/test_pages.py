"""The portal's pages rendered from registry answers (core Structs), in-process."""

from __future__ import annotations

import re
from typing import Any

import httpx
import msgspec
import pytest

from opendata_core.api import DatasetHit, HealthSummary
from opendata_core.problems import ProblemDetails
from tests.portal import samples
from tests.portal.conftest import Portal
from tests.portal.xss import PAYLOADS


def test_search_page_shows_cards_facets_and_json_twin(portal: Portal) -> None:
    seen: list[httpx.Request] = []
    r = portal(seen=seen).get("/", params={"q": "rates", "topic": "finance"})
    assert r.status_code == 200
    html = r.text
    assert "<code>ecb/euro-fx-rates</code>" in html
    assert "Euro foreign exchange reference rates" in html
    assert "<mark>rates</mark>" in html  # the match is highlighted in the snippet
    assert "1999-01-04 → 2025-06-30" in html and "6,789" in html and "123.5 kB" in html
    assert "3 h ago" in html and "healthy" in html
    # the chip removes the topic and keeps the keyword
    assert 'href="/?q=rates"' in html and "Remove filter topic: finance" in html
    # the registry was asked exactly what the URL says
    params = dict(seen[0].url.params)
    assert params == {"q": "rates", "topic": "finance", "page": "1", "per_page": "20"}
    assert (
        'href="http://registry.test/v1/datasets?q=rates&amp;topic=finance&amp;page=1&amp;per_page=20"'
        in html
    )


def test_facet_links_toggle_one_filter_and_reset_the_page(portal: Portal) -> None:
    html = portal().get("/", params={"q": "x", "page": "3", "license": "CC-BY-4.0"}).text
    assert 'href="/?q=x&amp;license=CC-BY-4.0&amp;frequency=daily"' in html
    # the selected licence links to its removal
    assert re.search(r'href="/\?q=x" class="selected" aria-current="true"', html)


def test_empty_state_names_the_search_and_the_filters_to_remove(portal: Portal) -> None:
    routes = samples.default_routes()
    routes["/v1/datasets"] = lambda req: (
        samples.search_results([], total=0) if req.url.params.get("q") else samples.search_results()
    )
    html = portal(routes).get("/", params={"q": "zzz", "topic": "finance"}).text
    assert "No dataset matches" in html and "zzz" in html
    assert "Remove topic: finance" in html
    assert "Recently updated datasets" in html and "ecb/euro-fx-rates" in html


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"sort": "popular"}, "sort", "choose one of relevance, updated, name"),
        ({"page": "0"}, "page", "whole number from 1 to 10000"),
        ({"page": "abc"}, "page", "whole number"),
        ({"updated_since": "yesterday"}, "updated_since", "YYYY, YYYY-MM or YYYY-MM-DD"),
        ({"covers_from": "2024-02-30"}, "covers_from", "not a real calendar date"),
        (
            {"covers_from": "2024", "covers_to": "2023-06"},
            "covers_to",
            "must not be before covers_from",
        ),
    ],
)
def test_bad_search_parameters_get_a_400_naming_them_once_and_keep_the_form(
    portal: Portal, params: dict[str, str], field: str, text: str
) -> None:
    client = portal()
    r = client.get("/", params={"q": "rates", **params})
    assert r.status_code == 400
    # Said once (the form's own labels may already use the same words).
    assert f"{field}=" in r.text
    assert r.text.count(text) == client.get("/", params={"q": "rates"}).text.count(text) + 1
    # The form and the rest of the search stay; the bad value is left out of it.
    assert 'id="q"' in r.text and 'value="rates"' in r.text and "ecb/euro-fx-rates" in r.text


def test_covers_range_within_one_year_is_accepted(portal: Portal) -> None:
    assert (
        portal().get("/", params={"covers_from": "2020-06", "covers_to": "2020"}).status_code == 200
    )


def test_dataset_page_has_everything(portal: Portal) -> None:
    r = portal().get("/ecb/euro-fx-rates")
    assert r.status_code == 200
    html = r.text
    assert "<h1>Euro foreign exchange reference rates</h1>" in html
    assert "<h3>Rates</h3>" in html and "<strong>world</strong>" in html  # README, demoted headings
    assert 'href="https://spdx.org/licenses/CC-BY-4.0.html"' in html
    assert "od.load(&#34;ecb/euro-fx-rates&#34;)" in html
    assert "od get ecb/euro-fx-rates -o euro-fx-rates.csv" in html
    assert "123.5 kB" in html and "6,789" in html
    assert "1999-01-04 → 2025-06-30" in html
    assert (
        'href="https://github.com/ecb/opendata-euro-fx-rates/commit/0123456789abcdef0123456789abcdef01234567"'
        in html
    )
    assert 'href="https://github.com/ecb/opendata-euro-fx-rates/actions/runs/42"' in html
    assert 'href="https://www.ecb.europa.eu/"' in html and "European Central Bank" in html
    # preview: nulls muted, numbers right-aligned, cell text escaped
    assert '<td class="null" data-sort="">null</td>' in html
    # One column, one number of decimals: 1.1789 next to 1.1790, not 1.179.
    assert '<td class="num" data-sort="1.1789">1.1789</td>' in html
    assert '<td class="num" data-sort="1.179">1.1790</td>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    # schema with null counts
    assert "<code>note</code>" in html and '<code class="type">date32[day]</code>' in html
    # health: success rate, run squares with their error class
    assert "90%</strong> of the last 10 runs" in html
    assert "failure (network)" in html
    assert '<img src="/ecb/euro-fx-rates/history.svg"' in html
    assert 'href="http://registry.test/v1/datasets/ecb/euro-fx-rates"' in html


def _with_provenance(**fields: Any) -> dict[str, Any]:
    """Routes whose dataset's last publish carries the given provenance."""
    from opendata_core.documents import Provenance

    routes = samples.default_routes()
    d = routes["/v1/datasets/ecb/euro-fx-rates"]
    man = msgspec.structs.replace(d.manifest, provenance=Provenance(**fields))
    routes["/v1/datasets/ecb/euro-fx-rates"] = msgspec.structs.replace(d, manifest=man)
    return routes


def _repository_row(html: str) -> str:
    start = html.index('<dd id="repository">')
    return html[start : html.index("</dd>", start)]


def test_dataset_page_marks_a_verified_repository(portal: Portal) -> None:
    repo = "https://github.com/ecb/opendata-euro-fx-rates"
    routes = _with_provenance(
        repo=repo, commit="c" * 40, run_url=f"{repo}/actions/runs/7", verified_by="github-oidc"
    )
    row = _repository_row(portal(routes).get("/ecb/euro-fx-rates").text)
    assert f'<a href="{repo}" rel="noopener">github.com/ecb/opendata-euro-fx-rates</a>' in row
    assert 'class="badge badge-verified"' in row and "not verified" not in row


def test_dataset_page_marks_a_token_publish_as_not_verified(portal: Portal) -> None:
    # A producer-token publish: the registry records no provenance; the yaml's repo is a claim.
    html = portal(_with_provenance()).get("/ecb/euro-fx-rates").text
    row = _repository_row(html)
    assert 'class="badge badge-unverified">not verified</span>' in row
    assert "stated by the publisher" in row and "badge-verified" not in row
    assert 'rel="noopener nofollow"' in row
    assert "no commit or CI run recorded" in html


def test_dataset_page_never_shows_an_unverified_provenance_repo_as_the_repository(
    portal: Portal,
) -> None:
    # An unverified provenance naming someone else's repository (what a producer token could
    # write before): neither shown as the repository nor used to link the commit.
    routes = _with_provenance(repo="https://github.com/victim/project", commit="d" * 40)
    html = portal(routes).get("/ecb/euro-fx-rates").text
    row = _repository_row(html)
    assert "badge-unverified" in row and "victim" not in row
    assert 'href="https://github.com/victim/project/commit/' + "d" * 40 + '" rel="nofollow"' in html
    assert "(stated by the publisher, not verified)" in html


def test_verified_by_without_a_repository_is_not_verified(portal: Portal) -> None:
    html = portal(_with_provenance(verified_by="github-oidc")).get("/ecb/euro-fx-rates").text
    assert "badge-unverified" in _repository_row(html)


def test_dataset_page_failure_and_stale_badges(portal: Portal) -> None:
    routes = samples.default_routes()
    routes["/v1/datasets/ecb/euro-fx-rates"] = samples.detail(
        status="stale",
        stale=True,
        stale_reason="last run 63 days ago",
        last_failure_class="parse",
        last_failure_message="unexpected column 'USD '",
    )
    html = portal(routes).get("/ecb/euro-fx-rates").text
    assert 'class="badge badge-stale">stale</span>' in html and "last run 63 days ago" in html
    assert "(<code>parse</code>): unexpected column &#39;USD &#39;" in html


def test_dataset_page_survives_a_missing_history(portal: Portal) -> None:
    routes = samples.default_routes()
    del routes["/v1/datasets/ecb/euro-fx-rates/history"]
    r = portal(routes).get("/ecb/euro-fx-rates")
    assert r.status_code == 200 and "The history could not be loaded" in r.text


def test_unknown_dataset_is_a_404_with_close_matches(portal: Portal) -> None:
    routes = samples.default_routes()
    routes["/v1/datasets/ecb/fx"] = ProblemDetails(
        code="dataset_not_found",
        message="no dataset 'ecb/fx'",
        status=404,
        details={"dataset_id": "ecb/fx", "close_matches": ["ecb/euro-fx-rates"]},
    )
    r = portal(routes).get("/ecb/fx")
    assert r.status_code == 404
    assert "No dataset &#39;ecb/fx&#39;" in r.text and 'href="/ecb/euro-fx-rates"' in r.text
    # The search box stays, with the missing id's words in it.
    assert re.search(r'<input id="q" name="q" type="search" value="ecb fx"', r.text)


def test_unknown_dataset_without_close_matches_suggests_what_a_search_finds(
    portal: Portal,
) -> None:
    seen: list[httpx.Request] = []
    routes = samples.default_routes()
    routes["/v1/datasets/ecb/exchange-rates"] = ProblemDetails(
        code="dataset_not_found",
        message="no dataset",
        status=404,
        details={"dataset_id": "ecb/exchange-rates", "close_matches": []},
    )
    r = portal(routes, seen=seen).get("/ecb/exchange-rates")
    assert r.status_code == 404 and 'href="/ecb/euro-fx-rates"' in r.text
    searched = [q.url.params.get("q") for q in seen if q.url.path == "/v1/datasets"]
    assert searched == ["ecb exchange rates"]


def test_unknown_publisher_is_a_404_suggesting_close_namespaces(portal: Portal) -> None:
    def search(request: httpx.Request) -> Any:
        if request.url.params.get("namespace"):
            return samples.search_results([], total=0)
        return samples.search_results()

    r = portal({"/v1/datasets": search}).get("/ecbb")
    assert r.status_code == 404 and "Publisher not found" in r.text
    assert 'href="/ecb"' in r.text and 'value="ecbb"' in r.text


def test_upper_case_ids_redirect_to_the_canonical_page(portal: Portal) -> None:
    r = portal().get("/ECB/Euro-FX-Rates", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/ecb/euro-fx-rates"


def test_invalid_ids_are_404_naming_the_rule(portal: Portal) -> None:
    r = portal().get("/-bad/x")
    assert r.status_code == 404
    assert "must not start or end with a hyphen" in r.text


@pytest.mark.parametrize(
    ("failure", "status", "text"),
    [
        (httpx.ConnectError("refused"), 503, "did not answer: ConnectError"),
        (httpx.ReadTimeout("slow"), 503, "did not answer: timed out"),
        (b"not json", 502, "is not a valid SearchResults"),
        (
            ProblemDetails(
                code="rate_limited", message="slow down", status=429, details={"retry_after": 7}
            ),
            503,
            "slow down",
        ),
    ],
)
def test_registry_failures_become_clear_error_pages(
    portal: Portal, failure: object, status: int, text: str
) -> None:
    r = portal({"/v1/datasets": failure}).get("/")
    assert r.status_code == status
    assert text in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'none'")


def test_publisher_page_lists_datasets_with_health(portal: Portal) -> None:
    seen: list[httpx.Request] = []
    hits = [
        DatasetHit(
            dataset=samples.entry("ecb/a"),
            health=HealthSummary(status="failing", last_failure_class="network"),
        ),
        DatasetHit(
            dataset=samples.entry("ecb/b"), health=HealthSummary(status="ok", success_rate=1.0)
        ),
    ]
    routes = {"/v1/datasets": samples.search_results(hits)}
    html = portal(routes, seen).get("/ecb", params={"namespace": "other"}).text
    assert seen[0].url.params["namespace"] == "ecb"  # the path decides the namespace
    assert "failing" in html and "last failure: network" in html and "100%" in html
    assert 'href="/ecb/a"' in html and 'href="/ecb/b"' in html


def test_publisher_without_datasets_is_404(portal: Portal) -> None:
    r = portal({"/v1/datasets": samples.search_results([], total=0)}).get("/nobody")
    assert r.status_code == 404 and "no datasets are published under" in r.text


def test_publish_guide_walks_init_run_deploy(portal: Portal) -> None:
    html = portal().get("/-/publish").text
    assert html.index("od init") < html.index("od run") < html.index("od deploy")


def test_history_chart_is_pygal_svg_without_script(portal: Portal) -> None:
    r = portal().get("/ecb/euro-fx-rates/history.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert b"pygal" in r.content and b"<script" not in r.content
    assert b"schema changed" in r.content and b"3,000" in r.content
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none' covers it


@pytest.mark.parametrize(
    "path",
    ["/", "/ecb", "/ecb/euro-fx-rates", "/-/publish", "/-/static/portal.css", "/no/such/page/here"],
)
def test_security_headers_on_every_response(portal: Portal, path: str) -> None:
    r = portal().get(path)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    # Images from the portal itself only: no host of a producer's choosing learns who visits.
    assert "img-src 'self' data:;" in csp and "https:" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_pages_have_no_inline_script_or_style(portal: Portal) -> None:
    for path in ["/", "/ecb", "/ecb/euro-fx-rates", "/-/publish"]:
        html = portal().get(path).text
        # Only data blocks (JSON-LD), which the browser never runs, may be inline.
        assert not re.search(r'<script(?![^>]*\b(?:src=|type="application/ld\+json"))', html), path
        assert "<style" not in html and " style=" not in html, path


def test_static_assets_are_served_by_the_portal(portal: Portal) -> None:
    html = portal().get("/").text
    assets = re.findall(r'(?:src|href)="(/-/static/[^"]+)"', html)
    assert {a.split("?")[0] for a in assets} == {
        "/-/static/portal.css",
        "/-/static/portal.js",
        "/-/static/favicon.svg",
    }
    client = portal()
    for asset in assets:
        assert client.get(asset).status_code == 200
    assert not re.search(r'(?:src|href)="(?:https?:)?//[^"]*\.(?:js|css)', html)


def test_healthz(portal: Portal) -> None:
    assert portal({}).get("/-/healthz").json() == {"status": "ok"}


def test_registry_receives_the_api_key() -> None:
    from litestar.testing import TestClient

    from opendata_portal.app import create_app
    from opendata_portal.settings import Settings

    seen: list[httpx.Request] = []
    settings = Settings(
        registry_url="http://r.test", public_registry_url="http://r.test", api_key="od_live_x"
    )
    with TestClient(
        create_app(settings, transport=samples.transport(samples.default_routes(), seen=seen))
    ) as c:
        c.get("/")
    assert seen[0].headers["authorization"] == "Bearer od_live_x"
    assert msgspec.json.decode(b"{}") == {}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_readme_payloads_render_inert(portal: Portal, name: str) -> None:
    routes = samples.default_routes()
    routes["/v1/datasets/ecb/euro-fx-rates"] = samples.detail(readme=PAYLOADS[name])
    html = portal(routes).get("/ecb/euro-fx-rates").text
    readme = html.split('<div class="readme">', 1)[1].split("</section>", 1)[0]
    tags = {t.lower() for t in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9-]*)", readme)}
    assert not tags & {
        "script",
        "svg",
        "iframe",
        "style",
        "form",
        "meta",
        "object",
        "embed",
        "input",
        "button",
    }, readme
    assert not re.search(r"<[^>]*\s(on[a-z]+|style)\s*=", readme, re.IGNORECASE), readme
    for url in re.findall(r'(?:href|src|action|formaction)\s*=\s*"([^"]*)"', readme):
        assert url.startswith(("http://", "https://", "mailto:")) or ":" not in url, (url, readme)


def test_pages_report_server_timing(portal: Portal) -> None:
    timing = portal().get("/ecb/euro-fx-rates").headers["server-timing"]
    match = re.fullmatch(r'app;dur=([\d.]+), registry;dur=([\d.]+);desc="3 calls"', timing)
    assert match and float(match[1]) >= float(match[2]) > 0


def _with_meta(**changes: Any) -> Any:
    detail = samples.detail(readme=changes.pop("readme", "# Rates\n\nHello."))
    meta = msgspec.structs.replace(detail.metadata.dataset, **changes)
    return msgspec.structs.replace(
        detail, metadata=msgspec.structs.replace(detail.metadata, dataset=meta)
    )


def test_the_description_is_shown_once(portal: Portal) -> None:
    text = "Daily reference rates of the euro against 30 currencies, from the ECB."
    in_readme = _with_meta(readme=f"# Rates\n\n{text}\n")
    routes = {**samples.default_routes(), "/v1/datasets/ecb/euro-fx-rates": in_readme}
    main = portal(routes).get("/ecb/euro-fx-rates").text.split("<main")[1]
    assert main.count(text) == 1
    # A README that does not say it: the header does.
    html = portal().get("/ecb/euro-fx-rates").text
    assert f'<p class="lede">{text}</p>' in html


def test_code_spans_in_titles_are_code_not_backticks(portal: Portal) -> None:
    detail = _with_meta(title="Rates of `EUR/USD` <b>", description="From the `fx` feed.")
    html = (
        portal({**samples.default_routes(), "/v1/datasets/ecb/euro-fx-rates": detail})
        .get("/ecb/euro-fx-rates")
        .text
    )
    assert "<h1>Rates of <code>EUR/USD</code> &lt;b&gt;</h1>" in html
    assert (
        "From the <code>fx</code> feed." in html
        and "`" not in html.split("<main")[1].split('class="ds-layout"')[0]
    )


def test_readme_urls_become_links(portal: Portal) -> None:
    detail = samples.detail(
        readme="Source: https://www.ecb.europa.eu/stats and javascript:alert(1)"
    )
    html = (
        portal({**samples.default_routes(), "/v1/datasets/ecb/euro-fx-rates": detail})
        .get("/ecb/euro-fx-rates")
        .text
    )
    assert (
        '<a href="https://www.ecb.europa.eu/stats" rel="noopener noreferrer nofollow ugc">' in html
    )
    assert 'href="javascript' not in html


@pytest.mark.parametrize(
    ("runs", "rate", "text"),
    [
        (1, 1.0, "the last run succeeded"),
        (1, 0.0, "the last run failed"),
        (4, 0.75, "75%</strong> of the last 4 runs"),
    ],
)
def test_run_health_grammar(portal: Portal, runs: int, rate: float, text: str) -> None:
    detail = samples.detail(runs_considered=runs, success_rate=rate)
    html = (
        portal({**samples.default_routes(), "/v1/datasets/ecb/euro-fx-rates": detail})
        .get("/ecb/euro-fx-rates")
        .text
    )
    assert text in html and "of the last 1 runs" not in html


def test_one_publish_is_singular(portal: Portal) -> None:
    routes = {
        **samples.default_routes(),
        "/v1/datasets/ecb/euro-fx-rates/history": samples.history(1),
    }
    html = portal(routes).get("/ecb/euro-fx-rates").text
    assert "(1 publish)" in html and "1 publishes" not in html


def test_one_sort_option_per_meaning(portal: Portal) -> None:
    html = portal().get("/").text
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', html)
    assert options == [("", "Best match"), ("updated", "Recently updated"), ("name", "Name")]
    # Old links with sort=relevance still work, as the default.
    seen: list[httpx.Request] = []
    assert portal(seen=seen).get("/?sort=relevance").status_code == 200
    assert "sort" not in seen[0].url.params


def test_home_page_says_what_opendata_is_and_search_pages_do_not(portal: Portal) -> None:
    assert 'class="intro"' in portal().get("/").text
    assert 'class="intro"' not in portal().get("/?q=rates").text


def test_every_other_page_has_a_search_box_in_its_header(portal: Portal) -> None:
    for path in ["/ecb", "/ecb/euro-fx-rates", "/-/publish"]:
        assert 'id="site-q"' in portal().get(path).text, path
    assert 'id="site-q"' not in portal().get("/").text


def test_schema_table_shows_column_statistics_as_inline_svg(portal: Portal) -> None:
    from opendata_core.profile import ColumnProfile, Histogram, Periods, Profile, ValueCount

    detail = samples.detail()
    profile = Profile(
        publish_id=detail.manifest.publish_id,
        row_count=100,
        columns=[
            ColumnProfile(
                name="date",
                type="date32[day]",
                kind="date",
                distinct=100,
                min="1999-01-04",
                max="2025-06-30",
                histogram=Histogram(
                    edges=["1999-01-04", "2012-01-01", "2025-06-30"], counts=[50, 50]
                ),
            ),
            ColumnProfile(
                name="usd",
                type="double",
                kind="float",
                nulls=3,
                distinct=90,
                distinct_exact=False,
                min=0.8,
                max=1.6,
                mean=1.1,
                std=0.1,
                histogram=Histogram(edges=[0.8, 1.2, 1.6], counts=[80, 17]),
            ),
            ColumnProfile(
                name="note",
                type="string",
                kind="text",
                nulls=98,
                distinct=2,
                top=[ValueCount("<script>", 1), ValueCount("b", 1)],
            ),
        ],
        time=Periods(unit="year", counts=[ValueCount("1999", 40), ValueCount("2000", 60)]),
    )
    with_stats = msgspec.structs.replace(
        detail, metadata=msgspec.structs.replace(detail.metadata, profile=profile)
    )
    html = (
        portal({**samples.default_routes(), "/v1/datasets/ecb/euro-fx-rates": with_stats})
        .get("/ecb/euro-fx-rates")
        .text
    )
    table = html.split('id="schema-table"')[1].split("</table>")[0]
    rows = table.split("<tr>")[2:]
    assert len(rows) == 3
    # The time column shows rows per year; numbers a histogram; text its top values.
    assert 'class="bars periods"' in rows[0] and "<title>2000: 60 rows</title>" in rows[0]
    assert 'class="bars histogram"' in rows[1] and "~90" in rows[1] and "3 (3%)" in rows[1]
    assert "mean 1.1 ± 0.1" in rows[1] and rows[1].count("<rect") == 2
    assert 'class="bars top"' in rows[2] and "&lt;script&gt;: 1 rows" in rows[2]
    assert 'aria-label="Rows per year, 1999 to 2000: 40 to 60"' in rows[0]
    assert "<script>" not in table and "style=" not in table
    # The tallest bar fills the chart; the others scale with it.
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', rows[1])]
    assert heights[0] == 22.0 and 4 < heights[1] < 5


def test_without_statistics_the_schema_table_says_so(portal: Portal) -> None:
    html = portal().get("/ecb/euro-fx-rates").text
    assert "No column statistics" in html and "<svg" not in html.split('id="schema-table"')[1]


def _cited(page: str, style: str) -> str:
    import html as html_lib

    found = re.search(rf'<code id="cite-{style}">(.*?)</code>', page, re.S)
    assert found, style
    return html_lib.unescape(found[1])


@pytest.mark.parametrize("style", ["apa", "bibtex", "cff"])
def test_citation_block_is_cores_citation_of_the_current_version(
    portal: Portal, style: Any
) -> None:
    from opendata_core.versions import citation

    detail = samples.detail()
    man = detail.manifest
    url = f"http://registry.test/v1/datasets/ecb/euro-fx-rates/versions/{man.publish_id}"
    page = portal().get("/ecb/euro-fx-rates").text
    assert _cited(page, style) == citation(detail.metadata.dataset, man, url, style=style)
    assert 'aria-label="Copy the BibTeX code"' in page
    # APA in view, the longer two folded (on a phone the panel comes before the README).
    assert "<summary>BibTeX and CITATION.cff</summary>" in page
    assert (
        page.index('id="cite-apa"') < page.index('class="cite-more"') < page.index('id="cite-cff"')
    )
    # Each row of the history cites its version on the citation page.
    for p in samples.history().publishes:
        assert f'href="/ecb/euro-fx-rates/cite?version={p.publish_id}"' in page


@pytest.mark.parametrize("asked", ["0000ffffffff", "0000" + "f" * 28])
def test_cite_page_cites_an_earlier_version(portal: Portal, asked: str) -> None:
    from opendata_core.versions import citation

    old = samples.publish(0, rows=1000)
    url = f"http://registry.test/v1/datasets/ecb/euro-fx-rates/versions/{old.publish_id}"
    r = portal().get("/ecb/euro-fx-rates/cite", params={"version": asked})
    assert r.status_code == 200
    meta = samples.detail().metadata.dataset
    for style in ("apa", "bibtex", "cff"):
        assert _cited(r.text, style) == citation(meta, old, url, style=style)  # type: ignore[arg-type]
    assert f'href="{url}"' in r.text
    # The other kept versions link to their own citations; this one is marked current.
    assert 'aria-current="true"><td>' in r.text
    assert r.text.count("/ecb/euro-fx-rates/cite?version=") == 2


@pytest.mark.parametrize(
    ("asked", "words"),
    [
        ("0009ffff", "is not a version of this dataset"),
        ("000", "too short"),
        ("0000", "too short"),
    ],
)
def test_cite_page_names_a_version_it_cannot_cite(portal: Portal, asked: str, words: str) -> None:
    r = portal().get("/ecb/euro-fx-rates/cite", params={"version": asked})
    assert r.status_code == 404 and words in r.text, r.text[-2000:]
    assert "od versions ecb/euro-fx-rates" in r.text


def test_cite_page_without_a_version_cites_the_current_one(portal: Portal) -> None:
    r = portal().get("/ecb/euro-fx-rates/cite")
    current = samples.detail().manifest.publish_id
    assert r.status_code == 200 and "(the current version)" in r.text
    assert f"/versions/{current}" in _cited(r.text, "apa")


def test_a_publishs_blocks_are_rendered_once(portal: Portal) -> None:
    import msgspec

    routes = samples.default_routes()
    client = portal(routes)
    blocks = client.app.state.blocks
    first = client.get("/ecb/euro-fx-rates").text
    assert client.get("/ecb/euro-fx-rates").text == first
    assert (blocks.misses, blocks.hits) == (1, 1)
    # A new publish (or a new README) renders them again, with the new content.
    detail = samples.detail(readme="# Rates\n\nNow with **more**.")
    routes["/v1/datasets/ecb/euro-fx-rates"] = msgspec.structs.replace(
        detail, manifest=samples.publish(3)
    )
    assert "<strong>more</strong>" in client.get("/ecb/euro-fx-rates").text
    assert (blocks.misses, blocks.hits) == (2, 1)
