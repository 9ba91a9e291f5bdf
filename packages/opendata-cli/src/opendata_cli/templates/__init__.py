"""The files ``od init`` and ``od deploy`` write, as packaged templates.

Placeholders are ``%{name}`` (``string.Template`` with ``%`` as the delimiter, because ``$`` is
GitHub Actions' expression syntax); ``%%`` is a literal percent sign. Lines that start with
``#%`` are notes for maintainers and are dropped before rendering (``##`` would clash with
Markdown headings).
"""

from __future__ import annotations

import string
from importlib.resources import files

__all__ = ["cli_requirement", "render"]


def cli_requirement() -> str:
    """``opendata-cli==<this version>``, the pin in every file ``od init``/``od deploy`` write.

    The workflow then runs exactly the release that wrote it, never a newer or a look-alike one.
    """
    from importlib.metadata import version

    return f"opendata-cli=={version('opendata-cli')}"


class _Template(string.Template):
    delimiter = "%"


def render(name: str, /, **values: str) -> str:
    """Render the packaged template ``name`` with ``values``.

    Example:
        >>> render("requirements.txt.tmpl", cli_requirement="opendata-cli==0.1.0").splitlines()[-1]
        'pandas'

    Raises:
        KeyError: if the template uses a placeholder that ``values`` lacks.
    """
    text = files("opendata_cli.templates").joinpath(name).read_text(encoding="utf-8")
    kept = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#%"))
    return _Template(kept).substitute(values)
