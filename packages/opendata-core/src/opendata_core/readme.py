"""The ``README.md`` written next to a dataset when its producer gives none.

Example:
    >>> from opendata_core.metadata import DatasetMetadata, Source
    >>> meta = DatasetMetadata(id="ecb/fx", title="FX rates", description="Daily rates.",
    ...     license="CC-BY-4.0", repo="https://github.com/ecb/fx", source=Source(provider="ECB"))
    >>> print(render_readme(meta).splitlines()[0])
    # FX rates
    >>> [line for line in render_readme(meta).splitlines() if line.startswith("- ")]
    ['- Source: ECB', '- License: CC-BY-4.0', '- Repository: https://github.com/ecb/fx']
"""

from __future__ import annotations

from opendata_core.metadata import DatasetMetadata

__all__ = ["render_readme"]


def render_readme(meta: DatasetMetadata) -> str:
    """Markdown for a dataset: title, description, source, licence, repository, a usage line.

    Source, licence and repository are list items, so Markdown renders them on lines of their own.
    """
    lines = [f"# {meta.title}", "", meta.description.strip(), ""]
    if meta.source.provider:
        lines.append(
            f"- Source: {meta.source.provider}"
            + (f" ({meta.source.homepage})" if meta.source.homepage else "")
        )
    if meta.license:
        lines.append(f"- License: {meta.license}")
    if meta.repo:
        lines.append(f"- Repository: {meta.repo}")
    lines += ["", "```python", "import opendata as od", f'df = od.load("{meta.id}")', "```", ""]
    return "\n".join(lines)
