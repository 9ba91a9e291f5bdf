"""Trust and lifecycle in Chromium: a live registry whose operator verified, moved, deprecated and
withdrew datasets with its admin commands, and the portal over it (issue 24, issue 25 §6).

At 1280 and 390 px: the badge with its meaning on hover and on keyboard focus and its link to
the definitions, the trust facet, the deprecated and moved banners, the moved id's 301, the
withdrawn tombstone's 410; axe-core finds nothing serious. Screenshots go to
test-artifacts/portal/lifecycle-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opendata_core.lifecycle import REASON_TERMS, TRUST_TERMS
from tests.portal import live
from tests.portal.browser import CHROMIUM, CHROMIUM_ARGS, axe_serious, axe_source

pw = pytest.importorskip("playwright.sync_api")
ARTIFACTS = live.ARTIFACTS
WIDTHS = {"desktop": 1280, "phone": 390}
SOURCE = TRUST_TERMS["verified-source"]


@dataclass(frozen=True)
class LifeStack:
    portal: str
    registry: str


def _publish(env: dict[str, str]) -> None:
    """Five small datasets, published by the real client into the stack's local store."""
    script = (
        "import pandas as pd, opendata as od\n"
        "from opendata_core.metadata import DatasetMetadata, Source\n"
        "c = od.Client()\n"
        "df = pd.DataFrame({'date': pd.date_range('2024-01-01', periods=30).date, 'v': range(30)})\n"
        "for ds, title in [('life/old-prices', 'Life prices'), ('life/legacy', 'Legacy rates'),\n"
        "                  ('life/gone', 'Withdrawn rates'), ('life/plain', 'Plain rates'),\n"
        "                  ('life/audited', 'Audited rates')]:\n"
        "    meta = DatasetMetadata(id=ds, title=title, description='Lifecycle rates for the portal.',\n"
        "        license='CC0-1.0', repo='https://github.com/life/data', source=Source(provider='Life'),\n"
        "        time_column='date', topics=['finance'])\n"
        "    c.push(df, ds, metadata=meta)\n"
    )
    live.run([str(live.BIN / "python"), "-c", script], env)


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LifeStack]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("life")
    env = live.clean_env(home, OPENDATA_OPERATOR="alice")
    _publish(env)
    registry = str(live.BIN / "opendata-registry")
    live.run([registry, "sync"], env)
    for args in (
        ["verify", "life/old-prices", "--level", "verified-source", "--note", "licence checked"],
        ["move", "life/old-prices", "life/prices", "--note", "renamed"],
        ["verify", "life/audited", "--level", "audited", "--note", "quality standard met"],
        [
            "deprecate",
            "life/legacy",
            "--message",
            "No longer updated.",
            "--successor",
            "life/prices",
        ],
        ["withdraw", "life/gone", "--reason", "licence", "--note", "The licence was revoked."],
    ):
        live.run([registry, "datasets", *args], env)
    with live.server(
        live.registry_command(0), env, "/healthz", ARTIFACTS / "lifecycle-registry.log"
    ) as reg:
        portal_env = dict(env, OPENDATA_PORTAL_REGISTRY_URL=reg)
        with live.server(
            [str(live.BIN / "opendata-portal"), "serve", "--port", "0"],
            portal_env,
            "/-/healthz",
            ARTIFACTS / "lifecycle-portal.log",
        ) as portal:
            yield LifeStack(portal=portal, registry=reg)


@pytest.fixture(scope="module")
def browser(life: LifeStack) -> Iterator[Any]:
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(params=list(WIDTHS))
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": WIDTHS[request.param], "height": 900})
    p = context.new_page()
    p.screen = request.param  # which screenshot name
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    # The tombstone answers 410 on purpose; Chromium logs any 4xx document as a console error.
    p.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and "status of 410" not in m.text else None
        ),
    )
    yield p
    context.close()
    assert errors == [], errors


def check_page(page: Any, name: str) -> None:
    """No horizontal scroll, nothing serious for axe-core, and a full-page screenshot."""
    page.wait_for_load_state("networkidle")
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe_serious(page, axe_source()) == []
    page.mouse.move(0, 0)  # the screenshot shows the page at rest, no tooltip open
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(ARTIFACTS / f"lifecycle-{name}-{page.screen}.png"), full_page=True)


