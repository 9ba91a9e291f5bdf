"""Settings, search state, rendering helpers and the docstring examples of the portal."""

from __future__ import annotations

import doctest
import importlib
from datetime import UTC, datetime, timedelta

import pytest

from opendata_portal import render
from opendata_portal.search import SearchQuery
from opendata_portal.settings import Settings, SettingsError


@pytest.mark.parametrize(
    "name",
    [
        "opendata_portal.settings",
        "opendata_portal.search",
        "opendata_portal.render",
        "opendata_portal.rdf",
        "opendata_portal.preview",
        "opendata_portal.columns",
    ],
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_settings_from_env() -> None:
    s = Settings.from_env(
        {
            "OPENDATA_PORTAL_REGISTRY_URL": "http://10.0.0.5:8000/",
            "OPENDATA_PORTAL_PUBLIC_REGISTRY_URL": "https://registry.example.org",
            "OPENDATA_PORTAL_API_KEY": "od_live_abc",
            "OPENDATA_PORTAL_TIMEOUT": "2.5",
            "OPENDATA_PORTAL_PORT": "9001",
            "OPENDATA_PORTAL_PER_PAGE": "50",
        }
    )
    assert s == Settings(
        registry_url="http://10.0.0.5:8000",
        public_registry_url="https://registry.example.org",
        api_key="od_live_abc",
        timeout=2.5,
        port=9001,
        per_page=50,
    )
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("env", "text"),
    [
        (
            {"OPENDATA_PORTAL_REGISTRY_URL": "registry:8000"},
            "OPENDATA_PORTAL_REGISTRY_URL='registry:8000' is not an http(s) URL",
        ),
        ({"OPENDATA_PORTAL_REGISTRY_URL": "ftp://x"}, "is not an http(s) URL"),
        (
            {"OPENDATA_PORTAL_TIMEOUT": "soon"},
            "OPENDATA_PORTAL_TIMEOUT='soon' is not a number from 0.1 to 300",
        ),
        (
            {"OPENDATA_PORTAL_PORT": "70000"},
            "OPENDATA_PORTAL_PORT='70000' is not a number from 0 to 65535",
        ),
        ({"OPENDATA_PORTAL_PER_PAGE": "0"}, "OPENDATA_PORTAL_PER_PAGE='0'"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], text: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert text in str(info.value)
    assert info.value.hint


def test_search_query_round_trips_through_its_url() -> None:
    q = SearchQuery.parse(
        {"q": "fx", "license": "MIT", "covers_from": "2020", "sort": "name", "page": "2"}
    )
    again = SearchQuery.parse(dict(p.split("=") for p in q.url(page=2)[2:].split("&")))
    assert again == q
    assert [label for label, _, _ in q.chips()] == ["search", "licence", "covers from"]
    assert SearchQuery().url() == "/" and not SearchQuery().filtered


def test_relative_and_absolute_times() -> None:
    now = datetime(2025, 6, 30, 12, tzinfo=UTC)
    assert render.relative_time(now - timedelta(seconds=5), now) == "just now"
    assert render.relative_time(now - timedelta(minutes=5), now) == "5 min ago"
    assert render.relative_time(now - timedelta(hours=3), now) == "3 h ago"
    assert render.relative_time(now - timedelta(days=1), now) == "1 day ago"
    assert render.relative_time(now - timedelta(days=65), now) == "2 months ago"
    assert render.relative_time(now - timedelta(days=800), now) == "2 years ago"
    assert render.relative_time(now + timedelta(hours=2), now) == "in 2 h"
    assert render.relative_time(None, now) == "never"
    assert render.absolute_time(datetime(2025, 6, 30, 14, 2)) == "2025-06-30 14:02 UTC"


def test_sizes_counts_and_coverage() -> None:
    assert [render.human_bytes(n) for n in (0, 999, 1000, 1_500_000, 2 * 10**12, None)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "1.5 MB",
        "2.0 TB",
        "—",
    ]
    assert render.coverage("2015-01-02T00:00:00", "2025-06-30") == "2015-01-02 → 2025-06-30"
    assert render.coverage(None, None) == "—"


def test_highlight_escapes_and_marks() -> None:
    out = str(render.highlight("<b>Rates</b> of rates", "rates"))
    assert out == "&lt;b&gt;<mark>Rates</mark>&lt;/b&gt; of <mark>rates</mark>"
    assert str(render.highlight("a <i>", "")) == "a &lt;i&gt;"
    assert str(render.highlight("word " * 100, "x")).endswith("…")


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://github.com/a/b", "https://github.com/a/b"),
        ("http://x.org", "http://x.org"),
        ("javascript:alert(1)", None),
        (" JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//evil.example", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, safe: str | None) -> None:
    assert render.safe_url(url) == safe


def test_spdx_links_only_identifiers() -> None:
    assert render.spdx_url("CC-BY-4.0") == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert render.spdx_url("Public Domain") is None
    assert render.spdx_url('x" onclick="y') is None


@pytest.mark.parametrize(
    ("params", "sent"),
    [
        (
            {"covers_from": "2020", "covers_to": "2021"},
            {"covers_from": "2020-01-01", "covers_to": "2021-12-31"},
        ),
        (
            {"covers_from": "2024-02", "covers_to": "2024-02"},
            {"covers_from": "2024-02-01", "covers_to": "2024-02-29"},
        ),
        ({"updated_since": "2025-06"}, {"updated_since": "2025-06-01"}),
        ({"updated_since": "2025-06-03"}, {"updated_since": "2025-06-03"}),
    ],
)
def test_partial_dates_become_whole_dates_for_the_registry(
    params: dict[str, str], sent: dict[str, str]
) -> None:
    q = SearchQuery.parse(params)
    assert {k: v for k, v in q.registry_params(20).items() if k in sent} == sent
    assert q.url() == "/?" + "&".join(
        f"{k}={v}" for k, v in params.items()
    )  # the URL keeps what was typed


@pytest.mark.parametrize(
    ("markdown", "text", "href"),
    [
        (
            "![logo](https://cdn.example/l.png)",
            "Image: logo (cdn.example)",
            "https://cdn.example/l.png",
        ),
        (
            "![](http://cdn.example:8080/a.gif)",
            "Image: untitled (cdn.example)",
            "http://cdn.example:8080/a.gif",
        ),
        (
            '<img src="https://cdn.example/r.png" alt="raw">',
            "Image: raw (cdn.example)",
            "https://cdn.example/r.png",
        ),
        (
            '<img\nsrc="https://cdn.example/m.png"\nalt="two\nlines">',
            "Image: two\nlines (cdn.example)",
            "https://cdn.example/m.png",
        ),
        (
            "[![ci](https://cdn.example/b.svg)](https://ci.example/run)",
            "Image: ci (cdn.example)",
            "https://ci.example/run",
        ),
        (
            "a\u2028b\r\n\n![x](https://cdn.example/x.png)",
            "Image: x (cdn.example)",
            "https://cdn.example/x.png",
        ),
        (
            '<img src="https://cdn.example/q.png" alt="&lt;b&gt;bold&lt;/b&gt;">',
            "Image: <b>bold</b> (cdn.example)",
            "https://cdn.example/q.png",
        ),
        ("![rel](images/x.png)", "Image: rel", None),
        ("![d](data:image/png;base64,iVBORw0KGgo=)", "Image: d", None),
        ('<img src="javascript:alert(1)" alt="js">', "Image: js", None),
    ],
)
def test_readme_images_become_links_never_images(
    markdown: str, text: str, href: str | None
) -> None:
    from html.parser import HTMLParser

    html = str(render.readme_html(markdown))
    tags: list[tuple[str, dict[str, str | None]]] = []
    texts: list[str] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, dict(attrs)))

        def handle_data(self, data: str) -> None:
            texts.append(data)

    Reader().feed(html)
    assert "img" not in {t for t, _ in tags}, html
    assert not any("src" in attrs for _, attrs in tags), html
    assert text in "".join(texts), html
    links = [attrs["href"] for t, attrs in tags if t == "a"]
    assert links == ([href] if href else []), html


