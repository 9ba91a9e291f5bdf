"""Tables that keep one row on one line at any terminal width (od list, search, versions).

rich wraps a cell that does not fit, so at 80 columns a header broke mid-word ("publishe / d")
and licences and timestamps were split over lines. Here every cell is kept whole (``no_wrap``):
a column that does not fit is left out, least important first, and only a column marked
``shrink`` (a title, a URL) is cut, with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Column", "print_table", "short_time"]

_GAP = 2
"""Spaces between two columns."""


@dataclass(frozen=True)
class Column:
    """One column: its header and how it gives way when the terminal is narrow."""

    header: str
    drop: int = 0
    """Order of leaving out: the highest goes first; 0 never goes."""
    shrink: int = 0
    """Narrowest width this column may be cut to (with …); 0: never cut."""
    justify: str = "left"


def short_time(value: str | None) -> str:
    """An ISO time as its date (``2024-12-01T00:00:00+00:00`` → ``2024-12-01``) for a table."""
    if not value:
        return ""
    return value[:10] if len(value) > 10 and value[4:5] == "-" else value


def _natural(column: Column, cells: Sequence[str]) -> int:
    return max([len(column.header), *(len(c) for c in cells)])


def _layout(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """The width of each column (0: left out) so that a row fits in ``width``."""
    natural = [_natural(c, [r[i] for r in rows]) for i, c in enumerate(columns)]
    shown = list(range(len(columns)))

    def least(i: int) -> int:
        return min(columns[i].shrink, natural[i]) if columns[i].shrink else natural[i]

    def needed() -> int:
        return sum(least(i) for i in shown) + _GAP * (len(shown) - 1)

    for i in sorted(range(len(columns)), key=lambda i: -columns[i].drop):
        if needed() <= width or columns[i].drop == 0:
            break
        shown.remove(i)
    widths = [least(i) if i in shown else 0 for i in range(len(columns))]
    spare = width - needed()
    for i in shown:  # the room left goes to the cut columns, in column order
        if columns[i].shrink and spare > 0:
            extra = min(spare, natural[i] - widths[i])
            widths[i] += extra
            spare -= extra
    return widths


def print_table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``columns`` on stdout, one line per row, within the terminal."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    widths = _layout(columns, rows, console.width)
    table = Table(box=None, header_style="bold", padding=(0, _GAP // 2), pad_edge=False)
    shown = [i for i, w in enumerate(widths) if w]
    for i in shown:
        column = columns[i]
        table.add_column(
            column.header,
            no_wrap=True,
            overflow="ellipsis" if column.shrink else "crop",
            width=widths[i],
            justify=column.justify,  # type: ignore[arg-type]
        )
    for row in rows:
        table.add_row(*(Text(row[i]) for i in shown))
    console.print(table)