def test_search_shows_badges_with_their_meaning_on_hover_and_focus(
    life: LifeStack, page: Any
) -> None:
    page.goto(life.portal + "/?q=life")
    ids = page.locator(".results > .cards .card-id code").all_inner_texts()
    assert sorted(ids) == ["life/audited", "life/legacy", "life/plain", "life/prices"]
    card = page.locator(".card", has=page.locator("code", has_text="life/prices"))
    badge = card.locator("a.trust")
    assert badge.inner_text().strip().startswith(f"✓ {SOURCE.label}")
    tooltip = card.locator('[role="tooltip"]')
    assert tooltip.is_hidden()
    badge.focus()  # keyboard users get the meaning too
    assert tooltip.is_visible() and tooltip.inner_text() == SOURCE.meaning
    page.screenshot(path=str(ARTIFACTS / f"lifecycle-badge-focus-{page.screen}.png"))
    page.locator("h2#results-heading").hover()
    assert tooltip.is_hidden() or badge.evaluate("b => b === document.activeElement")
    page.locator("body").click(position={"x": 1, "y": 1})
    badge.hover()
    assert tooltip.is_visible()
    description = badge.evaluate(
        "b => document.getElementById(b.getAttribute('aria-describedby')).textContent"
    )
    assert description == SOURCE.meaning
    legacy = page.locator(".card", has=page.locator("code", has_text="life/legacy"))
    assert "Deprecated" in legacy.inner_text() and "use life/prices" in legacy.inner_text()
    check_page(page, "search")
    badge.click()
    assert page.url.endswith("/-/about/trust#trust-verified-source")
    assert page.locator("#trust-verified-source").inner_text().count(SOURCE.meaning) == 1
    check_page(page, "definitions")


def test_the_trust_facet_keeps_a_level_and_those_above(life: LifeStack, page: Any) -> None:
    page.goto(life.portal + "/?q=life")
    facet = page.locator('[data-facet="trust"]')
    facet.get_by_role("link", name=re.compile(r"^Verified source or higher")).click()
    ids = page.locator(".results > .cards .card-id code").all_inner_texts()
    assert sorted(ids) == ["life/audited", "life/prices"]
    assert "trust=verified-source" in page.url
    assert page.get_by_role("link", name="Remove filter trust: Verified source").is_visible()
    check_page(page, "trust-facet")


def test_a_moved_page_redirects_301_and_the_new_page_says_where_it_came_from(
    life: LifeStack, page: Any
) -> None:
    r = httpx.get(life.portal + "/life/old-prices", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/life/prices"
    page.goto(life.portal + "/life/old-prices")
    assert page.url == life.portal + "/life/prices"
    banner = page.locator(".banner-moved")
    assert "Moved here from life/old-prices." in banner.inner_text()
    assert page.locator(".ds-header a.trust").inner_text().strip().startswith("✓ Verified source")
    check_page(page, "moved")


def test_a_deprecated_page_has_a_banner_linking_its_successor(life: LifeStack, page: Any) -> None:
    page.goto(life.portal + "/life/legacy")
    banner = page.locator(".banner-deprecated")
    assert "This dataset is deprecated. No longer updated. Use life/prices instead." in (
        " ".join(banner.inner_text().split())
    )
    check_page(page, "deprecated")
    banner.get_by_role("link", name="life/prices").click()
    assert page.url == life.portal + "/life/prices"


def test_a_withdrawn_page_is_a_410_tombstone(life: LifeStack, page: Any) -> None:
    assert httpx.get(life.portal + "/life/gone").status_code == 410
    page.goto(life.portal + "/life/gone")
    assert page.get_by_role("heading", level=1).inner_text() == "This dataset was withdrawn"
    reason = REASON_TERMS["licence"]
    assert page.locator("#withdrawal-reason").inner_text() == f"{reason.label} — {reason.meaning}"
    assert page.locator("#withdrawal-note").inner_text() == "The licence was revoked."
    citation = page.locator("#tombstone-citation").inner_text()
    assert "Withdrawn rates" in citation and "life/gone" in citation
    check_page(page, "withdrawn")
