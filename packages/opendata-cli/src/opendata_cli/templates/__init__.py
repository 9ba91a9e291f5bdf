"""The files ``od init`` and ``od deploy`` write, as packaged templates.

Placeholders are ``%{name}`` (``string.Template`` with ``%`` as the delimiter, because ``$`` is
GitHub Actions' expression syntax); ``%%`` is a literal percent sign. Lines that start with
``#%`` are notes for maintainers and are dropped before rendering (``##`` would clash with
Markdown headings).
"""

from __future__ import annotations

import string
from importlib.resources import files

__all__ = ["render"]


class _Template(string.Template):
    delimiter = "%"


def render(name: str, /, **values: str) -> str:
    """Render the packaged template ``name`` with ``values``.

    Example:
        >>> render("requirements.txt.tmpl").splitlines()[-1]
        'pandas'

    Raises:
        KeyError: if the template uses a placeholder that ``values`` lacks.
    """
    text = files("opendata_cli.templates").joinpath(name).read_text(encoding="utf-8")
    kept = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#%"))
    return _Template(kept).substitute(values)
