from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from opendata_cli.commands.deploy import SCHEDULES, STORE_SECRETS
from opendata_cli.main import cli
from opendata_cli.templates import cli_requirement

BIN = Path(sys.executable).parent
PIN = cli_requirement()  # opendata-cli==<the version running these tests>
REPO = Path(__file__).resolve().parents[2]
GOOD = """\
id: acme/widgets
title: Widgets
description: All the widgets.
license: MIT
repo: https://github.com/Acme/widgets
source:
  provider: Acme
"""
WORKFLOW = Path(".github/workflows/opendata.yml")
RELEASE = REPO / ".github" / "workflows" / "release.yml"

# name -> (lines added to opendata.yaml, od deploy options, write requirements.txt)
VARIANTS: dict[str, tuple[str, list[str], bool]] = {
    "daily-default": ("frequency: daily\n", [], True),
    "no-frequency": ("", [], True),
    "explicit-schedule": ("frequency: daily\n", ["--schedule", "5 4 * * 1-5"], True),
    "yaml-schedule": ('schedule: "30 2 * * *"\n', [], True),
    "hourly": ("frequency: hourly\n", [], True),
    "quarterly": ("frequency: quarterly\n", [], True),
    "adhoc": ("frequency: adhoc\n", [], True),
    "runner-option": ("", ["--runner", "self-hosted, linux,x64"], True),
    "runner-yaml": ("runner: [self-hosted, gpu]\n", [], True),
    "registry": ("frequency: weekly\n", ["--registry", "https://registry.example.org/api"], True),
    "no-requirements": ("frequency: monthly\n", ["--python", "3.13", "--timeout", "90"], False),
}


