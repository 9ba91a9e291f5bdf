"""Trust and lifecycle on the portal's pages (issue 24, issue 25 §6), from registry answers.

Badges carry core's label, their meaning on hover and focus (an accessible description) and a
link to the definitions page; a deprecated dataset has a banner with its successor; a moved id's
pages answer 301 to the new id's same page; a withdrawn dataset is a 410 tombstone with reason,
date and citation; search has a trust facet. The browser tests are in test_e2e_lifecycle.py.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest

from opendata_core.api import DatasetHit, FacetCount, HealthSummary
from opendata_core.errors import DatasetMoved, DatasetWithdrawn
from opendata_core.lifecycle import (
    REASON_TERMS,
    STATUS_TERMS,
    TRUST_TERMS,
    Lifecycle,
    LifecycleEvent,
    Trust,
)
from opendata_core.problems import problem_from_error
from tests.portal import samples
from tests.portal.conftest import Portal

WHEN = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def with_lifecycle(doc: Lifecycle, dataset_id: str = "ecb/euro-fx-rates") -> Any:
    return msgspec.structs.replace(samples.detail(dataset_id), lifecycle=doc)


def routes_with(doc: Lifecycle) -> dict[str, Any]:
    routes = samples.default_routes()
    routes["/v1/datasets/ecb/euro-fx-rates"] = with_lifecycle(doc)
    return routes


def text(html: str) -> str:
    """The page's words as a reader sees them (tags dropped, spaces before punctuation too)."""
    words = html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))
    return re.sub(r" ([.,:])", r"\1", words)


def test_the_dataset_page_shows_the_trust_badge_with_its_meaning_and_the_move(
    portal: Portal,
) -> None:
    doc = Lifecycle(
        dataset_id="ecb/euro-fx-rates",
        trust=Trust(level="verified-source", granted_by="alice", granted_at=WHEN),
        previous_ids=["ecb/fx"],
        events=[LifecycleEvent(at=WHEN, by="alice", action="move", details={"from": "ecb/fx"})],
    )
    r = portal(routes_with(doc)).get("/ecb/euro-fx-rates")
    assert r.status_code == 200
    term = TRUST_TERMS["verified-source"]
    badge = re.search(r'<a class="trust trust-verified-source"[^>]*>.*?</a>', r.text, re.S)
    assert badge is not None
    assert 'href="/-/about/trust#trust-verified-source"' in badge.group(0)
    assert 'aria-describedby="trust-meaning"' in badge.group(0)
    assert f'role="tooltip" id="trust-meaning">{html_lib.escape(term.meaning)}' in (
        html_lib.unescape(badge.group(0)).replace(term.meaning, html_lib.escape(term.meaning))
    )
    assert term.label in badge.group(0)
    assert "Moved here from ecb/fx." in text(r.text)


def test_a_lapsed_review_shows_not_verified(portal: Portal) -> None:
    from datetime import date

    doc = Lifecycle(
        dataset_id="ecb/euro-fx-rates",
        trust=Trust(level="audited", review_by=date(2020, 1, 1)),
    )
    html = portal(routes_with(doc)).get("/ecb/euro-fx-rates").text
    assert 'class="trust trust-none"' in html and "trust-audited" not in html


def test_a_deprecated_dataset_has_a_banner_with_its_successor(portal: Portal) -> None:
    doc = Lifecycle(
        dataset_id="ecb/euro-fx-rates",
        status="deprecated",
        message="Superseded by the daily series.",
        successor="ecb/fx-daily",
    )
    html = portal(routes_with(doc)).get("/ecb/euro-fx-rates").text
    banner = re.search(r'<div class="banner banner-deprecated".*?</div>', html, re.S)
    assert banner is not None
    assert (
        "This dataset is deprecated. Superseded by the daily series. Use ecb/fx-daily instead."
        in text(banner.group(0))
    )
    assert 'href="/ecb/fx-daily"' in banner.group(0)


def test_a_registry_without_lifecycles_shows_no_trust_claim(portal: Portal) -> None:
    html = portal().get("/ecb/euro-fx-rates").text
    assert 'class="trust' not in html and "banner" not in html


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/ecb/fx", "/ecb/euro-fx-rates"),
        ("/ecb/fx/cite?version=abc", "/ecb/euro-fx-rates/cite?version=abc"),
        ("/ecb/fx/download", "/ecb/euro-fx-rates/download"),
        ("/ecb/fx/croissant.json", "/ecb/euro-fx-rates/croissant.json"),
    ],
)
def test_a_moved_ids_pages_redirect_301_to_the_new_ids(
    portal: Portal, path: str, target: str
) -> None:
    moved = problem_from_error(DatasetMoved("ecb/fx", "ecb/euro-fx-rates"))
    assert moved.status == 308
    routes = samples.default_routes()
    for suffix in ("", "/history", "/runs", "/versions", "/download"):
        routes[f"/v1/datasets/ecb/fx{suffix}"] = moved
    r = portal(routes).get(path, follow_redirects=False)
    assert r.status_code == 301, r.text
    assert r.headers["location"] == target


