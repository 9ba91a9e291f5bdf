"""The example texts ``od init`` writes, and the check that they never get published.

A placeholder left in ``opendata.yaml`` is a warning on the producer's machine (they are still
writing it) and an error in GitHub Actions (``GITHUB_ACTIONS=true``), where a run would publish
it: ``od run``, ``od push``, ``od validate`` and ``od deploy`` apply the same rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from opendata_core import DatasetMetadata, Finding

__all__ = [
    "DEFAULT_DESCRIPTION",
    "DEFAULT_PROVIDER",
    "PLACEHOLDER_NAMESPACE",
    "check_placeholders",
    "enforce_placeholders",
    "placeholder_severity",
]

PLACEHOLDER_NAMESPACE: Final = "me"
DEFAULT_DESCRIPTION: Final = (
    "Describe the dataset here: what one row is, the columns and their units, the period and "
    "places it covers, and any caveats."
)
DEFAULT_PROVIDER: Final = "Who publishes the original data"


def placeholder_severity() -> Literal["error", "warning"]:
    """``error`` in GitHub Actions (where a run publishes), else ``warning``."""
    from opendata_cli._github import _ci

    return "error" if _ci().github_actions else "warning"


def check_placeholders(path: Path, meta: DatasetMetadata) -> list[Finding]:
    """The example texts of ``od init`` still in ``path``, at :func:`placeholder_severity`."""
    from opendata_core import Finding

    severity = placeholder_severity()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []

    def finding(field: str, needle: str, message: str, hint: str) -> Finding:
        line = next(
            (i for i, t in enumerate(lines, 1) if needle in t and not t.lstrip().startswith("#")),
            None,
        )
        if severity == "error":
            message += "; it is never published (GITHUB_ACTIONS=true)"
        return Finding(
            path=str(path),
            line=line,
            column=None,
            field=field,
            message=message,
            hint=hint,
            severity=severity,
        )

    found = []
    if meta.id.split("/")[0] == PLACEHOLDER_NAMESPACE:
        found.append(
            finding(
                "id",
                "id:",
                f"the namespace {PLACEHOLDER_NAMESPACE!r} is the placeholder `od init` writes",
                "use your GitHub user or organisation, in `repo` too",
            )
        )
    if " ".join(meta.description.split()) == DEFAULT_DESCRIPTION:
        found.append(
            finding(
                "description",
                DEFAULT_DESCRIPTION.split(":")[0],
                "still the example text of `od init`",
                "say what one row is, the columns and their units, the coverage and caveats",
            )
        )
    if meta.source.provider == DEFAULT_PROVIDER:
        found.append(
            finding(
                "source.provider",
                DEFAULT_PROVIDER,
                "still the example text of `od init`",
                "name who publishes the original data",
            )
        )
    return found


def enforce_placeholders(
    path: Path, meta: DatasetMetadata, warn: Callable[[str], None] | None = None
) -> None:
    """Pass each placeholder left in ``path`` to ``warn``, or raise in GitHub Actions.

    ``warn`` defaults to a yellow ``warning: …`` line on stderr.

    Raises:
        MetadataError: in GitHub Actions, naming every placeholder and where it is.
    """
    from opendata_core.errors import MetadataError

    found = check_placeholders(path, meta)
    if errors := [p for p in found if p.severity == "error"]:
        raise MetadataError(errors)
    for item in found:
        if warn is None:
            import click

            click.secho(f"warning: {item}", fg="yellow", err=True)
        else:
            warn(str(item))