def _git_repo(path: Path, origin: str | None = "https://github.com/Acme/widgets.git") -> Path:
    """``path`` as a git work tree whose remote ``origin`` is ``origin`` (none: no remote)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    if origin is not None:
        subprocess.run(["git", "-C", str(path), "remote", "add", "origin", origin], check=True)
    return path


def _project(path: Path, extra: str = "", *, requirements: bool = True, git: bool = True) -> Path:
    """A dataset folder; with ``git``, the top of a clone of github.com/Acme/widgets."""
    path.mkdir(parents=True, exist_ok=True)
    if git:
        _git_repo(path)
    (path / "opendata.yaml").write_text(GOOD + extra)
    if requirements:
        (path / "requirements.txt").write_text("opendata-cli\npandas\n")
    return path


def _deploy(path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["deploy", str(path), *args])


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _steps(doc: Any) -> dict[str, Any]:
    return {step["name"]: step for step in doc["jobs"]["publish"]["steps"]}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_workflow_content(tmp_path: Path, variant: str) -> None:
    extra, args, requirements = VARIANTS[variant]
    project = _project(tmp_path, extra, requirements=requirements)
    result = _deploy(project, *args)
    assert result.exit_code == 0, result.output
    assert f"created: {project / WORKFLOW}" in result.output
    text = (project / WORKFLOW).read_text()
    doc = _load(project / WORKFLOW)
    job = doc["jobs"]["publish"]
    registry = "--registry" in args

    assert doc["permissions"] == {}
    assert job["permissions"] == (
        {"contents": "read", "id-token": "write"} if registry else {"contents": "read"}
    )
    assert doc["concurrency"] == {"group": "opendata-acme/widgets", "cancel-in-progress": False}
    assert job["timeout-minutes"] == (90 if "--timeout" in args else 60)

    expected_cron = {
        "daily-default": SCHEDULES["daily"],
        "no-frequency": SCHEDULES["daily"],
        "explicit-schedule": "5 4 * * 1-5",
        "yaml-schedule": "30 2 * * *",
        "hourly": "17 * * * *",
        "quarterly": "23 6 1 1,4,7,10 *",
        "adhoc": None,
        "runner-option": SCHEDULES["daily"],
        "runner-yaml": SCHEDULES["daily"],
        "registry": "23 6 * * 1",
        "no-requirements": "23 6 1 * *",
    }[variant]
    assert "workflow_dispatch" in doc["on"]
    if expected_cron is None:
        assert set(doc["on"]) == {"workflow_dispatch"}
    else:
        assert doc["on"]["schedule"] == [{"cron": expected_cron}]

    assert job["runs-on"] == {
        "runner-option": ["self-hosted", "linux", "x64"],
        "runner-yaml": ["self-hosted", "gpu"],
    }.get(variant, "ubuntu-latest")

    steps = _steps(doc)
    checkout = steps["Check out the repository"]
    assert re.fullmatch(r"actions/checkout@[0-9a-f]{40}", checkout["uses"])
    assert checkout["with"] == {"persist-credentials": False}
    setup = steps["Set up Python"]
    assert re.fullmatch(r"actions/setup-python@[0-9a-f]{40}", setup["uses"])
    # The release each SHA stands for is named in a comment on the same line.
    assert re.search(r"actions/checkout@[0-9a-f]{40} # v5\b", text)
    assert re.search(r"actions/setup-python@[0-9a-f]{40} # v6\b", text)
    assert setup["with"]["python-version"] == ("3.13" if "--python" in args else "3.12")
    install = steps["Install opendata-cli and what main.py needs"]["run"]
    if requirements:
        assert setup["with"]["cache"] == "pip"
        assert setup["with"]["cache-dependency-path"] == "requirements.txt"
        assert install == f"python -m pip install {PIN} -r requirements.txt"
    else:
        assert "cache" not in setup["with"]
        assert install == f"python -m pip install {PIN}"

    publish = steps["Run main.py and publish"]
    assert publish["run"] == "od run"
    if registry:
        assert publish["env"] == {"OPENDATA_REGISTRY": "https://registry.example.org/api"}
        assert "secrets." not in text
        assert "Check that the store is configured" not in steps
    else:
        # An unset OPENDATA_STORE would publish to a throw-away folder on the runner.
        check = steps["Check that the store is configured"]
        assert check["env"] == {"OPENDATA_STORE": "${{ secrets.OPENDATA_STORE }}"}
        assert 'if [ -z "$OPENDATA_STORE" ]; then' in check["run"]
        assert publish["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in STORE_SECRETS}
        header = text.split("\nname:")[0]
        assert all(name in header for name in STORE_SECRETS)


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed next to {sys.executable} (uv sync --group dev)")
    return path


@pytest.fixture(scope="module")
def all_variants(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("variants")
    files = []
    for variant, (extra, args, requirements) in VARIANTS.items():
        project = _project(root / variant, extra, requirements=requirements)
        result = _deploy(project, *args)
        assert result.exit_code == 0, result.output
        files.append(project / WORKFLOW)
    for example in sorted((REPO / "examples").glob("*/opendata.yaml")):
        project = root / f"example-{example.parent.name}"
        text = example.read_text()
        repo = re.search(r"^repo: (\S+)", text, re.MULTILINE)
        assert repo is not None
        _git_repo(project, f"{repo[1]}.git")
        (project / "opendata.yaml").write_text(text)
        result = _deploy(project)
        assert result.exit_code == 0, result.output
        files.append(project / WORKFLOW)
    # The repository's own release workflow is held to the same checks.
    files.append(RELEASE)
    return files


def test_variants_pass_the_github_workflow_schema(all_variants: list[Path]) -> None:
    out = subprocess.run(
        [
            str(_tool("check-jsonschema")),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, all_variants),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_variants_pass_zizmor(all_variants: list[Path], persona: str) -> None:
    out = subprocess.run(
        [
            str(_tool("zizmor")),
            "--offline",
            "--no-config",
            "--no-progress",
            "--color=never",
            f"--persona={persona}",
            *map(str, all_variants),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No findings to report" in out.stdout


def test_idempotent(tmp_path: Path) -> None:
    project = _project(tmp_path, "frequency: daily\n")
    assert _deploy(project).exit_code == 0
    before = (project / WORKFLOW).read_bytes()
    mtime = (project / WORKFLOW).stat().st_mtime_ns
    again = _deploy(project)
    assert again.exit_code == 0, again.output
    assert again.output.startswith(f"unchanged: {project / WORKFLOW}")
    assert "https://github.com/Acme/widgets/actions/workflows/opendata.yml" in again.output
    assert (project / WORKFLOW).read_bytes() == before
    assert (project / WORKFLOW).stat().st_mtime_ns == mtime


def test_changed_metadata_updates_with_a_diff(tmp_path: Path) -> None:
    project = _project(tmp_path, "frequency: daily\n")
    assert _deploy(project).exit_code == 0
    (project / "opendata.yaml").write_text(GOOD + "frequency: weekly\n")
    result = _deploy(project)
    assert result.exit_code == 0, result.output
    assert '-    - cron: "23 6 * * *"' in result.output
    assert '+    - cron: "23 6 * * 1"' in result.output
    assert f"updated: {project / WORKFLOW} (+2 -2 lines)" in result.output
    assert _load(project / WORKFLOW)["on"]["schedule"] == [{"cron": "23 6 * * 1"}]


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path, "frequency: daily\n")
    result = _deploy(project, "--dry-run")
    assert result.exit_code == 0, result.output
    assert not (project / ".github").exists()
    doc = YAML(typ="safe").load(result.stdout)
    assert doc["jobs"]["publish"]["steps"][-1]["run"] == "od run"
    # The printed file is exactly what a real run writes.
    assert _deploy(project).exit_code == 0
    assert (project / WORKFLOW).read_text() == result.stdout


def test_json_output(tmp_path: Path) -> None:
    project = _project(tmp_path, "frequency: adhoc\n")
    result = _deploy(project / "opendata.yaml", "--json", "--runner", "self-hosted")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out == {
        "dataset": "acme/widgets",
        "path": str(project / WORKFLOW),
        "status": "created",
        "schedule": None,
        "runs_on": ["self-hosted"],
        "registry": None,
        "mode": "store",
        "previous_mode": None,
        "warnings": [],
        "store_kind": None,
        "secrets": list(STORE_SECRETS),
        "working_directory": None,
        "actions_url": "https://github.com/Acme/widgets/actions/workflows/opendata.yml",
    }


def test_deploy_says_which_mode_it_chose(tmp_path: Path) -> None:
    direct = _deploy(_project(tmp_path / "a"))
    assert direct.exit_code == 0, direct.output
    assert "Mode: direct store mode: publishes straight to the store" in direct.output
    assert "use --registry URL" in direct.output
    keyless = _deploy(_project(tmp_path / "b"), "--registry", "https://registry.example.org")
    assert keyless.exit_code == 0, keyless.output
    assert (
        "Mode: registry mode: publishes through https://registry.example.org with the job's OIDC "
        "token; no storage secret in the repository." in keyless.output
    )
    out = json.loads(
        _deploy(_project(tmp_path / "c"), "--registry", "https://r.example", "--json").stdout
    )
    assert out["mode"] == "registry"


def test_next_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)
    (project / "main.py").write_text("def main(): ...\n")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["deploy"])
    assert result.exit_code == 0, result.output
    assert (
        "git add opendata.yaml main.py requirements.txt .github/workflows/opendata.yml"
        in result.output
    )
    assert "git push" in result.output
    assert "gh secret set" in result.output
    assert "https://github.com/Acme/widgets/actions" in result.output


def test_broken_yaml_is_one_located_line(tmp_path: Path) -> None:
    project = _project(tmp_path, "frequency: daly\n")
    result = _deploy(project)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    path = project / "opendata.yaml"
    assert result.stderr.startswith(
        f"error: {path}:8:12: frequency: 'daly' is not a known frequency"
    )
    assert not (project / ".github").exists()


def test_missing_yaml(tmp_path: Path) -> None:
    result = _deploy(tmp_path)
    assert result.exit_code == 1
    assert f"{tmp_path / 'opendata.yaml'}: file not found" in result.stderr


def test_yaml_warnings_are_shown_not_fatal(tmp_path: Path) -> None:
    (_git_repo(tmp_path) / "opendata.yaml").write_text(GOOD.replace("MIT", "Public Domain"))
    result = _deploy(tmp_path)
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr
    assert "is not an SPDX licence identifier" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schedule", "* * * *"], "Invalid value for '--schedule': '* * * *' has 4 fields"),
        (["--schedule", "* * * * *"], "more often than every 5 minutes"),
        (["--runner", "bad label!"], "Invalid value for '--runner': 'bad label!' is not a runner"),
        (["--runner", ","], "Invalid value for '--runner': give at least one label"),
        (["--registry", "ftp://x"], "Invalid value for '--registry'"),
        (["--registry", "http://registry.example.org"], "plain http only for localhost"),
        (["--registry", "https://x/${{ secrets.A }}"], "Invalid value for '--registry'"),
        (["--python", "3.12; rm -rf /"], "Invalid value for '--python'"),
        (["--timeout", "0"], "Invalid value for '--timeout'"),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    project = _project(tmp_path)
    result = _deploy(project, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (project / ".github").exists()


def test_localhost_registry_over_http(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = _deploy(project, "--registry", "http://127.0.0.1:8000", "--dry-run")
    assert result.exit_code == 0, result.output
    assert 'OPENDATA_REGISTRY: "http://127.0.0.1:8000"' in result.stdout


def test_producer_guide_shows_the_current_workflow(tmp_path: Path) -> None:
    guide = (REPO / "docs" / "producer-guide.md").read_text()
    block = re.search(
        r"<!-- workflow:begin[^\n]*\n```yaml\n(.*?)```\n<!-- workflow:end", guide, re.S
    )
    assert block is not None
    project = _project(tmp_path, "frequency: daily\n")
    result = _deploy(project, "--dry-run")
    assert result.exit_code == 0, result.output
    assert block[1] == result.stdout, "docs/producer-guide.md: paste `od deploy --dry-run` output"


def test_release_workflow_publishes_with_trusted_publishing() -> None:
    text = RELEASE.read_text()
    doc = _load(RELEASE)
    assert doc["on"] == {"push": {"tags": ["v*"]}}
    assert doc["permissions"] == {}
    build, publish = doc["jobs"]["build"], doc["jobs"]["publish"]
    # Only the publish job can mint an OIDC token, and it runs no code from the repository.
    assert build["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert all("run" not in step for step in publish["steps"])
    upload = publish["steps"][-1]
    assert upload["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert "password" not in upload.get("with", {})
    assert "secrets." not in text
    build_run = "\n".join(step.get("run", "") for step in build["steps"])
    for package in ("core", "client", "cli", "registry", "portal"):
        assert f"opendata-{package}" in build_run
    assert "uv build --package" in build_run
    # Every action pinned to a full commit SHA with its release in a comment.
    uses = re.findall(r"uses: (\S+)@(\S+) # (v\d+\.\d+\.\d+)", text)
    assert len(uses) == text.count("uses: ") == 5
    assert all(re.fullmatch(r"[0-9a-f]{40}", sha) for _, sha, _ in uses)


def test_workflow_and_requirements_pin_this_opendata_cli(tmp_path: Path) -> None:
    from importlib.metadata import version

    assert f"opendata-cli=={version('opendata-cli')}" == PIN
    assert CliRunner().invoke(cli, ["init", str(tmp_path), "--yes"]).exit_code == 0
    requirements = (tmp_path / "requirements.txt").read_text().splitlines()
    assert PIN in requirements
    assert "opendata-cli" not in requirements  # never unpinned
    result = _deploy(tmp_path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"run: python -m pip install {PIN} -r requirements.txt\n" in result.stdout


@pytest.mark.parametrize(
    ("store", "kind", "secrets"),
    [
        (
            "r2://bucket/data",
            "r2",
            ["OPENDATA_STORE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "R2_ACCOUNT_ID"],
        ),
        (
            "s3://bucket/data",
            "s3",
            ["OPENDATA_STORE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"],
        ),
        (None, None, list(STORE_SECRETS)),
        ("/home/me/store", None, list(STORE_SECRETS)),
    ],
)
def test_deploy_lists_the_secrets_of_the_store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: str | None,
    kind: str | None,
    secrets: list[str],
) -> None:
    project = _project(tmp_path)
    if store is not None:
        monkeypatch.setenv("OPENDATA_STORE", store)
    out = json.loads(_deploy(project, "--json").stdout)
    assert out["store_kind"] == kind
    assert out["secrets"] == secrets
    (project / WORKFLOW).unlink()
    text = _deploy(project).output
    if kind is None:
        assert "OPENDATA_STORE (s3://bucket/prefix or r2://bucket/prefix)" in text
        assert "for r2:// R2_ACCOUNT_ID" in text
    else:
        assert (
            f"add the repository secrets for your {kind}:// store (gh secret set NAME): "
            + ", ".join(secrets)
        ) in text
    # Whatever the store, the workflow passes every secret, R2_ACCOUNT_ID included.
    env = _steps(_load(project / WORKFLOW))["Run main.py and publish"]["env"]
    assert env["R2_ACCOUNT_ID"] == "${{ secrets.R2_ACCOUNT_ID }}"


def test_r2_store_opens_with_the_secrets_the_workflow_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import opendata

    # What the runner sees: R2_ACCOUNT_ID set, the s3-only secrets unset and so empty.
    monkeypatch.setenv("OPENDATA_STORE", "r2://bucket/data")
    monkeypatch.setenv("R2_ACCOUNT_ID", "0123456789abcdef")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    monkeypatch.setenv("AWS_REGION", "")
    assert opendata.Client().store.url == "s3://bucket"
    # Without the secret the store cannot be opened at all: that is why the workflow passes it.
    monkeypatch.delenv("R2_ACCOUNT_ID")
    with pytest.raises(opendata.OpenDataError, match="needs the Cloudflare account id"):
        opendata.Client()


needs_git = pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True, check=False).returncode != 0,
    reason="git is not installed",
)


@needs_git
def test_dataset_in_a_sub_folder_gets_a_working_directory(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    project = _project(repo / "datasets" / "fx", "frequency: daily\n", git=False)
    (project / "main.py").write_text(
        "import pandas as pd\n\ndef main():\n"
        "    return pd.DataFrame({'date': pd.to_datetime(['2024-01-01']), 'v': [1]})\n"
    )
    result = _deploy(project)
    assert result.exit_code == 0, result.output
    workflow = repo / ".github" / "workflows" / "opendata-datasets-fx.yml"
    assert f"created: {workflow}" in result.output
    assert "The workflow runs main.py in datasets/fx/ of the repository." in result.output
    assert "warning" not in result.output
    assert f"cd {repo} && git add datasets/fx/opendata.yaml datasets/fx/main.py" in result.output
    assert ".github/workflows/opendata-datasets-fx.yml" in result.output
    assert "gh workflow run opendata-datasets-fx.yml" in result.output
    assert not (project / ".github").exists()

    steps = _steps(_load(workflow))
    assert steps["Set up Python"]["with"]["cache-dependency-path"] == (
        "datasets/fx/requirements.txt"
    )
    install = steps["Install opendata-cli and what main.py needs"]
    publish = steps["Run main.py and publish"]
    assert install["working-directory"] == publish["working-directory"] == "datasets/fx"
    # The check runs before the checkout, so it must not depend on the folder.
    assert "working-directory" not in steps["Check that the store is configured"]
    # What the runner does after the checkout, from the repository's top: it works.
    folder = repo / publish["working-directory"]
    assert (folder / "requirements.txt").is_file()
    run = subprocess.run(
        [str(BIN / "od"), "run", "--dry-run"], cwd=folder, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "dry run: acme/widgets passed the checks" in run.stdout

    for tool in (
        [str(_tool("check-jsonschema")), "--builtin-schema", "vendor.github-workflows"],
        [str(_tool("zizmor")), "--offline", "--no-config", "--no-progress", "--persona=pedantic"],
    ):
        out = subprocess.run([*tool, str(workflow)], capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stdout + out.stderr


def test_runner_labels_that_yaml_would_misread_are_quoted(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", "frequency: daily\n")
    result = _deploy(project, "--runner", "on,NO,gpu:a100")
    assert result.exit_code == 0, result.output
    text = (project / WORKFLOW).read_text()
    assert 'runs-on: ["on", "NO", "gpu:a100"]' in text
    # a YAML 1.1 reader (GitHub's) would read a plain `on` as true
    assert _load(project / WORKFLOW)["jobs"]["publish"]["runs-on"] == ["on", "NO", "gpu:a100"]


# -- the publishing mode is never switched by accident (issue 23 §3) --------------------------

REGISTRY = "https://registry.example.org"


def _mode_of(project: Path) -> tuple[str, str | None]:
    """``("registry", url)`` or ``("store", None)``, read from the workflow as GitHub would."""
    doc = _load(project / WORKFLOW)
    env = _steps(doc)["Run main.py and publish"]["env"]
    if "OPENDATA_REGISTRY" in env:
        assert doc["jobs"]["publish"]["permissions"]["id-token"] == "write"
        assert "secrets." not in (project / WORKFLOW).read_text()
        return "registry", env["OPENDATA_REGISTRY"]
    assert "id-token" not in doc["jobs"]["publish"]["permissions"]
    return "store", None


def test_registry_in_opendata_yaml_writes_the_keyless_workflow(tmp_path: Path) -> None:
    project = _project(tmp_path, f"registry: {REGISTRY}/\n")
    result = _deploy(project, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["mode"], out["registry"], out["secrets"]) == ("registry", REGISTRY, [])
    assert _mode_of(project) == ("registry", REGISTRY)


def test_a_rerun_without_registry_keeps_a_keyless_workflow_keyless(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert _deploy(project, "--registry", REGISTRY).exit_code == 0
    before = (project / WORKFLOW).read_text()
    again = _deploy(project)  # no --registry, no `registry:`: once rewritten to store secrets
    assert again.exit_code == 0, again.output
    assert (project / WORKFLOW).read_text() == before
    assert _mode_of(project) == ("registry", REGISTRY)
    assert "kept registry mode" in again.stderr and "--mode store" in again.stderr


def test_the_mode_switches_only_with_mode_and_says_so(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert _deploy(project).exit_code == 0
    store_workflow = (project / WORKFLOW).read_text()

    # `registry:` added to opendata.yaml: refused, naming both modes and the commands.
    (project / "opendata.yaml").write_text(GOOD + f"registry: {REGISTRY}\n")
    refused = _deploy(project)
    assert refused.exit_code == 1, refused.output
    assert "publishes in store mode" in refused.stderr and "registry mode" in refused.stderr
    assert "od deploy --mode registry" in refused.stderr
    assert "od deploy --mode store" in refused.stderr
    assert (project / WORKFLOW).read_text() == store_workflow
    # --registry asks for the same switch: refused the same way.
    assert _deploy(project, "--registry", REGISTRY).exit_code == 1
    assert (project / WORKFLOW).read_text() == store_workflow

    switched = _deploy(project, "--mode", "registry")
    assert switched.exit_code == 0, switched.output
    assert "switched the workflow from store mode to registry mode" in switched.stderr
    assert _mode_of(project) == ("registry", REGISTRY)

    back = _deploy(project, "--mode", "store", "--json")
    assert back.exit_code == 0, back.output
    out = json.loads(back.stdout)
    assert (out["mode"], out["previous_mode"]) == ("store", "registry")
    assert _mode_of(project) == ("store", None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "registry"], "registry mode needs the registry's URL"),
        (["--mode", "store", "--registry", REGISTRY], "--registry goes with --mode registry"),
        (["--registry", "http://example.org"], "plain http only for localhost"),
    ],
)
def test_mode_options_that_cannot_work(tmp_path: Path, args: list[str], message: str) -> None:
    project = _project(tmp_path)
    result = _deploy(project, *args)
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert not (project / ".github").exists()


# -- git: the workflow runs where opendata.yaml says, or od deploy says why not --------------

MISMATCH = GOOD.replace("acme/widgets", "me/mydata").replace("Acme/widgets", "me/mydata")


@pytest.mark.parametrize(
    ("origin", "yaml", "said", "fix"),
    [
        (None, GOOD, "not in a git repository", "git init && git remote add origin"),
        ("", GOOD, "no remote 'origin'", "git remote add origin https://github.com/Acme/widgets"),
        (
            "https://gitlab.com/acme/widgets.git",
            GOOD,
            "not a GitHub repository",
            "git remote set-url origin https://github.com/Acme/widgets.git",
        ),
        (
            "git@github.com:globex/other.git",
            MISMATCH,
            "the workflow would run in globex/other",
            "repo: https://github.com/globex/other",
        ),
    ],
    ids=["no-git", "no-remote", "gitlab", "other-repository"],
)
def test_deploy_checks_git_and_says_what_would_happen(
    tmp_path: Path, origin: str | None, yaml: str, said: str, fix: str
) -> None:
    project = tmp_path / "p"
    if origin is not None:
        _git_repo(project, origin or None)
    project.mkdir(exist_ok=True)
    (project / "opendata.yaml").write_text(yaml)
    refused = _deploy(project)
    assert refused.exit_code == 1, refused.output
    assert said in refused.stderr and fix in refused.stderr, refused.stderr
    assert "--force" in refused.stderr
    assert not (project / ".github").exists()

    forced = _deploy(project, "--force")
    assert forced.exit_code == 0, forced.output
    assert "warning: " in forced.stderr and said in forced.stderr
    assert (project / WORKFLOW).is_file()


def test_registry_mode_checks_the_namespace_against_the_repository_owner(tmp_path: Path) -> None:
    """The registry registers a dataset at its first publish only when the id's namespace is
    the repository's owner: od deploy says so before the first run fails."""
    project = _git_repo(tmp_path / "p", "https://github.com/globex/widgets.git")
    (project / "opendata.yaml").write_text(
        GOOD.replace("Acme/widgets", "globex/widgets") + f"registry: {REGISTRY}\n"
    )
    refused = _deploy(project)
    assert refused.exit_code == 1, refused.output
    assert "namespace 'acme' is not the repository owner 'globex'" in refused.stderr
    assert "opendata-registry namespaces grant acme --github-owner globex" in refused.stderr
    assert "id: globex/widgets" in refused.stderr
    forced = _deploy(project, "--force")
    assert forced.exit_code == 0, forced.output
    assert "opendata-registry namespaces grant acme --github-owner globex" in forced.stdout
    # Store mode: no registry applies that rule (opendata.yaml's checker warns about it).
    store = _deploy(project, "--mode", "store")
    assert store.exit_code == 0, store.output


def test_next_steps_of_registry_mode_are_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    (project / "main.py").write_text("def main(): ...\n")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["deploy", "--registry", REGISTRY])
    assert result.exit_code == 0, result.output
    steps = re.findall(r"^  \d+\. (.*)$", result.stdout, re.MULTILINE)
    assert len(steps) >= 3, result.stdout
    for step in steps:
        assert re.search(r"(^|: )(git|gh|cd) ", step), step  # a command to type, in every step
    assert "register" not in " ".join(steps)  # the first publish registers: no step for it
    assert "The first run registers acme/widgets" in result.stdout