def _rows(a: int, b: int) -> list[dict[str, object]]:
    return [{"d": f"2024-01-{i:02d}", "v": i * 1.5} for i in range(a, b)]


def _cells(rows: str) -> list[tuple[str, list[str]]]:
    """(part, cell texts) of each data row of the preview's body."""
    import html
    import re

    found = re.findall(r'<tr data-part="(\w+)">(.*?)</tr>', rows)
    return [
        (
            part,
            [
                html.unescape(t)
                for t in re.findall(r"<td[^>]*>(?:<span>)?(.*?)(?:</span>)?</td>", cells)
            ],
        )
        for part, cells in found
    ]


def test_preview_shows_first_and_last_rows_with_the_gap_between() -> None:
    from opendata_portal.preview import build_preview

    cols = [("d", "date32[day]"), ("v", "double")]
    t = build_preview(_rows(1, 4), _rows(8, 11), columns=cols, total=10, timed=True)
    rows = _cells(t.rows)
    assert [p for p, _ in rows] == ["first"] * 3 + ["last"] * 3
    assert (t.first, t.gap, t.total, t.count) == (3, 4, 10, 6)
    assert [c[1] for _, c in rows] == ["1.5", "3.0", "4.5", "12.0", "13.5", "15.0"]
    assert '<tr class="gap"><td colspan="2">… 4 rows not shown …</td></tr>' in t.rows
    # Overlapping first and last rows: the whole table, each row once.
    whole = build_preview(_rows(1, 5), _rows(3, 7), columns=cols, total=6, timed=True)
    assert [c[0] for _, c in _cells(whole.rows)] == [f"2024-01-0{i}" for i in range(1, 7)]
    assert whole.gap == 0 and 'class="gap"' not in whole.rows
    # No time column: the first rows only.
    plain = build_preview(_rows(1, 4), _rows(8, 11), columns=cols, total=10, timed=False)
    assert [p for p, _ in _cells(plain.rows)] == ["first"] * 3 and plain.gap == 0
    # An older metadata.json without first rows: the last rows, said as such.
    old = build_preview([], _rows(8, 11), columns=cols, total=10, timed=True)
    assert old.first == 0 and old.count == 3


