"""``od deploy``: write the GitHub Actions workflow that runs main.py on a schedule and publishes.

The workflow is rendered from the packaged template ``templates/workflow.yml.tmpl``. Every value
that comes from the user is validated first and written as a quoted YAML string, and none can
contain ``${{``, so nothing the user types becomes a GitHub Actions expression.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from opendata_cli._exit import CommandFailed

if TYPE_CHECKING:
    from opendata_cli._deploy_checks import Mode, ModeChoice
    from opendata_core.metadata import DatasetMetadata

__all__ = [
    "DEFAULT_PYTHON",
    "DEFAULT_TIMEOUT_MINUTES",
    "SCHEDULES",
    "STORE_SECRETS",
    "WORKFLOW_PATH",
    "deploy",
    "render_workflow",
    "schedule_for",
    "secrets_for",
]

WORKFLOW_PATH: Final = Path(".github/workflows/opendata.yml")
"""Where the workflow is written, relative to the folder of opendata.yaml, when that folder is
the top of its repository (or in none). A dataset in a sub-folder gets
``<top>/.github/workflows/opendata-<sub-folder>.yml``, which runs in the sub-folder."""
DEFAULT_PYTHON: Final = "3.12"
DEFAULT_TIMEOUT_MINUTES: Final = 60

SCHEDULES: Final[dict[str, str | None]] = {
    # Odd minutes on purpose: GitHub queues the many workflows scheduled at :00 and starts them
    # late; 06:23 UTC is after most publishers' overnight updates (Europe and the Americas).
    "hourly": "17 * * * *",
    "daily": "23 6 * * *",
    "weekly": "23 6 * * 1",
    "monthly": "23 6 1 * *",
    "quarterly": "23 6 1 1,4,7,10 *",
    "yearly": "23 6 1 1 *",
    "adhoc": None,
}
"""The cron (UTC) ``od deploy`` derives from ``frequency``; ``None``: manual runs only."""

STORE_SECRETS: Final = {
    "OPENDATA_STORE": "where to publish: s3://bucket/prefix or r2://bucket/prefix",
    "AWS_ACCESS_KEY_ID": "the store's access key id (for Cloudflare R2: an R2 API token's)",
    "AWS_SECRET_ACCESS_KEY": "the matching secret access key",
    "AWS_REGION": "s3:// only: the bucket's region, e.g. eu-central-1",
    "AWS_ENDPOINT_URL": "s3:// only, for stores other than AWS: the endpoint URL",
    "R2_ACCOUNT_ID": "r2:// only: the Cloudflare account id (it gives the R2 endpoint)",
}
"""Repository secrets the workflow passes to ``od run`` as environment variables (store mode).

