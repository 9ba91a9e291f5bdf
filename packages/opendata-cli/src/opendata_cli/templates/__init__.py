"""The files ``od init`` and ``od deploy`` write, as packaged templates.

Placeholders are ``%{name}`` (``string.Template`` with ``%`` as the delimiter, because ``$`` is
GitHub Actions' expression syntax); ``%%`` is a literal percent sign. Lines that start with
``#%`` are notes for maintainers and are dropped before rendering (``##`` would clash with
Markdown headings).

The workflow template, which has conditional parts, is Jinja2 instead (:func:`render_jinja`),
with ``%{ ... }`` for expressions so that GitHub's ``${{ ... }}`` stays literal.
"""

from __future__ import annotations

import string
from importlib.resources import files
from typing import Any

__all__ = ["cli_requirement", "render", "render_jinja"]


def cli_requirement() -> str:
    """``opendata-cli==<this version>``, the pin in every file ``od init``/``od deploy`` write.

    The workflow then runs exactly the release that wrote it, never a newer or a look-alike one.
    """
    from opendata_cli import __version__

    return f"opendata-cli=={__version__}"


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
    return _Template(_read(name)).substitute(values)


def _read(name: str) -> str:
    """The packaged template ``name`` without its ``#%`` maintainer notes."""
    text = files("opendata_cli.templates").joinpath(name).read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#%"))


def render_jinja(name: str, /, **values: Any) -> str:
    """Render the packaged Jinja2 template ``name`` with ``values``.

    Filters: ``q`` (a quoted YAML string) and ``label`` (a flow-list item, plain when safe).

    Raises:
        jinja2.UndefinedError: if the template uses a name that ``values`` lacks.
    """
    import jinja2

    from opendata_core.metadata import yaml_scalar

    env = jinja2.Environment(
        variable_start_string="%{",
        variable_end_string="}",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        # YAML, not HTML: every user value goes through `q` or `label`, which quote it for YAML.
        autoescape=False,  # noqa: S701
    )
    env.filters["q"] = lambda value: yaml_scalar(str(value), quote=True)
    env.filters["label"] = lambda value: yaml_scalar(str(value), flow=True)
    return env.from_string(_read(name)).render(**values)
