"""End to end in Chromium: a live registry and portal over datasets published by the real client.

The stack (tests/portal/live.py): `od.push` and `od run` publish into a temporary OPENDATA_HOME,
`opendata-registry sync` reads them, `opendata-registry serve` and `opendata-portal serve` run as
subprocesses on free ports. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.portal import live
from tests.portal.browser import CHROMIUM, CHROMIUM_ARGS, axe_serious, axe_source

pw = pytest.importorskip("playwright.sync_api")
ARTIFACTS = live.ARTIFACTS
SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}


@pytest.fixture(scope="module")
def browser(stack: live.Stack) -> Iterator[Any]:
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    context.close()
    assert errors == [], errors  # no script error, no CSP report, no alert() on any page


@contextmanager
def sized_page(browser: Any, width: int) -> Iterator[Any]:
    """A page ``width`` px wide (1280: desktop, 390: phone) that fails on any script error."""
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        yield p
    finally:
        context.close()
    assert errors == [], errors


def unclipped(page: Any) -> list[str]:
    """Code boxes whose text does not fit and that are no horizontal scroller (empty: none)."""
    found: list[str] = page.evaluate(
        "[...document.querySelectorAll('pre')].filter(p => p.scrollWidth > p.clientWidth + 1"
        " && (p.closest('.snippet-block') || !['auto', 'scroll'].includes(getComputedStyle(p).overflowX)))"
        ".map(p => p.textContent.slice(0, 40))"
    )
    return found


def overflowing(page: Any, width: int) -> list[str]:
    """The elements that reach past ``width`` (for the message of a failed width check)."""
    found: list[str] = page.evaluate(
        "w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1"
        " || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible')"
        ".map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)"
        " + '/' + e.scrollWidth + ': ' + (e.textContent || '').trim().slice(0, 50)).slice(0, 12)",
        width,
    )
    return found


def label(width: int) -> str:
    return "phone" if width == 390 else "desktop"


def preview_rows(page: Any, part: str) -> list[list[str]]:
    """The preview's rows of one part (``first`` or ``last``), hidden pages included."""
    rows: list[list[str]] = page.evaluate(
        "part => [...document.querySelectorAll(`#preview-table tr[data-part=${part}]`)]"
        ".map(r => [...r.cells].map(c => c.textContent.trim()))",
        part,
    )
    return rows


def card_ids(page: Any) -> list[str]:
    return page.locator(".results > .cards .card-id code").all_inner_texts()  # type: ignore[no-any-return]


def test_search_by_keyword(stack: live.Stack, page: Any) -> None:
    page.goto(stack.portal + "/")
    assert set(card_ids(page)) >= {
        "ecb/euro-fx-rates",
        "noaa/global-temperature",
        "ons/uk-population",
        "acme/widgets",
    }
    page.get_by_role("searchbox", name="Search datasets").fill("temperature")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q=temperature"))
    assert card_ids(page) == ["noaa/global-temperature"]
    assert page.locator(".snippet mark").first.inner_text().lower() == "temperature"


@pytest.mark.parametrize(
    ("facet", "value", "expected"),
    [
        ("Topic", "climate", ["noaa/global-temperature"]),
        ("Publisher", "ons", ["ons/uk-population"]),
        ("Licence", "CC-BY-4.0", ["acme/widgets", "ecb/euro-fx-rates"]),
        ("Frequency", "monthly", ["noaa/global-temperature"]),
        ("Geography", "global", ["noaa/global-temperature"]),
    ],
)
def test_each_facet_filters_and_its_chip_removes_it(
    stack: live.Stack, page: Any, facet: str, value: str, expected: list[str]
) -> None:
    page.goto(stack.portal + "/")
    group = page.locator("section.facet", has=page.get_by_role("heading", name=facet, exact=True))
    link = group.get_by_role("link", name=re.compile(rf"^{re.escape(value)}\s+\d+$"))
    count = int(link.locator(".count").inner_text())
    link.click()
    page.wait_for_load_state()
    assert sorted(card_ids(page)) == expected and count == len(expected)
    chip = page.get_by_role("link", name=re.compile(rf"Remove filter .*{re.escape(value)}"))
    chip.click()
    page.wait_for_load_state()
    assert len(card_ids(page)) >= 5