The workflow passes all of them, so one file serves every store; a secret that is not set
arrives empty and is ignored. :func:`secrets_for` says which ones a given store needs."""

_SECRETS_BY_KIND: Final = {
    "s3": ("OPENDATA_STORE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"),
    "r2": ("OPENDATA_STORE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "R2_ACCOUNT_ID"),
}
_WORKDIR_RE: Final = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")

_PYTHON_RE: Final = re.compile(r"(?:pypy|graalpy)?3(?:\.(?:\d+|x))*t?")


@dataclass(frozen=True)
class _Plan:
    """What ``od deploy`` is about to write, and why."""

    cron: str | None
    cron_origin: str
    runner: list[str]


def secrets_for(store: str | None) -> tuple[str | None, list[str]]:
    """The kind of ``store`` (``"s3"``, ``"r2"`` or ``None``) and the secrets it needs.

    ``AWS_ENDPOINT_URL`` is named for ``s3://`` stores too, as optional: AWS needs none, other
    S3-compatible services do. An unknown or local store lists every secret.

    Example:
        >>> secrets_for("r2://bucket/prefix")
        ('r2', ['OPENDATA_STORE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'R2_ACCOUNT_ID'])
    """
    kind = store.split("://", 1)[0].lower() if store and "://" in store else None
    if kind not in _SECRETS_BY_KIND:
        return None, list(STORE_SECRETS)
    return kind, list(_SECRETS_BY_KIND[kind])


def schedule_for(meta: DatasetMetadata, override: str | None = None) -> tuple[str | None, str]:
    """The workflow's cron expression and where it came from.

    Precedence: ``override`` (``--schedule``) > ``schedule`` in opendata.yaml > the default of
    ``frequency`` (:data:`SCHEDULES`; daily when no frequency is set).

    Returns:
        ``(cron, origin)``; ``cron`` is ``None`` for ``frequency: adhoc`` (manual runs only).
    """
    if override:
        return override, "--schedule"
    if meta.schedule:
        return meta.schedule, "`schedule` in opendata.yaml"
    if meta.frequency:
        return SCHEDULES[meta.frequency], f"`frequency: {meta.frequency}` in opendata.yaml"
    return SCHEDULES["daily"], "the daily default (opendata.yaml sets no frequency)"


def render_workflow(
    meta: DatasetMetadata,
    *,
    schedule: str | None = None,
    runner: list[str] | None = None,
    python: str = DEFAULT_PYTHON,
    registry: str | None = None,
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES,
    requirements: bool = True,
    working_directory: str | None = None,
    workflow_file: str = WORKFLOW_PATH.name,
) -> str:
    """Render the GitHub Actions workflow for one dataset.

    The arguments are trusted to be valid (``od deploy`` checks them); ``schedule`` and
    ``runner`` override the values in ``meta``.

    Args:
        meta: The dataset's validated ``opendata.yaml``.
        schedule: A cron expression overriding ``schedule``/``frequency`` in ``meta``.
        runner: Runner labels overriding ``runner`` in ``meta``; default ``ubuntu-latest``.
        python: The Python version for actions/setup-python.
        registry: Publish through this registry with the job's OIDC token instead of store
            secrets.
        timeout_minutes: The job's time limit.
        requirements: Whether a requirements.txt exists next to opendata.yaml.
        working_directory: The dataset's folder relative to the repository's top, when it is a
            sub-folder: the install and run steps run there.
        workflow_file: The workflow's file name (in ``gh workflow run`` hints).

    Returns:
        The workflow file's text.

    Example:
        >>> text = render_workflow(meta, registry="https://registry.example.org")  # doctest: +SKIP
    """
    from opendata_cli.templates import cli_requirement, render_jinja

    cron, origin = schedule_for(meta, schedule)
    return render_jinja(
        "workflow.yml.tmpl",
        id=meta.id,
        registry=registry,
        secrets=STORE_SECRETS,
        secret_width=max(map(len, STORE_SECRETS)),
        cron=cron,
        origin=origin,
        workflow_file=workflow_file,
        labels=runner or meta.runner or ["ubuntu-latest"],
        timeout=timeout_minutes,
        python=python,
        requirements=requirements,
        folder=f"{working_directory}/" if working_directory else "",
        working_directory=working_directory,
        cli_requirement=cli_requirement(),
    )


def _check_overrides(meta: DatasetMetadata, schedule: str | None, runner: str | None) -> _Plan:
    """Validate --schedule and --runner with opendata.yaml's own rules."""
    import warnings

    import msgspec

    from opendata_core.errors import MetadataError
    from opendata_core.metadata import validate_metadata

    labels = [lab.strip() for lab in runner.split(",") if lab.strip()] if runner else None
    if runner is not None and not labels:
        raise click.BadParameter("give at least one label", param_hint="'--runner'")
    data = msgspec.to_builtins(meta)
    if schedule is not None:
        data["schedule"] = schedule
    if labels is not None:
        data["runner"] = labels
    try:
        with warnings.catch_warnings():
            # Warnings about the file itself were printed already.
            warnings.simplefilter("ignore")
            validate_metadata(data, source="command line")
    except MetadataError as exc:
        # Only the overridden fields can fail: the rest passed when the file was checked.
        for finding in exc.findings:
            option = {"schedule": "--schedule", "runner": "--runner"}.get(
                re.split(r"[.\[]", finding.field)[0]
            )
            if option is not None:
                hint = f" ({finding.hint})" if finding.hint else ""
                raise click.BadParameter(
                    f"{finding.message}{hint}", param_hint=f"'{option}'"
                ) from None
    cron, origin = schedule_for(meta, schedule)
    return _Plan(cron, origin, labels or meta.runner or ["ubuntu-latest"])


def _workflow_target(base: Path, top: Path | None) -> tuple[Path, Path, str | None]:
    """``(root, workflow file, working directory)`` for the dataset folder ``base``.

    GitHub runs only workflows in the repository's top ``.github/workflows``: a dataset in a
    sub-folder gets its own file there, named after the sub-folder, that runs in it.
    """
    if top is None or top == base.resolve():
        return base, base / WORKFLOW_PATH, None
    workdir = base.resolve().relative_to(top).as_posix()
    if not _WORKDIR_RE.fullmatch(workdir):
        raise click.UsageError(
            f"the dataset's folder {workdir!r} has characters a workflow cannot use safely; "
            "use letters, digits, '.', '_' and '-' in its path"
        )
    slug = re.sub(r"[^a-z0-9]+", "-", workdir.lower()).strip("-")
    return top, top / WORKFLOW_PATH.parent / f"opendata-{slug}.yml", workdir


def _secrets_step(kind: str | None, secrets: list[str]) -> str:
    """The "add the repository secrets" step of the next steps, for the store detected."""
    names = ", ".join(secrets)
    if kind == "s3":
        return (
            f"add the repository secrets for your s3:// store (gh secret set NAME): {names}; "
            "also AWS_ENDPOINT_URL unless the bucket is on AWS"
        )
    if kind == "r2":
        return f"add the repository secrets for your r2:// store (gh secret set NAME): {names}"
    return (
        "add the repository secrets the workflow reads (gh secret set NAME): OPENDATA_STORE "
        "(s3://bucket/prefix or r2://bucket/prefix), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "and for s3:// AWS_REGION (plus AWS_ENDPOINT_URL off AWS), for r2:// R2_ACCOUNT_ID. "
        "Pass --store URL (or set OPENDATA_STORE) to list only the ones your store needs"
    )


def _write_atomic(path: Path, text: str) -> None:
    from opendata_core.files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def _diff(old: str, new: str, path: str) -> tuple[list[str], int, int]:
    import difflib

    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
            n=1,
        )
    )
    added = sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
    removed = sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))
    return lines, added, removed