def test_a_withdrawn_dataset_is_a_410_tombstone_with_reason_date_and_citation(
    portal: Portal,
) -> None:
    cited = "European Central Bank (2025). Euro rates (version 0002ffff). https://r.test/v1/x"
    gone = problem_from_error(
        DatasetWithdrawn(
            "ecb/euro-fx-rates",
            "licence",
            withdrawn_at=WHEN,
            citation=cited,
            note="The licence was revoked.",
        )
    )
    routes = samples.default_routes()
    for suffix in ("", "/history", "/runs"):
        routes[f"/v1/datasets/ecb/euro-fx-rates{suffix}"] = gone
    r = portal(routes).get("/ecb/euro-fx-rates")
    assert r.status_code == 410
    page = text(r.text)
    assert "This dataset was withdrawn" in page
    reason = REASON_TERMS["licence"]
    assert f"Reason {reason.label} — {reason.meaning}" in page
    assert "Operator's note The licence was revoked." in page
    assert "since 2026-12-07" in page
    assert cited in page
    assert 'href="/-/about/trust#status-withdrawn"' in r.text


def test_the_definitions_page_is_cores_terms(portal: Portal) -> None:
    r = portal().get("/-/about/trust")
    assert r.status_code == 200
    page = text(r.text)
    for prefix, terms in (
        ("trust", TRUST_TERMS),
        ("status", STATUS_TERMS),
        ("reason", REASON_TERMS),
    ):
        for value, term in terms.items():
            assert f'id="{prefix}-{value}"' in r.text
            assert term.label in page and term.meaning in page


def test_search_cards_mark_trust_and_deprecation(portal: Portal) -> None:
    hits = [
        DatasetHit(
            dataset=samples.entry("ecb/euro-fx-rates", trust="audited"),
            health=HealthSummary(status="ok"),
        ),
        DatasetHit(
            dataset=samples.entry(
                "ecb/old-rates", status="deprecated", successor="ecb/euro-fx-rates"
            ),
            health=HealthSummary(status="ok"),
        ),
        DatasetHit(dataset=samples.entry("ecb/plain"), health=HealthSummary(status="ok")),
    ]
    routes = samples.default_routes()
    routes["/v1/datasets"] = samples.search_results(hits)
    html = portal(routes).get("/").text
    cards = re.findall(r'<li class="card">.*?</dl>\s*</li>', html, re.S)
    assert len(cards) == 3
    audited, old, plain = cards
    assert 'class="trust trust-audited"' in audited and TRUST_TERMS["audited"].meaning in audited
    assert 'aria-describedby="trust-h3-ecb--euro-fx-rates"' in audited
    assert "Deprecated" in text(old) and 'href="/ecb/euro-fx-rates"' in old
    assert "trust" not in plain and "Deprecated" not in plain


def test_the_trust_facet_counts_each_level_and_up_and_filters(portal: Portal) -> None:
    seen: list[httpx.Request] = []
    routes = samples.default_routes()
    facets = dict(samples.search_results().facets)
    facets["trust"] = [
        FacetCount(value="none", count=5),
        FacetCount(value="verified-publisher", count=2),
        FacetCount(value="verified-source", count=1),
        FacetCount(value="audited", count=1),
    ]
    routes["/v1/datasets"] = samples.search_results(facets=facets)
    client = portal(routes, seen=seen)
    html = client.get("/", params={"q": "rates"}).text
    facet = re.search(r'data-facet="trust">.*?</ul>', html, re.S)
    assert facet is not None
    assert re.findall(r'<span class="count">(\d+)</span>', facet.group(0)) == ["4", "2", "1"]
    assert 'href="/?q=rates&amp;trust=verified-source"' in facet.group(0)
    html = client.get("/", params={"q": "rates", "trust": "verified-source"}).text
    assert dict(seen[-1].url.params)["trust"] == "verified-source"  # asked of the registry
    assert "Remove filter trust: Verified source" in html
    assert '<input type="hidden" name="trust" value="verified-source">' in html


def test_a_bad_trust_value_is_said_once_and_the_form_kept(portal: Portal) -> None:
    seen: list[httpx.Request] = []
    r = portal(seen=seen).get("/", params={"q": "rates", "trust": "gold"})
    assert r.status_code == 400
    assert r.text.count("trust=gold") == 1
    assert "choose one of verified-publisher, verified-source, audited" in r.text
    assert 'id="q"' in r.text and "trust" not in dict(seen[0].url.params)
