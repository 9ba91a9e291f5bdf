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

BIN = Path(sys.executable).parent
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


def _project(path: Path, extra: str = "", *, requirements: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
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
        assert install == "python -m pip install opendata-cli -r requirements.txt"
    else:
        assert "cache" not in setup["with"]
        assert install == "python -m pip install opendata-cli"

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
        project.mkdir()
        (project / "opendata.yaml").write_text(example.read_text())
        result = _deploy(project)
        assert result.exit_code == 0, result.output
        files.append(project / WORKFLOW)
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
        "secrets": list(STORE_SECRETS),
        "actions_url": "https://github.com/Acme/widgets/actions/workflows/opendata.yml",
    }


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
    (tmp_path / "opendata.yaml").write_text(GOOD.replace("MIT", "Public Domain"))
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