def _read_metadata(path: Path) -> tuple[Path, DatasetMetadata]:
    """``opendata.yaml`` (at ``path`` or in it) and its metadata; warnings are printed."""
    from opendata_cli._placeholders import enforce_placeholders
    from opendata_core.errors import MetadataError
    from opendata_core.metadata import check_metadata

    yaml_path = path / "opendata.yaml" if path.is_dir() else path
    report = check_metadata(yaml_path)
    if report.errors:
        raise MetadataError(report.errors)
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    assert report.metadata is not None
    enforce_placeholders(
        yaml_path,
        report.metadata,
        lambda text: click.secho(f"warning: {text}", fg="yellow", err=True),
    )
    return yaml_path, report.metadata


def _check_options(registry: str | None, python_version: str) -> str | None:
    """``--registry`` by the rule of ``registry:`` in opendata.yaml; ``--python``."""
    from opendata_core.metadata import check_registry_url

    if registry is not None:
        try:
            registry = check_registry_url(registry)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--registry'") from None
    if not _PYTHON_RE.fullmatch(python_version):
        raise click.BadParameter(
            f"{python_version!r} is not a Python version (e.g. 3.12, 3.13, 3.x, pypy3.10)",
            param_hint="'--python'",
        )
    return registry


def _check_git(base: Path, meta: DatasetMetadata, choice: ModeChoice, *, force: bool) -> list[str]:
    """Refuse a workflow that would not run (or publish) where opendata.yaml says.

    With ``force`` (or for a dry run) the problems are returned instead, to print as warnings.
    """
    from opendata_cli._deploy_checks import git_problems

    problems = git_problems(base, meta, choice.mode)
    if problems and not force:
        raise CommandFailed(
            "; also ".join(p.message for p in problems) + "; nothing was written",
            hint="; ".join(p.fix for p in problems) + ". Or od deploy --force to write the "
            "workflow anyway",
        )
    return [p.message for p in problems]


@dataclass(frozen=True)
class _Written:
    """Where the workflow went and what happened to the file."""

    root: Path
    target: Path
    workdir: str | None
    status: str  # created, updated, unchanged or dry-run
    old: str | None
    text: str


