"""``od init``: scaffold a dataset repository (opendata.yaml, main.py and friends)."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import click

from opendata_cli._exit import CommandFailed
from opendata_cli._placeholders import DEFAULT_DESCRIPTION, DEFAULT_PROVIDER, PLACEHOLDER_NAMESPACE

__all__ = ["init"]

# Written in this order; the values name the packaged template of each file.
FILES: Final = {
    "opendata.yaml": "opendata.yaml.tmpl",
    "main.py": "main.py.tmpl",
    "README.md": "README.md.tmpl",
    ".gitignore": "gitignore.tmpl",
    "requirements.txt": "requirements.txt.tmpl",
}
DEFAULT_LICENSE: Final = "CC-BY-4.0"


@dataclass(frozen=True)
class _Defaults:
    namespace: str
    name: str
    repo: str | None  # None: no GitHub remote, derive the URL from the id
    origin_note: str | None


def _stdin_is_tty() -> bool:
    # A function of its own so tests can pretend to be a terminal.
    return sys.stdin.isatty()


def slugify(text: str) -> str:
    """Turn a folder name into a valid dataset name (lower case; other characters become ``-``).

    Example:
        >>> slugify("My Data (2024)!")
        'my-data-2024'
    """
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-.")[:100].strip("-.")
    return slug or "dataset"


def _defaults(target: Path) -> _Defaults:
    from opendata_cli import _git
    from opendata_core.ids import validate_github_owner

    folder = slugify(target.resolve().name)
    origin = _git.github_origin(target)
    if origin is None:
        return _Defaults(
            PLACEHOLDER_NAMESPACE,
            folder,
            None,
            f"no GitHub remote 'origin' found: the id and repo use the placeholder owner "
            f"{PLACEHOLDER_NAMESPACE!r}; set them to your GitHub user or organisation in "
            "opendata.yaml",
        )
    try:
        namespace = validate_github_owner(origin.owner)
    except ValueError:
        namespace = PLACEHOLDER_NAMESPACE
    # In a sub-folder of the repository (several datasets in one repository) the folder names
    # the dataset; at the top the repository does.
    at_top = _git.toplevel(target) == target.resolve()
    name = slugify(origin.name) if at_top else folder
    return _Defaults(namespace, name, origin.url, None)


def _check_id(value: str) -> str:
    from opendata_core.errors import InvalidDatasetId
    from opendata_core.ids import DatasetId

    try:
        return str(DatasetId.parse(value.strip()))
    except InvalidDatasetId as exc:
        raise click.BadParameter(f"{exc.rule} ({exc.hint})") from None


def _check_line(value: str, *, what: str, limit: int = 200) -> str:
    value = value.strip()
    if not value:
        raise click.BadParameter(f"{what} must not be empty")
    if "\n" in value or "\r" in value:
        raise click.BadParameter(f"{what} must be a single line")
    if len(value) > limit:
        raise click.BadParameter(f"{what} is {len(value)} characters long; the limit is {limit}")
    return value


def _check_title(value: str) -> str:
    """A title answer, by the rule ``od validate`` applies (:func:`check_title`)."""
    from opendata_core.metadata import check_title

    try:
        return check_title(value)
    except ValueError as exc:
        raise click.BadParameter(f"title {exc}") from None


def _check_licence(value: str) -> str:
    """A licence answer: accepted like ``od validate`` accepts it, with its warning shown now."""
    import warnings

    from opendata_core import MetadataError, MetadataWarning, validate_metadata

    value = _check_line(value, what="licence")
    sample = {
        "id": "a/b",
        "title": "t",
        "description": "d",
        "license": value,
        "repo": "https://github.com/a/b",
        "source": {"provider": "p"},
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            validate_metadata(sample, source="licence")
        except MetadataError as exc:
            raise click.BadParameter(str(exc).split("license: ", 1)[-1]) from None
    for w in caught:
        text = str(w.message)
        if isinstance(w.message, MetadataWarning) and "license: " in text:
            click.secho(f"warning: {text.split('license: ', 1)[1]}", fg="yellow", err=True)
    return value


def _title_from(name: str) -> str:
    words = re.sub(r"[-_.]+", " ", name).strip()
    return (words[:1].upper() + words[1:]) or "My dataset"


def _existing(target: Path) -> list[str]:
    return [name for name in FILES if (target / name).exists() or (target / name).is_symlink()]


@dataclass(frozen=True)
class _Answers:
    """The values written into the new files."""

    dataset_id: str
    title: str
    description: str = DEFAULT_DESCRIPTION
    license: str = DEFAULT_LICENSE
    provider: str = DEFAULT_PROVIDER
    registry: str | None = None

    @property
    def namespace(self) -> str:
        return self.dataset_id.split("/")[0]

    @property
    def name(self) -> str:
        return self.dataset_id.split("/")[1]


def _refuse_to_overwrite(directory: Path, force: bool) -> list[str]:
    """The files that exist already; refused unless ``force``."""
    if directory.exists() and not directory.is_dir():
        raise click.BadParameter(f"{directory} is not a directory", param_hint="DIRECTORY")
    existing = _existing(directory)
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise CommandFailed(
            f"{', '.join(existing)} already {verb} in {directory}; nothing was written",
            hint="use --force to overwrite them",
        )
    return existing


def _ask_id(dataset_id: str | None, default: str, interactive: bool) -> str:
    from opendata_core.ids import DatasetId

    if dataset_id is not None:
        # InvalidDatasetId reaches the group's handler: one red line naming the rule, a hint.
        return str(DatasetId.parse(dataset_id.strip()))
    if interactive:
        answer: str = click.prompt(
            "Dataset id (namespace/name)", default=default, value_proc=_check_id
        )
        return answer
    return default


def _ask_title(title: str | None, name: str, interactive: bool) -> str:
    if title is not None:
        try:
            return _check_title(title)
        except click.BadParameter as exc:
            exc.param_hint = "'--title'"
            raise
    if interactive:
        answer: str = click.prompt("Title", default=_title_from(name), value_proc=_check_title)
        return answer
    return _title_from(name)


def _check_registry(value: str) -> str | None:
    """A registry answer (empty: none), by the rule opendata.yaml's ``registry`` follows."""
    from opendata_core.metadata import check_registry_url

    if not value.strip():
        return None
    try:
        return check_registry_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _ask_registry(registry: str | None, interactive: bool) -> str | None:
    """``--registry``, else ``OPENDATA_REGISTRY``; asked in a terminal (empty: none)."""
    import opendata

    if registry is not None:
        try:
            return _check_registry(registry)
        except click.BadParameter as exc:
            exc.param_hint = "'--registry'"
            raise
    default = (opendata.settings().registry or "").strip()
    if interactive:
        answer: str | None = click.prompt(
            "OpenData registry to publish through (empty: publish straight to a store)",
            default=default,
            show_default=bool(default),
            value_proc=_check_registry,
        )
        return answer
    if not default:
        return None
    try:
        return _check_registry(default)
    except click.BadParameter as exc:
        raise click.BadParameter(
            f"OPENDATA_REGISTRY: {exc.message}", param_hint="'--registry'"
        ) from None


