"""A finding: one error or warning in a user-written file (``opendata.yaml``), located.

Not to be confused with :mod:`opendata_core.problems`, the HTTP error table.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Finding"]


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """A single error or warning in a file, located by line and column (both 1-based).

    ``str(finding)`` gives the one-line form tools print, ``file:line:col: field: message (hint)``:
    ``opendata.yaml:7:10: geo.countries[1]: 'USA' is not an ISO 3166-1 alpha-2 code
    (did you mean 'US'?)`` (on one line).
    """

    path: str
    line: int | None
    column: int | None
    field: str
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        if self.hint:
            text += f" ({self.hint})"
        return text
