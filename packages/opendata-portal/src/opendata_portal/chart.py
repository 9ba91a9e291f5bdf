"""The history chart: rows per publish, schema changes marked — drawn by pygal as an SVG.

The chart is its own resource (``/{ns}/{name}/history.svg``), shown with ``<img>``: an image never
runs scripts, and the page keeps a Content-Security-Policy without inline styles (pygal puts its
stylesheet inside the SVG). The page also lists the same numbers in a table for screen readers.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Final

from opendata_core.api import PublishSummary

__all__ = ["history_svg"]

_SVG_NS: Final = "http://www.w3.org/2000/svg"


def _pygal() -> Any:
    import pygal  # ~40 ms to import; only the chart route needs it

    # pygal puts an import hook for its optional ``pygal.maps`` plugins on sys.meta_path that
    # raises an ImportWarning on every later import anywhere in the process; we use no plugins.
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]
    return pygal


def history_svg(publishes: Sequence[PublishSummary], *, title: str, small: bool = False) -> bytes:
    """An SVG chart of ``row_count`` per publish, schema changes marked.

    A line with one or two points is a lone dot or a bare segment: those get bars with their
    values printed. ``small`` draws for a phone (360 px wide, the same 12 px text at 1:1)
    instead of scaling the desktop chart down until its text cannot be read.
    """
    pygal = _pygal()
    from pygal.etree import etree  # lxml when installed, else xml.etree: pygal's own choice
    from pygal.style import Style

    style = Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1f2328",
        foreground_strong="#1f2328",
        foreground_subtle="#59636e",
        colors=("#0b5cad", "#b35900"),
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=13,
        title_font_size=14,
        value_font_size=13,
    )
    few = len(publishes) <= 2
    kind = pygal.Bar if few else pygal.Line
    chart: Any = kind(
        style=style,
        js=[],  # no tooltips script from pygal's CDN
        disable_xml_declaration=True,
        width=360 if small else 720,
        height=260 if small else 280,
        title=None if small else title,
        legend_at_bottom=True,
        show_legend=not few,
        show_minor_x_labels=len(publishes) <= (3 if small else 6),
        x_labels_major_count=3 if small else 6,
        show_minor_y_labels=False,
        y_labels_major_count=4 if small else 5,
        truncate_label=-1,
        x_label_rotation=0 if len(publishes) <= (2 if small else 3) else 25,
        margin_right=20 if small else 40,
        value_formatter=lambda v: f"{v:,.0f}",
        print_values=few,
        dots_size=3,
        include_x_axis=True,
        no_data_text="no publishes yet",
    )
    days = [p.published_at.strftime("%Y-%m-%d") for p in publishes]
    same_day = len(set(days)) < len(days)
    if small and same_day and len(set(days)) == 1:
        # One day on a phone: the times say it; the date is in the table below.
        chart.x_labels = [p.published_at.strftime("%H:%M") for p in publishes]
    else:
        chart.x_labels = [
            p.published_at.strftime("%Y-%m-%d %H:%M") if same_day else day
            for p, day in zip(publishes, days, strict=True)
        ]
    if few:
        # Bars: a schema change is marked in the label (the caption says what ✱ means).
        chart.x_labels = [
            label + (" ✱" if p.schema_changed else "")
            for label, p in zip(chart.x_labels, publishes, strict=True)
        ]
        chart.add("rows", [p.row_count for p in publishes])
    else:
        chart.add("rows", [p.row_count for p in publishes])
        chart.add(
            "schema changed",
            [p.row_count if p.schema_changed else None for p in publishes],
            stroke=False,
            dots_size=7,
        )
    tree = chart.render_tree()
    # pygal always adds a <script> with its config for its tooltip JS; an <img> would never run
    # it, but there is no reason to ship it.
    for parent in list(tree.iter()):
        for child in list(parent):
            if child.tag in ("script", f"{{{_SVG_NS}}}script"):
                parent.remove(child)
    return bytes(etree.tostring(tree, encoding="utf-8"))