def _answers(
    dataset_id: str | None,
    title: str | None,
    registry: str | None,
    defaults: _Defaults,
    interactive: bool,
) -> _Answers:
    """The id and title from the flags, the rest from the prompts (or the example texts)."""
    dataset_id = _ask_id(dataset_id, f"{defaults.namespace}/{defaults.name}", interactive)
    title = _ask_title(title, dataset_id.split("/")[1], interactive)
    if not interactive:
        return _Answers(dataset_id, title, registry=_ask_registry(registry, interactive))
    description = click.prompt(
        "Description (one line; edit opendata.yaml for more)",
        default=DEFAULT_DESCRIPTION,
        show_default=False,
        value_proc=lambda v: _check_line(v, what="description", limit=5000),
    )
    license_ = click.prompt(
        "Licence of the data (SPDX id)",
        default=DEFAULT_LICENSE,
        value_proc=_check_licence,
    )
    provider = click.prompt(
        "Source provider (who publishes the original data)",
        default=DEFAULT_PROVIDER,
        show_default=False,
        value_proc=lambda v: _check_line(v, what="provider"),
    )
    return _Answers(
        dataset_id, title, description, license_, provider, _ask_registry(registry, interactive)
    )


def _render_files(answers: _Answers, repo: str) -> dict[str, str]:
    """Each file's text: opendata.yaml gets YAML scalars, the others plain text."""
    from opendata_cli.templates import cli_requirement, render
    from opendata_core.metadata import yaml_scalar

    values = {
        "id": answers.dataset_id,
        "title": yaml_scalar(answers.title),
        "description": textwrap.fill(answers.description, 96, subsequent_indent="  "),
        "license": yaml_scalar(answers.license),
        "repo": repo,
        "provider": yaml_scalar(answers.provider),
        "registry": (
            f"registry: {yaml_scalar(answers.registry)}"
            if answers.registry
            else "# registry: https://registry.example.org"
        ),
    }
    plain = {
        **values,
        "cli_requirement": cli_requirement(),
        "title": answers.title,
        "description": answers.description,
        "license": answers.license,
        "provider": answers.provider,
    }
    return {
        filename: render(template, **(values if filename == "opendata.yaml" else plain))
        for filename, template in FILES.items()
    }


