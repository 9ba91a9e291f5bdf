"""The schema table's column statistics: figures as text and bars as inline SVG rectangles.

Built from the publish's :class:`~opendata_core.profile.Profile`. The bars are computed here and
written by the template as ``<rect>`` elements of an inline ``<svg>`` with classes (the page's
Content-Security-Policy allows no inline style), so they work without JavaScript and need no
image request. Each bar has a ``<title>`` (shown on hover) and each chart an ``aria-label``;
the figures beside it say the same in words.

Example:
    >>> from opendata_core.profile import ColumnProfile, Histogram
    >>> col = ColumnProfile(name="x", type="double", kind="float", nulls=0, distinct=3,
    ...     min=1.0, max=3.0, mean=2.0, std=0.8165,
    ...     histogram=Histogram(edges=[1.0, 2.0, 3.0], counts=[1, 2]))
    >>> v = column_view(col, rows=3, time_periods=None)
    >>> v.figures, [b.height for b in v.bars]
    (['min 1, max 3', 'mean 2 ± 0.8165'], [11.0, 22.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from opendata_core.profile import ColumnProfile, Periods, Profile, ValueCount

__all__ = ["Bar", "ColumnView", "column_view", "column_views"]

WIDTH: Final = 120
HEIGHT: Final = 24
_GAP: Final = 1.0


@dataclass(frozen=True)
class Bar:
    """One rectangle of a chart and what it stands for."""

    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class ColumnView:
    """What the schema table shows for one column."""

    nulls: str
    distinct: str
    figures: list[str]
    bars: list[Bar]
    label: str
    """The chart in words (its ``aria-label``)."""
    kind: str
    """``histogram``, ``top`` or ``periods``: how to read the bars."""


def _num(value: float | int | str | bool | None) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e15 else f"{value:.3e}"
    return value


def _bars(counts: Sequence[int], titles: Sequence[str]) -> list[Bar]:
    if not counts:
        return []
    top = max(counts) or 1
    width = WIDTH / len(counts)
    bars = []
    for i, (count, title) in enumerate(zip(counts, titles, strict=True)):
        height = 0.0 if count == 0 else max(1.0, round(count / top * (HEIGHT - 2), 1))
        bars.append(
            Bar(
                x=round(i * width, 2),
                y=round(HEIGHT - height, 2),
                width=round(max(width - _GAP, 0.5), 2),
                height=height,
                title=title,
            )
        )
    return bars


def _top_bars(top: Sequence[ValueCount], rows: int) -> tuple[list[Bar], str]:
    titles = [f"{v.value}: {v.count:,} rows" for v in top]
    shown = ", ".join(f"{v.value} ({v.count:,})" for v in top[:3])
    return _bars([v.count for v in top], titles), f"Most frequent values: {shown}"


def column_view(col: ColumnProfile, *, rows: int, time_periods: Periods | None) -> ColumnView:
    """The figures and bars of one column (``time_periods``: for the time column)."""
    share = col.null_share(rows)
    nulls = (
        "none"
        if col.nulls == 0
        else f"{col.nulls:,} ({share:.0%})"
        if share >= 0.01
        else f"{col.nulls:,} (<1%)"
    )
    if col.distinct is None:
        distinct = "—"
    else:
        distinct = f"{col.distinct:,}" if col.distinct_exact else f"~{col.distinct:,}"
    figures: list[str] = []
    if col.min is not None or col.max is not None:
        figures.append(f"min {_num(col.min)}, max {_num(col.max)}")
    if col.mean is not None:
        figures.append(f"mean {_num(col.mean)} ± {_num(col.std)}")
    bars: list[Bar] = []
    label, kind = "", "histogram"
    if time_periods is not None and time_periods.counts:
        per = time_periods.counts
        bars = _bars([p.count for p in per], [f"{p.value}: {p.count:,} rows" for p in per])
        label = (
            f"Rows per {time_periods.unit}, {per[0].value} to {per[-1].value}: "
            f"{min(p.count for p in per):,} to {max(p.count for p in per):,}"
        )
        kind = "periods"
    elif col.histogram is not None and col.histogram.counts:
        edges, counts = col.histogram.edges, col.histogram.counts
        titles = [
            f"{_num(edges[i])} to {_num(edges[i + 1])}: {c:,} rows" for i, c in enumerate(counts)
        ]
        bars = _bars(counts, titles)
        label = f"Histogram from {_num(edges[0])} to {_num(edges[-1])} in {len(counts)} bins"
    elif col.top:
        bars, label = _top_bars(col.top, rows)
        kind = "top"
    return ColumnView(
        nulls=nulls, distinct=distinct, figures=figures, bars=bars, label=label, kind=kind
    )


def column_views(profile: Profile | None, time_column: str | None) -> dict[str, ColumnView]:
    """Column name → its view (empty without a profile)."""
    if profile is None:
        return {}
    return {
        col.name: column_view(
            col,
            rows=profile.row_count,
            time_periods=profile.time if col.name == time_column else None,
        )
        for col in profile.columns
    }