def test_updated_since_and_coverage_filters(stack: live.Stack, page: Any) -> None:
    page.goto(stack.portal + "/")
    page.get_by_role("link", name="last 1 day").click()
    page.wait_for_load_state()
    assert "updated_since=" in page.url and len(card_ids(page)) >= 5  # all published just now
    page.goto(stack.portal + "/?updated_since=2999-01-01")
    assert card_ids(page) == [] and "No dataset matches" in page.inner_text("main")

    page.goto(stack.portal + "/")
    page.get_by_label("From").fill("1985")
    page.get_by_label("To", exact=True).fill("1990-06")
    page.locator(
        "section.facet", has=page.get_by_role("heading", name="Covers time range")
    ).get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "covers_from=1985" in page.url and "covers_to=1990-06" in page.url
    assert card_ids(page) == ["noaa/global-temperature"]  # the only dataset covering 1985 to 1990


def test_sort_by_name_and_empty_state(stack: live.Stack, page: Any) -> None:
    page.goto(stack.portal + "/")
    page.get_by_label("Sort by").select_option("name")  # the page's script submits on change
    page.wait_for_url(re.compile(r"sort=name"))
    ids = card_ids(page)
    assert ids == sorted(ids)
    page.goto(stack.portal + "/?q=nothing-like-this&topic=climate")
    text = page.inner_text("main")
    assert "No dataset matches" in text and "nothing-like-this" in text
    assert "Remove topic: climate" in text and "Recently updated datasets" in text


