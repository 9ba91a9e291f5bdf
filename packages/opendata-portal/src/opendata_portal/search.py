"""The search page's state: parsed from the URL, checked, and turned back into URLs.

Every state of the search page is a plain GET URL, so a search can be bookmarked and shared.
:class:`SearchQuery` is the one place that knows the parameters; it builds the registry's query,
the links that add or remove one filter, and the pagination links.

Example:
    >>> q = SearchQuery.parse({"q": "rates", "topic": "finance", "page": "2"})
    >>> q.url(page=None)
    '/?q=rates&topic=finance'
    >>> q.without("topic")
    '/?q=rates'
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Final
from urllib.parse import urlencode

from opendata_core.api import SORTS
from opendata_core.errors import OpenDataError
from opendata_core.lifecycle import TRUST_LEVELS, TRUST_TERMS

__all__ = ["SearchInputError", "SearchQuery"]

_TIME_RE: Final = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_MAX_PAGE: Final = 10_000
_LABELS: Final = {
    "q": "search",
    "topic": "topic",
    "namespace": "publisher",
    "license": "licence",
    "frequency": "frequency",
    "geo": "geography",
    "updated_since": "updated since",
    "covers_from": "covers from",
    "covers_to": "covers to",
    "trust": "trust",
}


def _shown(name: str, value: str) -> str:
    """A filter's value as its chip says it (a trust level by its label)."""
    if name == "trust" and value in TRUST_TERMS:
        return TRUST_TERMS[value].label  # type: ignore[index]
    return value


class SearchInputError(OpenDataError, ValueError):
    """A search parameter in the URL has a value the portal cannot use."""

    def __init__(self, name: str, value: str, rule: str) -> None:
        super().__init__(f"{name}={value!r}: {rule}")
        self.field = name
        self.value = value
        self.rule = rule


def _check_time(name: str, value: str) -> str:
    if not _TIME_RE.fullmatch(value):
        raise SearchInputError(name, value, "use a date as YYYY, YYYY-MM or YYYY-MM-DD")
    parts = [int(p) for p in value.split("-")]
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise SearchInputError(name, value, "not a real calendar date") from None
    return value


def _whole_date(value: str, *, end: bool) -> str:
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return value
    if len(parts) == 1:
        return f"{parts[0]:04d}-12-31" if end else f"{parts[0]:04d}-01-01"
    if not end:
        return f"{parts[0]:04d}-{parts[1]:02d}-01"
    last = calendar.monthrange(parts[0], parts[1])[1]
    return f"{parts[0]:04d}-{parts[1]:02d}-{last:02d}"


@dataclass(frozen=True)
class SearchQuery:
    """One state of the search page (all fields optional; ``""`` means unset)."""

    q: str = ""
    topic: str = ""
    namespace: str = ""
    license: str = ""
    frequency: str = ""
    geo: str = ""
    updated_since: str = ""
    covers_from: str = ""
    covers_to: str = ""
    trust: str = ""
    """The lowest trust level shown (spec §10.1): that level and the ones above it."""
    sort: str = ""
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> SearchQuery:
        """Read and check the page's query parameters.

        Raises:
            SearchInputError: a value is malformed; the message names the parameter and the rule.
        """
        values = {
            name: str(params.get(name, "")).strip()[:200]
            for name in (f.name for f in fields(cls))
            if name != "page"
        }
        for name in ("updated_since", "covers_from", "covers_to"):
            if values[name]:
                _check_time(name, values[name])
        if values["trust"] and values["trust"] not in TRUST_LEVELS:
            raise SearchInputError(
                "trust", values["trust"], f"choose one of {', '.join(TRUST_LEVELS[1:])}"
            )
        if values["trust"] == "none":
            values["trust"] = ""  # every dataset: one URL per meaning
        if values["sort"] and values["sort"] not in SORTS:
            raise SearchInputError("sort", values["sort"], f"choose one of {', '.join(SORTS)}")
        if values["sort"] == "relevance":
            values["sort"] = ""  # the default: one URL per meaning
        raw_page = str(params.get("page", "") or "1").strip()
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= _MAX_PAGE:
            raise SearchInputError("page", raw_page, f"use a whole number from 1 to {_MAX_PAGE}")
        start, end = values["covers_from"], values["covers_to"]
        if start and end and end + "-12-31"[len(end) - 4 :] < start + "-01-01"[len(start) - 4 :]:
            raise SearchInputError(
                "covers_to", values["covers_to"], "must not be before covers_from"
            )
        return cls(**values, page=int(raw_page))

    @classmethod
    def parse_lenient(
        cls, params: Mapping[str, str]
    ) -> tuple[SearchQuery, SearchInputError | None]:
        """Like :meth:`parse`, but a bad value is dropped (and returned) instead of raised.

        The page then keeps the form and the other filters, and says what was wrong once.
        """
        try:
            return cls.parse(params), None
        except SearchInputError as exc:
            rest = {k: v for k, v in params.items() if k != exc.field}
            query, _ = cls.parse_lenient(rest)
            return query, exc

    def _pairs(self) -> list[tuple[str, str]]:
        pairs = [(f.name, getattr(self, f.name)) for f in fields(self)]
        return [(k, str(v)) for k, v in pairs if v and not (k == "page" and v == 1)]

    def registry_params(self, per_page: int) -> dict[str, str]:
        """The query for ``GET /v1/datasets``.

        The registry takes whole dates: ``covers_to=2020`` asks for coverage up to 2020-12-31,
        ``covers_from=2020`` and ``updated_since=2020`` from 2020-01-01.
        """
        params = dict(self._pairs())
        for name in ("updated_since", "covers_from", "covers_to"):
            if name in params:
                params[name] = _whole_date(params[name], end=name == "covers_to")
        params["page"] = str(self.page)
        params["per_page"] = str(per_page)
        return params

    def url(self, **changes: str | int | None) -> str:
        """This state's URL with some fields changed (``None`` or ``""`` removes a field).

        Changing anything but the page starts again at page 1.
        """
        values: dict[str, str | int] = {}
        for key, value in changes.items():
            values[key] = "" if value is None else value
        if "page" not in changes or changes["page"] is None:
            values["page"] = 1
        new = replace(self, **values)  # type: ignore[arg-type]
        query = urlencode(new._pairs())
        return f"/?{query}" if query else "/"

    def without(self, name: str) -> str:
        """The URL with one filter removed (a chip's link)."""
        return self.url(**{name: None})

    def chips(self) -> list[tuple[str, str, str]]:
        """The active filters as ``(label, value, URL without it)``."""
        return [
            (_LABELS[name], _shown(name, value), self.without(name))
            for name, value in self._pairs()
            if name in _LABELS
        ]

    def trust_facet(self, counts: Mapping[str, int]) -> list[tuple[str, str, int, str]]:
        """The trust filter's choices: ``(level, label, datasets at it or above, URL)``.

        ``counts`` are the registry's datasets per level in force; a choice keeps its level
        and the ones above it (``trust=verified-source`` shows the audited ones too).
        """
        out: list[tuple[str, str, int, str]] = []
        for i, level in enumerate(TRUST_LEVELS[1:], start=1):
            total = sum(counts.get(higher, 0) for higher in TRUST_LEVELS[i:])
            url = self.url(trust=None if level == self.trust else level)
            out.append((level, TRUST_TERMS[level].label + " or higher", total, url))
        return out

    @property
    def filtered(self) -> bool:
        """Whether any keyword or filter is set."""
        return bool(self.chips())