def _write(target: Path, text: str, old: str | None, *, dry_run: bool) -> str:
    """Write ``text`` over ``old`` at ``target`` unless unchanged or a dry run: the status."""
    if dry_run:
        status = "dry-run"
    elif old is None:
        status = "created"
    elif old == text:
        status = "unchanged"
    else:
        status = "updated"
    if status in ("created", "updated"):
        _write_atomic(target, text)
    return status


def _mode_line(meta: DatasetMetadata, registry: str | None) -> str:
    if registry:
        return (
            f"registry mode: publishes through {registry} with the job's OIDC token; no storage "
            f"secret in the repository. The first run registers {meta.id} to {meta.repo}"
        )
    return (
        "direct store mode: publishes straight to the store with the repository secrets "
        "below (use --registry URL for keyless publishing through an OpenData registry)"
    )


def _print_json(
    meta: DatasetMetadata,
    plan: _Plan,
    written: _Written,
    choice: ModeChoice,
    store_kind: str | None,
    secrets: list[str],
    actions_url: str,
    warnings: list[str],
) -> None:
    result: dict[str, object] = {
        "dataset": meta.id,
        "path": str(written.target),
        "status": written.status,
        "schedule": plan.cron,
        "runs_on": plan.runner,
        "registry": choice.registry,
        "mode": choice.mode,
        "previous_mode": choice.previous,
        "warnings": warnings,
        "store_kind": store_kind,
        "secrets": secrets,
        "working_directory": written.workdir,
        "actions_url": actions_url,
    }
    if written.status == "dry-run":
        result["content"] = written.text
    click.echo(json.dumps(result, indent=2))


def _print_change(written: _Written) -> None:
    """``created:``, or the diff and ``updated:``."""
    if written.status == "updated":
        assert written.old is not None
        path = written.target.relative_to(written.root).as_posix()
        lines, added, removed = _diff(written.old, written.text, path)
        for line in lines:
            colour = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
            click.secho(line.rstrip("\n"), fg=colour)
        click.echo(f"updated: {written.target} (+{added} -{removed} lines)")
    else:
        click.secho(f"created: {written.target}", fg="green")


def _next_steps(
    meta: DatasetMetadata,
    base: Path,
    written: _Written,
    registry: str | None,
    store_kind: str | None,
    secrets: list[str],
    actions_url: str,
) -> list[str]:
    """A command for every step (a registry needs none: the first publish registers)."""
    from opendata_cli import _git

    root, target = written.root, written.target
    added_files = [
        (base / name).relative_to(root).as_posix()
        for name in ("opendata.yaml", "main.py", "requirements.txt", "README.md", ".gitignore")
        if (base / name).is_file()
    ]
    steps = []
    origin = _git.github_origin(base)
    if registry is None:
        steps.append(_secrets_step(store_kind, secrets))
    elif origin is not None and origin.owner.lower() != meta.dataset_id.namespace:
        steps.append(
            f"have the registry's admin let {origin.owner} publish in {meta.dataset_id.namespace}"
            f": opendata-registry namespaces grant {meta.dataset_id.namespace} --github-owner "
            f"{origin.owner}"
        )
    cd = f"cd {root} && " if root.resolve() != Path.cwd().resolve() else ""
    return [
        *steps,
        f"{cd}git add {' '.join([*added_files, target.relative_to(root).as_posix()])}",
        f'git commit -m "Publish {meta.id} with OpenData" && git push',
        f"start a run now: gh workflow run {target.name} (or 'Run workflow' at {actions_url})",
        f"watch it: gh run watch (or {actions_url})",
    ]


