"""What ``od deploy`` checks before it writes: the publishing mode, and git.

A workflow can go wrong without a word: rewritten from keyless (registry) to store secrets by a
re-run without ``--registry``, or written into a folder that never reaches the GitHub repository
it links to. :func:`choose_mode` never switches an existing workflow's mode unless ``--mode`` says
so; :func:`git_problems` compares the git remote with ``repo`` and the id, by the rule the
registry applies at a first publish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from opendata_cli._exit import CommandFailed

if TYPE_CHECKING:
    from opendata_core.metadata import DatasetMetadata

__all__ = ["GitProblem", "Mode", "ModeChoice", "choose_mode", "git_problems", "workflow_mode"]

Mode = Literal["store", "registry"]


@dataclass(frozen=True)
class ModeChoice:
    """How the workflow publishes, and what that changes."""

    mode: Mode
    registry: str | None
    """The registry's URL in registry mode."""
    previous: Mode | None
    """The mode of the workflow that was there, if any."""
    note: str | None = None
    """A line for the user when the mode was switched, or kept although nothing named it."""


_REGISTRY_ENV: Final = re.compile(r'^\s+OPENDATA_REGISTRY:\s*"?([^"\s]+)"?\s*$', re.MULTILINE)
_STORE_ENV: Final = re.compile(
    r"^\s+OPENDATA_STORE:\s*\$\{\{\s*secrets\.OPENDATA_STORE", re.MULTILINE
)


def workflow_mode(text: str) -> tuple[Mode, str | None] | None:
    """The mode of a workflow ``od deploy`` wrote, and its registry URL; ``None``: unknown.

    Read from the ``env`` the template gives ``od run``: ``OPENDATA_REGISTRY`` (registry mode)
    or the ``OPENDATA_STORE`` secret (store mode).

    Example:
        >>> workflow_mode('    env:' + chr(10) + '      OPENDATA_REGISTRY: "https://r.example"')
        ('registry', 'https://r.example')
    """
    if (found := _REGISTRY_ENV.search(text)) is not None:
        return "registry", found[1]
    if _STORE_ENV.search(text):
        return "store", None
    return None


def _source_of(option_registry: str | None) -> str:
    return "--registry" if option_registry else "`registry:` in opendata.yaml"


def choose_mode(
    option: Mode | None,
    option_registry: str | None,
    yaml_registry: str | None,
    existing: tuple[Mode, str | None] | None,
    target: Path,
) -> ModeChoice:
    """The mode from ``--mode``, ``--registry``, ``registry:`` and the existing workflow.

    Without ``--mode``: ``--registry`` or ``registry:`` mean registry mode, else store mode; but
    a workflow already there keeps its mode, and a request for the other one is refused (with
    the command that switches), so a re-run never changes how a dataset publishes by accident.

    Raises:
        CommandFailed: when the mode would switch without ``--mode``, or registry mode has no URL.
    """
    import click

    previous, previous_url = existing if existing is not None else (None, None)
    wanted = option_registry or yaml_registry
    if option == "store" and option_registry:
        raise click.BadParameter(
            "--registry goes with --mode registry, not --mode store", param_hint="'--registry'"
        )
    if option is not None:
        mode: Mode = option
        url = (wanted or previous_url) if mode == "registry" else None
        if mode == "registry" and url is None:
            raise CommandFailed(
                "registry mode needs the registry's URL",
                hint="pass --registry URL, or set `registry: URL` in opendata.yaml",
            )
        note = None
        if previous is not None and previous != mode:
            note = f"switched the workflow from {previous} mode to {mode} mode (--mode {mode})"
        return ModeChoice(mode, url, previous, note)
    if previous == "registry" and wanted is None:
        return ModeChoice(
            "registry",
            previous_url,
            previous,
            f"kept registry mode through {previous_url}, as the workflow was (switch with "
            "--mode store)",
        )
    mode = "registry" if wanted else "store"
    if previous is not None and previous != mode:
        why = _source_of(option_registry)
        undo = " (or remove `registry:` from opendata.yaml)" if not option_registry else ""
        raise CommandFailed(
            f"{target} publishes in {previous} mode; {why} asks for {mode} mode, and od deploy "
            "does not switch a workflow's mode unless told to; nothing was written",
            hint=f"to switch: od deploy --mode {mode}; to keep {previous} mode: od deploy "
            f"--mode {previous}{undo}",
        )
    return ModeChoice(mode, wanted if mode == "registry" else None, previous)


@dataclass(frozen=True)
class GitProblem:
    """Why the workflow would not run (or not publish) where opendata.yaml says, and the fix."""

    message: str
    fix: str


def git_problems(base: Path, meta: DatasetMetadata, mode: Mode) -> list[GitProblem]:
    """What stands between the workflow in ``base`` and a run in ``meta.repo``.

    Checks that ``base`` is in a git repository whose remote ``origin`` is the GitHub repository
    ``repo`` names; in registry mode also that the id's namespace is the repository's owner,
    which the registry requires when a first publish registers the dataset (unless its admin
    granted the namespace to that owner).
    """
    from opendata_cli import _git

    repo = _git.parse_github_url(meta.repo)
    clone = f"{meta.repo}.git"
    if _git.toplevel(base) is None:
        return [
            GitProblem(
                f"{base.resolve()} is not in a git repository: the workflow runs only once it "
                f"is pushed to {meta.repo} (repo in opendata.yaml)",
                f"git init && git remote add origin {clone}",
            )
        ]
    url = _git.remote_url(base)
    if url is None:
        return [
            GitProblem(
                "the git repository has no remote 'origin': nothing connects it to "
                f"{meta.repo}, so the workflow never runs there",
                f"git remote add origin {clone}",
            )
        ]
    origin = _git.parse_github_url(url)
    if origin is None:
        return [
            GitProblem(
                f"the remote 'origin' is {url}, not a GitHub repository: GitHub Actions never "
                "run this workflow there",
                f"push the repository to {meta.repo}: git remote set-url origin {clone}",
            )
        ]
    found: list[GitProblem] = []
    same = repo is not None and (origin.owner.lower(), origin.name.lower()) == (
        repo.owner.lower(),
        repo.name.lower(),
    )
    if not same:
        consequence = (
            "the registry refuses a publish from a repository other than the one opendata.yaml "
            "names"
            if mode == "registry"
            else f"its runs are not at {meta.repo}"
        )
        found.append(
            GitProblem(
                f"the remote 'origin' is {origin.url}, but opendata.yaml says repo {meta.repo}: "
                f"the workflow would run in {origin.owner}/{origin.name}, and {consequence}",
                f"set `repo: {origin.url}` in opendata.yaml, or push to {meta.repo}",
            )
        )
    namespace = meta.dataset_id.namespace
    if mode == "registry" and namespace != origin.owner.lower():
        found.append(
            GitProblem(
                f"the id's namespace {namespace!r} is not the repository owner {origin.owner!r}: "
                f"the registry registers {meta.id} at its first publish only from a repository "
                f"of {namespace!r}",
                f"use `id: {origin.owner.lower()}/{meta.dataset_id.name}` in opendata.yaml, or "
                f"have the registry's admin run `opendata-registry namespaces grant {namespace} "
                f"--github-owner {origin.owner}` and deploy with --force",
            )
        )
    return found
