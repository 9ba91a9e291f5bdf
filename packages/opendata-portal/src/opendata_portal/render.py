r"""Turning registry data into safe, readable HTML fragments and strings.

READMEs are Markdown written by producers: anyone can publish one, so the HTML that markdown-it-py
produces is sanitised by nh3 (ammonia) with an allow-list of tags and only ``http``, ``https``
and ``mailto`` URLs: scripts, event handlers, ``javascript:`` and ``data:`` URLs, SVG, iframes and
styles are removed. Images become links (``Image: <alt> (<host>)``): an image loaded from the
producer's host would tell the producer every visitor's address, so the page never loads one, and
its Content-Security-Policy says ``img-src 'self' data:`` (``SECURITY_HEADERS`` in ``app.py``).

Example:
    >>> str(readme_html('# Hi <script>alert(1)</script><a href="javascript:alert(1)">x</a>'))
    '<h3>Hi <a rel="noopener noreferrer nofollow ugc">x</a></h3>\n'
    >>> str(readme_html('![logo](https://example.org/l.png)')).split(">")[2]
    'Image: logo (example.org)</a'
    >>> human_bytes(1_234_567), human_count(1234567)
    ('1.2 MB', '1,234,567')
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup, escape

__all__ = [
    "absolute_time",
    "coverage",
    "highlight",
    "human_bytes",
    "human_count",
    "plural",
    "readme_html",
    "relative_time",
    "safe_url",
    "script_json",
    "spdx_url",
    "ticks",
]

_URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
_TAGS: Final = frozenset(nh3.ALLOWED_TAGS - {"map", "area", "img"})


def _demote_headings(state: StateCore) -> None:
    # The page's <h1> is the dataset's title and <h2> the "README" section: README headings
    # start at <h3>, so the page's outline stays in order.
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 2)}"


# linkify: bare URLs in a README become links (linkify-it-py finds them); nh3 then keeps only
# http(s) and mailto ones, like every other link.
_MD: Final = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(
    ["table", "strikethrough", "linkify"]
)
_MD.core.ruler.push("demote_headings", _demote_headings)
_CLEANER_OPTIONS: Final[dict[str, Any]] = {
    "url_schemes": set(_URL_SCHEMES),
    "link_rel": "noopener noreferrer nofollow ugc",
    "strip_comments": True,
    # A README's relative links point into the producer's repository, not into the portal.
    "url_relative": "deny",
}
_FIRST_PASS: Final = nh3.Cleaner(tags=set(_TAGS | {"img"}), **_CLEANER_OPTIONS)
"""Sanitises with images kept, so :class:`_ImagesAsLinks` reads well-formed, safe tags."""
_CLEANER: Final = nh3.Cleaner(tags=set(_TAGS), **_CLEANER_OPTIONS)
"""The final pass: no ``<img>`` can come out of it."""


class _ImagesAsLinks(HTMLParser):
    """Finds every ``<img>`` of sanitised HTML and what replaces it: a link, or text in a link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[tuple[int, int], str, str]] = []
        """(line, column) of each tag, its text, and its replacement."""
        self._in_link = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._in_link += 1
        elif tag == "img":
            self.found.append((self.getpos(), self.get_starttag_text() or "", self._text(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.found.append((self.getpos(), self.get_starttag_text() or "", self._text(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._in_link:
            self._in_link -= 1

    def _text(self, attrs: list[tuple[str, str | None]]) -> str:
        values = dict(attrs)
        src = safe_url(values.get("src"))
        host = urlsplit(src).hostname if src else None
        label = f"Image: {values.get('alt') or 'untitled'}" + (f" ({host})" if host else "")
        if src is None or self._in_link:  # inside a link (a badge): its text, not a second link
            return str(escape(label))
        return str(Markup('<a href="%s">%s</a>') % (src, label))


_NEWLINE: Final = re.compile("\n")


def _images_as_links(html: str) -> str:
    parser = _ImagesAsLinks()
    parser.feed(html)
    parser.close()
    if not parser.found:
        return html
    # HTMLParser counts lines by "\n" alone (not by every line break str.splitlines knows).
    starts = [0, *(m.end() for m in _NEWLINE.finditer(html))]
    out, last = [], 0
    for (line, column), tag, replacement in parser.found:
        at = starts[line - 1] + column
        out += [html[last:at], replacement]
        last = at + len(tag)
    return "".join([*out, html[last:]])


def readme_html(markdown: str) -> Markup:
    """Render a README (Markdown, raw HTML allowed) to sanitised HTML; images become links."""
    linked = _images_as_links(_FIRST_PASS.clean(_MD.render(markdown)))
    return Markup(_CLEANER.clean(linked))  # noqa: S704 - sanitised by nh3 above


def script_json(value: Any) -> Markup:
    """JSON for a ``<script type="application/ld+json">`` block.

    ``<``, ``>`` and ``&`` are escaped, so no value can close the element or open a comment.
    """
    import msgspec

    text = msgspec.json.encode(value).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - JSON with every markup character escaped


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL, else ``None`` (never a ``javascript:`` link)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        return url.strip()
    return None


_SPDX_ID: Final = re.compile(r"[A-Za-z0-9.+-]{1,64}")


def spdx_url(license_id: str) -> str | None:
    """The SPDX page of a licence identifier (``None`` for free text like "Public Domain")."""
    if _SPDX_ID.fullmatch(license_id):
        return f"https://spdx.org/licenses/{license_id}.html"
    return None


def human_bytes(n: int | None) -> str:
    """``1234567`` → ``"1.2 MB"`` (decimal units, like file managers)."""
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def human_count(n: int | None) -> str:
    """``1234567`` → ``"1,234,567"``."""
    return "—" if n is None else f"{n:,}"


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def relative_time(when: datetime | None, now: datetime | None = None) -> str:
    """``"3 h ago"``, ``"2 days ago"``, ``"just now"``; ``"never"`` for ``None``."""
    if when is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - _aware(when)).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day")):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            break
    else:
        if seconds >= 3600:
            text = f"{int(seconds // 3600)} h"
        elif seconds >= 60:
            text = f"{int(seconds // 60)} min"
        else:
            return "just now"
    return f"in {text}" if future else f"{text} ago"


def absolute_time(when: datetime | None) -> str:
    """``"2025-06-30 14:02 UTC"``."""
    if when is None:
        return "—"
    return _aware(when).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso_time(when: datetime | None) -> str:
    """The machine-readable form for ``<time datetime=…>``."""
    return "" if when is None else _aware(when).astimezone(UTC).isoformat()


def coverage(min_time: str | None, max_time: str | None) -> str:
    """``"2015-01-02 → 2025-06-30"``, shortened to dates; ``"—"`` without a time column."""
    if not min_time and not max_time:
        return "—"
    return f"{(min_time or '?')[:10]} → {(max_time or '?')[:10]}"


_WORD: Final = re.compile(r"\w+", re.UNICODE)


def highlight(text: str, query: str, *, limit: int = 240) -> Markup:
    """``text`` shortened to ``limit`` characters, HTML-escaped, with query words in ``<mark>``."""
    text = _TICKS.sub(r"\1", text)  # a snippet shows code spans as their text, no backticks
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "…"
    words = sorted({w for w in _WORD.findall(query.lower()) if len(w) > 1}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out = Markup()
    last = 0
    for match in pattern.finditer(text):
        out += escape(text[last : match.start()]) + Markup("<mark>%s</mark>") % match.group(0)
        last = match.end()
    return out + escape(text[last:])


_TICKS: Final = re.compile(r"`([^`\n]+)`")


def ticks(text: str) -> Markup:
    """Plain text with Markdown's inline code spans (`` `x` ``) shown as ``<code>``, escaped."""
    out = Markup()
    last = 0
    for match in _TICKS.finditer(text):
        out += escape(text[last : match.start()]) + Markup("<code>%s</code>") % match.group(1)
        last = match.end()
    return out + escape(text[last:])


def plural(n: int, one: str, many: str) -> str:
    """``"1 publish"``, ``"2 publishes"``, ``"1,234 runs"``."""
    return f"{n:,} {one if n == 1 else many}"


def cell(value: Any) -> str:
    """A preview cell as text (``None`` is handled by the template as a muted "null")."""
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        import msgspec

        return msgspec.json.encode(value).decode()
    return str(value)


def is_number(value: Any) -> bool:
    """Right-align numbers in tables."""
    return isinstance(value, int | float) and not isinstance(value, bool)