def test_preview_numbers_share_a_format_per_column_and_cells_are_escaped() -> None:
    from opendata_portal.preview import build_preview

    rows = [{"n": 58_000_000, "y": 2024, "f": 4}, {"n": 1, "y": 2025, "f": 4.75}]
    cols = [("n", "int64"), ("y", "int64"), ("f", "double")]
    t = build_preview(rows, [], columns=cols, total=2, timed=False)
    assert [c for _, c in _cells(t.rows)] == [["58,000,000", "2024", "4.00"], ["1", "2025", "4.75"]]
    assert all(c.numeric for c in t.columns)
    hostile = "<script>x</script>" * 3
    long = build_preview([{"s": hostile}], [], columns=[("s", "string")], total=1, timed=False)
    assert "<script>" not in long.rows and 'class="long" tabindex="0"' in long.rows
    assert _cells(long.rows)[0][1] == [hostile] and not long.columns[0].numeric


@pytest.mark.parametrize("n", [1, 2])
def test_history_chart_with_few_publishes_draws_bars_with_values(n: int) -> None:
    from opendata_portal.chart import history_svg
    from tests.portal import samples

    svg = history_svg(samples.history(n).publishes, title="t").decode()
    assert 'class="bar"' in svg or "rect" in svg
    assert "1,000" in svg  # the value printed on its bar
    small = history_svg(samples.history(n).publishes, title="t", small=True).decode()
    assert 'width="360"' in small or 'viewBox="0 0 360' in small
