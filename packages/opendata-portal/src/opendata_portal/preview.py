"""The preview table: the first and last rows of a dataset, each column formatted one way.

Rows come from ``metadata.json``: ``preview_head`` (the first rows) and ``preview`` (the last
rows). A dataset with a time column shows both, with a gap row saying how many rows lie between
(none when the two overlap: the whole table is shown once); without a time column, the first
rows. Numbers of one column share their number of decimals (``4.0`` next to ``4.7``, never
``4``), and every cell keeps its raw value for the page's client-side sort.

Example:
    >>> rows = [{"x": 4}, {"x": 4.7}]
    >>> t = build_preview(rows, [], columns=[("x", "double")], total=2, timed=False)
    >>> t.columns[0].numeric, str(t.rows).count('class="num"')
    (True, 2)
    >>> '>4.0</td>' in t.rows and '>4.7</td>' in t.rows
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape as html_escape
from typing import Any, Final

from markupsafe import Markup

from opendata_portal.render import cell as cell_text

__all__ = ["Column", "PreviewTable", "build_preview"]

LONG: Final = 32
"""Cells longer than this many characters are cut with an ellipsis; hover or focus shows all."""
_MAX_DECIMALS: Final = 6
_GROUP_FROM: Final = 100_000
"""Integers are grouped (``58,000,000``) in columns that reach this size, so years stay ``2024``."""


@dataclass(frozen=True)
class Column:
    """One column of the preview."""

    name: str
    type: str
    numeric: bool


@dataclass(frozen=True)
class PreviewTable:
    """What the preview section shows."""

    columns: list[Column]
    rows: Markup
    """The ``<tr>`` elements of the table's body (see :func:`build_preview`)."""
    count: int
    """Rows shown."""
    first: int
    """How many rows are first rows (the rest are last rows)."""
    gap: int
    """Rows of the dataset between the first and the last rows shown."""
    total: int


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decimals(value: float) -> int:
    text = f"{value:.10g}"
    if "e" in text or "." not in text:
        return 0
    return min(_MAX_DECIMALS, len(text.split(".", 1)[1]))


def _formatter(values: Sequence[Any]) -> Any:
    numbers = [v for v in values if _is_number(v)]
    floats = [v for v in numbers if isinstance(v, float)]
    if floats:
        finite = [v for v in floats if v == v and abs(v) != float("inf")]
        places = max((_decimals(v) for v in finite), default=0)
        places = max(places, 1)  # a float column shows it is one: 4.0, not 4

        def fmt(v: Any) -> str:
            if isinstance(v, float) and (v != v or abs(v) == float("inf")):
                return cell_text(v)
            return f"{float(v):,.{places}f}"

        return fmt
    if numbers and max(abs(v) for v in numbers) >= _GROUP_FROM:
        return lambda v: f"{v:,}"
    return cell_text


def build_preview(
    head: Sequence[Mapping[str, Any]],
    tail: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[tuple[str, str]],
    total: int,
    timed: bool,
) -> PreviewTable:
    """The rows to show and how, from the first rows, the last rows and the dataset's size."""
    gap = 0
    if not timed or not tail:
        rows_in, first = list(head or tail), len(head or tail)
    elif not head:
        rows_in, first = list(tail), 0
    else:
        overlap = len(head) + len(tail) - total
        if overlap >= 0:
            rows_in, first = [*head, *tail[overlap:]], len(head)
        else:
            rows_in, first, gap = [*head, *tail], len(head), total - len(head) - len(tail)
    if not timed and head:
        gap = 0
    formats = [_formatter([r.get(name) for r in rows_in]) for name, _ in columns]
    out_columns = [
        Column(name, type_, numeric=any(_is_number(r.get(name)) for r in rows_in))
        for name, type_ in columns
    ]
    names = [name for name, _ in columns]
    null = ['<td class="null" data-sort="">null</td>'] * len(names)
    for i, column in enumerate(out_columns):
        if column.numeric:
            null[i] = '<td class="null num" data-sort="">null</td>'
    # Built here, not in the template: 200 rows of cells through Jinja cost ~10 ms a page.
    html: list[str] = []
    numbers = (int, float)
    for i, raw in enumerate(rows_in):
        if i == first and gap > 0:
            html.append(
                f'<tr class="gap"><td colspan="{len(names)}">… {gap:,} row'
                f"{'' if gap == 1 else 's'} not shown …</td></tr>"
            )
        html.append('<tr data-part="first">' if i < first else '<tr data-part="last">')
        for j, name in enumerate(names):
            value = raw.get(name)
            if value is None:
                html.append(null[j])
                continue
            number = type(value) in numbers  # not bool: True is no number here
            text = formats[j](value) if number else cell_text(value)
            shown = html_escape(text)
            sort = html_escape(repr(value)) if number else shown
            if len(text) > LONG:
                html.append(
                    f'<td class="long{" num" if number else ""}" tabindex="0" title="{shown}" '
                    f'data-sort="{sort}"><span>{shown}</span></td>'
                )
            elif number:
                html.append(f'<td class="num" data-sort="{sort}">{shown}</td>')
            else:
                html.append(f'<td data-sort="{sort}">{shown}</td>')
        html.append("</tr>\n")
    return PreviewTable(
        columns=out_columns,
        rows=Markup("".join(html)),  # noqa: S704 - every value escaped above
        count=len(rows_in),
        first=first,
        gap=gap,
        total=total,
    )