def _write_files(directory: Path, contents: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for filename, text in contents.items():
        path = directory / filename
        if path.is_symlink():
            path.unlink()  # never write through a link (only reached with --force)
        path.write_text(text, encoding="utf-8")


def _notes(defaults: _Defaults, namespace: str, repo: str) -> list[str]:
    if defaults.origin_note and namespace == PLACEHOLDER_NAMESPACE:
        return [defaults.origin_note]
    if defaults.repo is None:
        return [
            f"no GitHub remote 'origin' found; repo set to {repo}: correct it in "
            "opendata.yaml if the repository is elsewhere"
        ]
    return []


def _next_steps(directory: Path, here: bool) -> list[str]:
    steps = [] if here else [f"cd {directory}"]
    return [
        *steps,
        "edit main.py: make main() download and return your data",
        "fill in opendata.yaml (description, source), then check it:  od validate",
        "run it locally (publishes to your local store):            od run",
        "write the scheduled GitHub Actions workflow:               od deploy",
    ]


def _report(
    directory: Path,
    dataset_id: str,
    existing: list[str],
    notes: list[str],
    steps: list[str],
    *,
    here: bool,
    as_json: bool,
) -> None:
    if as_json:
        result = {
            "dataset_id": dataset_id,
            "directory": str(directory),
            "files": list(FILES),
            "replaced": existing,
            "notes": notes,
            "next_steps": [" ".join(step.split()) for step in steps],
        }
        click.echo(json.dumps(result, indent=2))
        return
    where = "the current folder" if here else str(directory)
    replaced = f" (replaced {', '.join(existing)})" if existing else ""
    click.secho(f"Created {', '.join(FILES)} in {where} for {dataset_id}{replaced}.", fg="green")
    for note in notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    click.echo("\nNext steps:")
    for i, step in enumerate(steps, 1):
        click.echo(f"  {i}. {step}")


@click.command()
@click.argument(
    "directory",
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--id", "dataset_id", metavar="NS/NAME", help="The dataset id, e.g. acme/widgets.")
@click.option("--title", help="One-line title of the dataset.")
@click.option(
    "--registry",
    metavar="URL",
    help="The OpenData registry to publish through, written as `registry:` in opendata.yaml "
    "(default: OPENDATA_REGISTRY); `od deploy` then writes the keyless workflow.",
)
@click.option("-y", "--yes", is_flag=True, help="Do not prompt; use the flags and the defaults.")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was written as JSON (implies --yes)."
)
def init(
    directory: Path,
    dataset_id: str | None,
    title: str | None,
    registry: str | None,
    yes: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Create opendata.yaml, main.py, README.md, .gitignore and requirements.txt in DIRECTORY.

    DIRECTORY defaults to the current folder and is created if missing. The id and repository
    default to the folder's GitHub remote 'origin' (owner/repository). Asks for the main fields
    when run in a terminal, unless --yes is given. With --registry (or OPENDATA_REGISTRY set),
    opendata.yaml names the registry, and `od deploy` writes the keyless workflow for it.
    Existing files are never overwritten without --force.
    """
    existing = _refuse_to_overwrite(directory, force)
    defaults = _defaults(directory)
    interactive = not yes and not as_json and _stdin_is_tty()
    answers = _answers(dataset_id, title, registry, defaults, interactive)
    repo = defaults.repo or f"https://github.com/{answers.namespace}/{answers.name}"
    _write_files(directory, _render_files(answers, repo))
    here = directory.resolve() == Path.cwd().resolve()
    _report(
        directory,
        answers.dataset_id,
        existing,
        _notes(defaults, answers.namespace, repo),
        _next_steps(directory, here),
        here=here,
        as_json=as_json,
    )