@click.command()
@click.argument("path", default=".", type=click.Path(path_type=Path))
@click.option(
    "--schedule",
    metavar="CRON",
    help="Cron expression (UTC) overriding `schedule`/`frequency` in opendata.yaml.",
)
@click.option(
    "--runner",
    metavar="LABELS",
    help="Comma-separated runner labels, e.g. self-hosted,linux (default: `runner` in "
    "opendata.yaml, else ubuntu-latest).",
)
@click.option(
    "--python",
    "python_version",
    metavar="VERSION",
    default=DEFAULT_PYTHON,
    show_default=True,
    help="Python version the job runs main.py with.",
)
@click.option(
    "--registry",
    metavar="URL",
    help="Publish through this OpenData registry with the job's OIDC token, instead of store "
    "credentials from repository secrets.",
)
@click.option(
    "--mode",
    type=click.Choice(["store", "registry"]),
    help="Publish straight to a store (repository secrets) or through a registry (keyless). "
    "Default: registry when --registry or `registry:` in opendata.yaml names one, else store; "
    "an existing workflow keeps its mode unless --mode switches it.",
)
@click.option(
    "--timeout",
    "timeout_minutes",
    type=click.IntRange(1, 4320),
    default=DEFAULT_TIMEOUT_MINUTES,
    show_default=True,
    metavar="MINUTES",
    help="The job's time limit.",
)
@click.option(
    "--store",
    metavar="URL",
    envvar="OPENDATA_STORE",
    show_envvar=True,
    help="The store the workflow will publish to; only its kind (s3:// or r2://) is used, to "
    "list the secrets to set. The URL itself goes in the OPENDATA_STORE secret.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write the workflow even though git says it will not run where opendata.yaml says "
    "(no repository, no GitHub remote 'origin', another repository or owner).",
)
@click.option("--dry-run", is_flag=True, help="Print the workflow; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def deploy(
    path: Path,
    schedule: str | None,
    runner: str | None,
    python_version: str,
    registry: str | None,
    mode: Mode | None,
    timeout_minutes: int,
    store: str | None,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Write .github/workflows/opendata.yml: run main.py on a schedule and publish.

    PATH is opendata.yaml or its folder (default: the current folder); the workflow is written
    beside it. A dataset in a sub-folder of a git repository gets
    .github/workflows/opendata-<sub-folder>.yml at the repository's top (the only place GitHub
    runs workflows from), which runs in the sub-folder. The schedule comes from --schedule, else
    `schedule` in opendata.yaml, else `frequency` (adhoc: manual runs only). The workflow pins
    opendata-cli to this version. Re-running is safe: an unchanged file is left alone, a changed
    one is shown as a diff and rewritten.
    """
    from opendata_cli import _git
    from opendata_cli._deploy_checks import choose_mode, workflow_mode

    yaml_path, meta = _read_metadata(path)
    registry = _check_options(registry, python_version)
    plan = _check_overrides(meta, schedule, runner)

    base = yaml_path.parent
    root, target, workdir = _workflow_target(base, _git.toplevel(base))
    old = target.read_text(encoding="utf-8") if target.is_file() else None
    existing = workflow_mode(old) if old is not None else None
    choice = choose_mode(mode, registry, meta.registry, existing, target)
    warnings = _check_git(base, meta, choice, force=force or dry_run)
    for warning in warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    text = render_workflow(
        meta,
        schedule=schedule,
        runner=plan.runner,
        python=python_version,
        registry=choice.registry,
        timeout_minutes=timeout_minutes,
        requirements=(base / "requirements.txt").is_file(),
        working_directory=workdir,
        workflow_file=target.name,
    )
    status = _write(target, text, old, dry_run=dry_run)
    written = _Written(root, target, workdir, status, old, text)
    actions_url = f"{meta.repo}/actions/workflows/{target.name}"
    store_kind, secrets = (None, []) if choice.registry else secrets_for(store)

    if as_json:
        _print_json(meta, plan, written, choice, store_kind, secrets, actions_url, warnings)
        return
    if dry_run:
        click.echo(text, nl=False)
        return
    if choice.note:
        click.secho(f"note: {choice.note}", fg="yellow", err=True)
    if status == "unchanged":
        click.echo(f"unchanged: {target}")
        click.echo(f"Runs: {actions_url}")
        return
    _print_change(written)
    if workdir:
        click.echo(f"The workflow runs main.py in {workdir}/ of the repository.")
    when = f"cron {plan.cron!r} (UTC, from {plan.cron_origin})" if plan.cron else "manual only"
    click.echo(f"Schedule: {when}; runs on {', '.join(plan.runner)}.")
    click.echo(f"Mode: {_mode_line(meta, choice.registry)}.")
    steps = _next_steps(meta, base, written, choice.registry, store_kind, secrets, actions_url)
    click.echo("\nNext steps:")
    for i, step in enumerate(steps, 1):
        click.echo(f"  {i}. {step}")