@pytest.mark.parametrize("width", [1280, 390])
def test_a_typo_finds_nothing_and_suggests_the_catalogues_word(
    stack: live.Stack, browser: Any, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(stack.portal + "/?q=Temprature&sort=name")
    assert "No dataset matches" in page.inner_text("main")
    link = page.locator(".did-you-mean").get_by_role("link", name="“temperature”")
    assert link.is_visible()
    label = "phone" if width == 390 else "desktop"
    page.screenshot(path=str(ARTIFACTS / f"did-you-mean-{label}.png"), full_page=True)
    link.click()
    page.wait_for_url(re.compile(r"q=temperature"))
    assert "sort=name" in page.url  # the other choices are kept
    assert card_ids(page) == ["noaa/global-temperature"]
    assert page.locator(".did-you-mean").count() == 0  # found: no suggestion
    # A stem finds it too: "temperatures" and "temperature" share the stem "temperatur".
    page.goto(stack.portal + "/?q=temperatures")
    assert card_ids(page) == ["noaa/global-temperature"]
    context.close()


def test_dataset_page(stack: live.Stack, page: Any) -> None:
    page.goto(stack.portal + "/?q=euro")
    page.get_by_role("link", name="ecb/euro-fx-rates").click()
    page.wait_for_url(stack.portal + "/ecb/euro-fx-rates")
    assert (
        page.get_by_role("heading", level=1).inner_text() == "Euro foreign exchange reference rates"
    )
    readme = page.locator(".readme")
    assert "od.load" in readme.inner_text()  # the README the client wrote
    schema = page.locator("#schema-table tbody tr").all_inner_texts()
    assert [row.split()[0] for row in schema] == ["date", "usd", "jpy", "gbp"]
    assert len(preview_rows(page, "last")) == 100
    assert page.locator("#preview-table td.null").first.text_content() == "null"
    assert (
        page.get_by_role("link", name="CC-BY-4.0").get_attribute("href")
        == "https://spdx.org/licenses/CC-BY-4.0.html"
    )
    assert page.locator("a", has_text="CI run").get_attribute("href").endswith("/actions/runs/2")
    commit = page.locator("a", has=page.locator("code", has_text="2222222222"))
    assert (
        commit.get_attribute("href")
        == "https://github.com/ecb/opendata-euro-fx-rates/commit/" + "2" * 40
    )
    # Published straight to the bucket: its provenance is the publisher's own statement.
    repository = page.locator("#repository")
    assert "not verified" in repository.inner_text()
    assert repository.locator(".badge-verified").count() == 0
    # the history chart: two publishes, drawn by pygal, loaded as an image
    chart = page.locator(".chart img")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    svg = httpx.get(stack.portal + "/ecb/euro-fx-rates/history.svg").text
    assert "pygal" in svg and "✱" in svg  # two publishes: bars, the schema change marked
    page.get_by_text("History as a table").click()
    rows = page.locator(".history-table tbody tr").all_inner_texts()
    assert len(rows) == 2 and "changed" in rows[0] and "500" in rows[0] and "400" in rows[1]


def test_health_of_a_failing_dataset(stack: live.Stack, page: Any) -> None:
    page.goto(stack.portal + "/acme/widgets")
    health = page.locator(
        "section.panel", has=page.get_by_role("heading", name="Run health")
    ).inner_text()
    assert "50%" in health and "failing" in health
    assert "Last failure (network)" in health and "refused the connection" in health
    assert page.locator("ol.runs li").count() == 2


def test_copy_the_load_line_and_run_it(stack: live.Stack, page: Any) -> None:
    page.goto(stack.portal + "/ecb/euro-fx-rates")
    page.get_by_role("button", name="Copy the pandas code").click()
    code = page.evaluate("navigator.clipboard.readText()")
    assert code == 'import opendata as od\n\ndf = od.load("ecb/euro-fx-rates")'
    preview = preview_rows(page, "last")
    # The preview holds the newest rows as published: the frame's last rows.
    script = code + (
        "\nimport json\n"
        f"tail = df.tail({len(preview)})\n"
        "print(json.dumps([[None if v != v else str(v) for v in row] for row in tail.astype(object).values.tolist()]))\n"
    )
    env = dict(stack.env, OPENDATA_REGISTRY=stack.registry)
    done = subprocess.run(
        [str(live.BIN / "python"), "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "this version of opendata-client" in done.stderr:
        # The client's registry mode (branch regclient) is not merged yet: the same line runs
        # against the same local store that the registry serves.
        done = subprocess.run(
            [str(live.BIN / "python"), "-c", script],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    frame_rows = json.loads(done.stdout)
    assert len(frame_rows) == len(preview) == 100

    def same(cell: str, value: str | None) -> bool:
        if value is None:
            return cell == "null"
        try:
            return float(cell.replace(",", "")) == float(value)
        except ValueError:
            # Dates load as datetime64 (midnight); the preview shows the date as published.
            return cell in (value, value.removesuffix(" 00:00:00"))

    for shown, loaded in zip(preview, frame_rows, strict=True):
        assert len(shown) == len(loaded) and all(map(same, shown, loaded)), (shown, loaded)


def test_keyboard_only_from_search_to_a_dataset(stack: live.Stack, page: Any) -> None:
    page.goto(stack.portal + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    page.keyboard.type("population")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=population"))
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('.card-id') !== null"):
            break
    focused = page.evaluate(
        "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
        " return [e.textContent, s.outlineStyle, s.outlineWidth]; })()"
    )
    assert focused[0] == "ons/uk-population"
    assert focused[1] != "none" and focused[2] != "0px"  # a visible focus outline
    page.keyboard.press("Enter")
    page.wait_for_url(stack.portal + "/ons/uk-population")


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?q=rates&topic=finance",
        "/?q=rates&covers_from=soon",
        "/?q=temprature",
        "/ecb/euro-fx-rates",
        "/ecb/euro-fx-rates/download?start=2024",
        "/ecb/euro-fx-rate",
        "/ecb",
        "/acme/widgets",
        "/-/publish",
    ],
)
def test_axe_finds_no_serious_violation(
    stack: live.Stack, browser: Any, path: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(stack.portal + path)
    assert axe_serious(page, axe_source()) == []
    context.close()


def test_readme_payloads_are_inert(stack: live.Stack, page: Any) -> None:
    page.goto(stack.portal + "/xss/payloads")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss") is None
    readme = page.locator(".readme")
    assert readme.locator("script, svg, iframe, object, embed, style, form, meta").count() == 0
    assert (
        readme.evaluate(
            "r => [...r.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
            ".filter(n => n.startsWith('on') || n === 'style')"
        )
        == []
    )
    hrefs = readme.evaluate(
        "r => [...r.querySelectorAll('[href],[src]')].map(e => e.getAttribute('href') || e.getAttribute('src'))"
    )
    assert all(not re.match(r"\s*(javascript|data|vbscript):", h, re.I) for h in hrefs), hrefs
    # the title, description and cells are text, not markup
    assert "onerror" in page.get_by_role("heading", level=1).inner_text()
    assert page.locator("#preview-table td", has_text="<script>").count() == 1


@pytest.mark.parametrize(
    "path",
    ["/", "/ecb/euro-fx-rates", "/ecb", "/-/publish", "/nobody-here", "/-/static/portal.css"],
)
def test_security_headers_on_every_page(stack: live.Stack, path: str) -> None:
    r = httpx.get(stack.portal + path)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "'unsafe-inline'" not in csp
    for name, value in SECURITY.items():
        assert r.headers[name] == value


def test_works_without_javascript(stack: live.Stack, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(stack.portal + "/")
    page.locator(
        "section.facet", has=page.get_by_role("heading", name="Topic", exact=True)
    ).get_by_role("link", name=re.compile(r"^climate")).click()
    assert card_ids(page) == ["noaa/global-temperature"]
    page.get_by_role("link", name="noaa/global-temperature").click()
    assert page.locator("#preview-table tbody tr").count() > 0
    assert page.locator("button.copy").first.is_hidden()  # no dead buttons without JS
    assert page.locator(".preview-pager").count() == 0  # every row in the scroll box instead
    assert "od.load" in page.locator("#use-pandas").inner_text()
    context.close()


@pytest.mark.parametrize("width", [320, 390, 1280])
@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("search", "/?q=rates"),
        ("dataset", "/ecb/euro-fx-rates"),
        ("dataset-one-publish", "/noaa/global-temperature"),
        ("download", "/ecb/euro-fx-rates/download"),
        ("not-found", "/ecb/euro-fx-rate"),
        ("bad-filter", "/?q=rates&covers_from=soon"),
        ("publisher", "/ecb"),
        ("publish", "/-/publish"),
        ("home", "/"),
    ],
)
def test_screenshots_and_no_horizontal_scroll(
    stack: live.Stack, browser: Any, name: str, path: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(stack.portal + path)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # No code box clips its code: the "Use this dataset" code fits its box (it wraps); a
    # README's code block may be wider, inside its own horizontal scroller.
    clipped = page.evaluate(
        "[...document.querySelectorAll('pre')].filter(p => p.scrollWidth > p.clientWidth + 1"
        " && (p.closest('.snippet-block') || !['auto', 'scroll'].includes(getComputedStyle(p).overflowX)))"
        ".map(p => p.textContent.slice(0, 40))"
    )
    assert clipped == []
    # Wide tables scroll inside their own box, never the page.
    for box in page.locator(".table-scroll").all():
        assert box.evaluate("b => getComputedStyle(b).overflowX") == "auto"
    if width != 320:
        label = "phone" if width == 390 else "desktop"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    context.close()


def test_a_producer_token_publish_names_no_repository_it_could_not_prove(
    stack: live.Stack, page: Any, tmp_path: Path
) -> None:
    """A producer token publishes through the live registry with the real `od push`; its
    opendata.yaml claims someone else's repository. Runs last: it adds a dataset to the stack."""
    made = live.run(
        [
            str(live.BIN / "opendata-registry"),
            "tokens",
            "create",
            "--namespace",
            "tokenco",
            "--expires",
            "1d",
            "--json",
        ],
        stack.env,
    )
    token = json.loads(made.stdout)["token"]
    (tmp_path / "rates.csv").write_text("date,rate\n2024-01-01,1.5\n2024-01-02,1.6\n")
    (tmp_path / "opendata.yaml").write_text(
        "id: tokenco/rates\ntitle: Token rates\ndescription: Published with a producer token.\n"
        "license: CC-BY-4.0\nrepo: https://github.com/victim/project\n"
        "source:\n  provider: Token Co\ntime_column: date\n"
    )
    producer = dict(
        stack.env,
        OPENDATA_HOME=str(tmp_path / "producer"),
        OPENDATA_REGISTRY=stack.registry,
        OPENDATA_PUBLISH_TOKEN=token,
    )
    pushed = live.run(
        [
            str(live.BIN / "od"),
            "push",
            str(tmp_path / "rates.csv"),
            "tokenco/rates",
            "--metadata",
            str(tmp_path / "opendata.yaml"),
            "--json",
        ],
        producer,
    )
    assert json.loads(pushed.stdout)["publish_id"]
    detail = httpx.get(stack.registry + "/v1/datasets/tokenco/rates").json()
    assert detail["manifest"]["provenance"] == {
        "repo": None,
        "commit": None,
        "run_url": None,
        "workflow_ref": None,
        "verified_by": None,
    }
    page.goto(stack.portal + "/tokenco/rates")
    repository = page.locator("#repository")
    assert repository.locator(".badge-unverified").inner_text() == "not verified"
    assert "stated by the publisher" in repository.inner_text()
    assert repository.locator(".badge-verified").count() == 0
    facts = page.locator("dl.facts").inner_text()
    assert "no commit or CI run recorded" in facts
    page.locator("#facts-heading").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dataset-token-publish.png"), full_page=True)


def test_readme_images_never_reach_the_producers_host(stack: live.Stack, page: Any) -> None:
    from tests.portal.xss import TRACKER_HOST

    asked: list[str] = []
    pixel = bytes.fromhex(  # a 1x1 PNG, so that an image that slipped through would load
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    page.on("request", lambda r: asked.append(r.url))

    def tracker(route: Any) -> None:
        route.fulfill(status=200, content_type="image/png", body=pixel)

    page.route(f"https://{TRACKER_HOST}/**", tracker)
    page.goto(stack.portal + "/xss/payloads")
    page.wait_for_load_state("networkidle")
    page.locator(".readme").screenshot(path=str(ARTIFACTS / "readme-external-images.png"))
    assert [u for u in asked if TRACKER_HOST in u] == []
    readme = page.locator(".readme")
    assert readme.locator("img").count() == 0
    links = readme.locator(f"a[href^='https://{TRACKER_HOST}/']")
    assert sorted(links.all_inner_texts()) == [
        f"Image: raw logo ({TRACKER_HOST})",
        f"Image: tracking pixel ({TRACKER_HOST})",
    ]
    assert readme.get_by_role("link", name=f"Image: build ({TRACKER_HOST})").get_attribute(
        "href"
    ) == ("https://github.com/xss/payloads")
    # The portal's own image (the history chart) still loads under img-src 'self'.
    page.goto(stack.portal + "/ecb/euro-fx-rates")
    assert page.locator(".chart img").evaluate("img => img.complete && img.naturalWidth > 0")


@pytest.mark.parametrize("width", [1280, 390])
def test_preview_pages_and_sorts_in_the_browser(
    stack: live.Stack, browser: Any, width: int
) -> None:
    with sized_page(browser, width) as page:
        page.goto(stack.portal + "/ecb/euro-fx-rates")
        table = page.locator("#preview-table")
        visible = "t => [...t.tBodies[0].rows].filter(r => !r.hidden && r.dataset.part)"
        assert table.evaluate(f"t => ({visible})(t).length") == 25
        pager = page.get_by_role("navigation", name="Preview pages")
        assert "Rows 1–25 of" in pager.inner_text()
        pager.get_by_role("button", name="Next rows →").click()
        assert "Rows 26–50 of" in pager.inner_text()
        column = [h.strip() for h in table.locator("thead th").all_inner_texts()].index("usd")

        def usd() -> list[float]:
            cells: list[str] = table.evaluate(
                f"t => ({visible})(t).map(r => r.cells[{column}].dataset.sort)"
            )
            return [float(c) for c in cells]

        page.get_by_role("button", name="Sort by usd").click()
        assert table.locator("th", has_text="usd").get_attribute("aria-sort") == "ascending"
        up = usd()
        assert up == sorted(up) and "Rows 1–25" in pager.inner_text()
        page.get_by_role("button", name="Sort by usd").click()
        down = usd()
        assert down == sorted(down, reverse=True) and down[0] >= up[-1]
        # Nulls sort last, both ways.
        jpy = [h.strip() for h in table.locator("thead th").all_inner_texts()].index("jpy")
        order = f"t => [...t.tBodies[0].rows].filter(r => r.dataset.part).map(r => r.cells[{jpy}].textContent)"
        for _ in range(2):
            page.get_by_role("button", name="Sort by jpy").click()
            values = table.evaluate(order)
            nulls = [i for i, v in enumerate(values) if v == "null"]
            assert nulls and nulls == list(range(len(values) - len(nulls), len(values)))
        # The first column stays in view while the rows scroll sideways inside their own box.
        box = page.locator(".preview-scroll")
        first_cell = table.locator("tbody tr[data-part] td").first
        assert first_cell.evaluate("c => getComputedStyle(c).position") == "sticky"
        left = first_cell.evaluate("c => c.getBoundingClientRect().left")
        box.evaluate("b => { b.scrollLeft = 120; }")
        assert first_cell.evaluate("c => c.getBoundingClientRect().left") == left
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert axe_serious(page, axe_source()) == []
        page.locator("#preview-heading").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"preview-sorted-{label(width)}.png"))


def test_slash_focuses_the_search_box(stack: live.Stack, page: Any) -> None:
    for path, box in [("/", "q"), ("/ecb/euro-fx-rates", "site-q")]:
        page.goto(stack.portal + path)
        page.locator("body").click(position={"x": 5, "y": 300})
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == box
    page.keyboard.type("x/y")  # typing a slash in the box is text, not a shortcut
    assert page.locator("#site-q").input_value() == "x/y"


def test_a_mistyped_dataset_suggests_the_right_one(stack: live.Stack, browser: Any) -> None:
    # Its own page: Chromium logs the 404 answers themselves as console errors.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    response = page.goto(stack.portal + "/ecb/euro-fx-rate")
    assert response.status == 404
    page.get_by_role("link", name="ecb/euro-fx-rates").click()
    page.wait_for_url(stack.portal + "/ecb/euro-fx-rates")
    page.goto(stack.portal + "/ecbb")
    assert page.get_by_role("searchbox", name="Search datasets").input_value() == "ecbb"
    assert page.locator(".suggestions").get_by_role("link", name="ecb", exact=True).count() == 1
    context.close()


def test_parquet_downloads_match_od_load(stack: live.Stack, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with httpx.Client(follow_redirects=False) as http:
        first = http.get(stack.portal + "/ecb/euro-fx-rates/-/download.parquet")
        assert (
            first.status_code == 302 and first.headers["location"] == "/ecb/euro-fx-rates/download"
        )
        page = http.get(stack.portal + "/ecb/euro-fx-rates/download").text
        links = re.findall(r'<a href="([^"]+)" rel="nofollow" download=', page)
        assert len(links) == 2  # the 2023 and 2024 shards
        tables = [
            pq.read_table(pa.BufferReader(http.get(link.replace("&amp;", "&")).content))
            for link in links
        ]
    shards = pa.concat_tables(tables).to_pandas()
    script = (
        "import opendata as od\n"
        "df = od.load('ecb/euro-fx-rates')\n"
        f"df.to_parquet({str(tmp_path / 'loaded.parquet')!r})\n"
    )
    live.run([str(live.BIN / "python"), "-c", script], stack.env)
    import pandas as pd

    loaded = pd.read_parquet(tmp_path / "loaded.parquet")
    assert len(shards) == len(loaded) == 500
    assert shards["usd"].tolist() == loaded["usd"].tolist()
    assert [str(d)[:10] for d in shards["date"]] == [str(d)[:10] for d in loaded["date"]]


@pytest.mark.parametrize("width", [1280, 390])
def test_column_statistics_for_every_dataset(stack: live.Stack, browser: Any, width: int) -> None:
    with sized_page(browser, width) as page:
        ids = [
            h["dataset"]["id"]
            for h in httpx.get(stack.registry + "/v1/datasets").json()["datasets"]
        ]
        for dataset_id in ids:
            page.goto(f"{stack.portal}/{dataset_id}")
            rows = page.locator("#schema-table tbody tr")
            assert rows.count() >= 1
            for i in range(rows.count()):
                row = rows.nth(i)
                # Every column has its distinct count, and a chart or figures (a lone value has none).
                assert row.locator("td").nth(2).inner_text().strip() not in ("", "—"), dataset_id
                assert row.locator("svg.bars rect").count() or row.locator("td.stats").inner_text()
            assert axe_serious(page, axe_source()) == [], dataset_id
            # The schema table scrolls inside its own box; the page never does.
            wide = page.evaluate(
                "w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1"
                " && e.parentElement.getBoundingClientRect().right <= w + 1).map(e => e.tagName + '.' + e.className"
                " + ' ' + Math.round(e.getBoundingClientRect().right) + ': ' + (e.textContent || '').slice(0, 60))",
                width,
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (
                dataset_id,
                wide,
            )
        page.goto(stack.portal + "/ecb/euro-fx-rates")
        time_row = page.locator("#schema-table tbody tr").first
        assert (
            time_row.locator("svg.bars.periods")
            .get_attribute("aria-label")
            .startswith("Rows per month, 2023-01 to 2024-05")
        )
        usd = page.locator("#schema-table tbody tr", has=page.locator("code", has_text="usd"))
        assert usd.locator("svg.bars.histogram rect").count() == 20
        published = [1.05 + (i % 50) / 1000 for i in range(500)]  # seed_catalogue's phase 2
        assert f"mean {sum(published) / 500:,.4g}" in usd.locator("td.stats").inner_text()
        page.locator("#schema-table").screenshot(
            path=str(ARTIFACTS / f"schema-stats-{label(width)}.png")
        )


def _loaded(stack: live.Stack, tmp_path: Path, call: str) -> Any:
    """What ``od.load`` gives through the same store (``call``: its arguments)."""
    import pandas as pd

    out = tmp_path / "loaded.parquet"
    script = f"import opendata as od\nod.load({call}).to_parquet({str(out)!r})\n"
    live.run([str(live.BIN / "python"), "-c", script], stack.env)
    return pd.read_parquet(out)


@pytest.mark.parametrize("width", [1280, 390])
def test_csv_downloads_match_od_load(
    stack: live.Stack, browser: Any, tmp_path: Path, width: int
) -> None:
    """The dataset page's CSV button and the download page's range CSV, clicked in Chromium."""
    import pandas as pd

    with sized_page(browser, width) as page:
        page.goto(stack.portal + "/ecb/euro-fx-rates")
        with page.expect_download() as whole:
            page.get_by_role("link", name="CSV", exact=True).click()
        saved = tmp_path / "whole.csv"
        whole.value.save_as(saved)
        assert whole.value.suggested_filename == "ecb__euro-fx-rates.csv"
        got = pd.read_csv(saved)
        want = _loaded(stack, tmp_path, "'ecb/euro-fx-rates'")
        assert len(got) == len(want) == 500
        assert got["date"].tolist() == [str(d)[:10] for d in want["date"]]
        for column in ("usd", "jpy", "gbp"):
            assert got[column].equals(want[column]), column

        # A chosen time range: exactly its rows, as od.load(start=…, end=…) gives them.
        page.goto(stack.portal + "/ecb/euro-fx-rates/download")
        page.get_by_label("From").fill("2024-02")
        page.get_by_label("To").fill("2024-03-15")
        page.get_by_role("button", name="Show the files").click()
        assert unclipped(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert axe_serious(page, axe_source()) == []
        page.screenshot(path=str(ARTIFACTS / f"download-range-{label(width)}.png"), full_page=True)
        with page.expect_download() as ranged:
            page.get_by_role("link", name="CSV of this range").click()
        ranged.value.save_as(tmp_path / "range.csv")
        got = pd.read_csv(tmp_path / "range.csv")
        want = _loaded(stack, tmp_path, "'ecb/euro-fx-rates', start='2024-02', end='2024-03-15'")
        assert 0 < len(got) == len(want) < 500
        assert got["date"].tolist() == [str(d)[:10] for d in want["date"]]
        assert got["usd"].equals(want["usd"])


def test_one_parquet_file_matches_od_load(stack: live.Stack, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with httpx.Client(follow_redirects=True) as http:
        r = http.get(stack.portal + "/ecb/euro-fx-rates/-/export.parquet")
        assert r.status_code == 200 and r.url.host == "127.0.0.1"
        assert str(r.url).startswith(stack.registry)  # the registry's bytes, not the portal's
        got = pq.read_table(pa.BufferReader(r.content)).to_pandas()
    want = _loaded(stack, tmp_path, "'ecb/euro-fx-rates'")
    assert len(got) == len(want) == 500
    assert [str(d)[:10] for d in got["date"]] == [str(d)[:10] for d in want["date"]]
    assert got["usd"].tolist() == want["usd"].tolist()


@pytest.mark.parametrize("width", [1280, 390])
def test_citation_block_and_earlier_versions(stack: live.Stack, browser: Any, width: int) -> None:
    with sized_page(browser, width) as page:
        page.goto(stack.portal + "/ecb/euro-fx-rates")
        block = page.locator(
            "section.panel", has=page.get_by_role("heading", name="Cite this version")
        )
        versions = httpx.get(stack.registry + "/v1/datasets/ecb/euro-fx-rates/versions").json()
        current, older = (v["publish_id"] for v in versions["versions"][:2])
        apa = block.locator("#cite-apa").inner_text()
        assert f"(Version {current}) [Data set]. OpenData." in apa
        assert apa.endswith(f"/v1/datasets/ecb/euro-fx-rates/versions/{current}")
        # od info --cite prints the same text through the registry.
        done = live.run(
            [str(live.BIN / "od"), "info", "ecb/euro-fx-rates", "--cite", "--format", "apa"],
            dict(stack.env, OPENDATA_REGISTRY=stack.registry),
        )
        assert done.stdout.strip() == apa
        block.get_by_text("BibTeX and CITATION.cff").click()  # the longer styles, folded
        assert block.locator("#cite-cff").inner_text().startswith("cff-version: 1.2.0")
        block.get_by_role("button", name="Copy the BibTeX code").click()
        assert page.evaluate("navigator.clipboard.readText()").startswith(
            "@misc{ecb_euro_fx_rates_"
        )
        assert unclipped(page) == []
        block.screenshot(path=str(ARTIFACTS / f"citation-{label(width)}.png"))
        # An earlier version, from the history table.
        page.get_by_text("History as a table").click()
        page.locator(".history-table").get_by_role(
            "link", name=f"Cite version {older}", exact=True
        ).click()
        page.wait_for_url(f"**/ecb/euro-fx-rates/cite?version={older}")
        assert f"(Version {older})" in page.locator("#cite-apa").inner_text()
        assert f"version = {{{older}}}" in page.locator("#cite-bibtex").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"cite-earlier-{label(width)}.png"), full_page=True)
        assert unclipped(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width, overflowing(
            page, width
        )
        assert axe_serious(page, axe_source()) == []
