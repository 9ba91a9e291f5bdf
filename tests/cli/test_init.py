from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opendata_cli._git import GitHubRepo, parse_github_url
from opendata_cli.commands import init as init_module
from opendata_cli.main import cli
from opendata_cli.templates import cli_requirement
from opendata_core import check_metadata, load_metadata

FILES = ["opendata.yaml", "main.py", "README.md", ".gitignore", "requirements.txt"]
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _import_main(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"scaffold_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def test_happy_path(tmp_path: Path) -> None:
    target = tmp_path / "new-folder"
    result = CliRunner().invoke(cli, ["init", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == sorted(FILES)

    report = check_metadata(target / "opendata.yaml")
    assert report.findings == []
    assert report.metadata is not None
    assert report.metadata.id == "me/new-folder"
    assert report.metadata.repo == "https://github.com/me/new-folder"
    assert report.metadata.title == "New folder"
    assert report.metadata.time_column == "date"

    frame = _import_main(target / "main.py").main()
    assert len(frame) > 0
    assert "date" in frame.columns

    requirements = (target / "requirements.txt").read_text().splitlines()
    assert cli_requirement() in requirements  # opendata-cli==<this version>
    assert "pandas" in requirements
    readme = (target / "README.md").read_text()
    assert 'od.load("me/new-folder")' in readme
    assert "\n## Use the data\n" in readme
    # Run records kept locally when the store cannot be opened are not committed by accident.
    assert ".opendata/" in (target / ".gitignore").read_text().splitlines()

    # No remote: a note says the owner is a placeholder; the next steps name every command.
    assert "note: no GitHub remote 'origin' found" in result.output
    for step in ("main.py", "od validate", "od run", "od deploy"):
        assert step in result.output


def test_id_and_title(tmp_path: Path) -> None:
    title = 'Widgets: "all" of them # really'
    result = CliRunner().invoke(
        cli, ["init", str(tmp_path), "--id", "Acme/Widget_Prices.v2", "--title", title, "--yes"]
    )
    assert result.exit_code == 0, result.output
    meta = load_metadata(tmp_path / "opendata.yaml")
    assert meta.id == "acme/widget_prices.v2"
    assert meta.title == title
    assert meta.repo == "https://github.com/acme/widget_prices.v2"
    assert "placeholder" not in result.output
    assert check_metadata(tmp_path / "opendata.yaml").findings == []


def test_default_directory_is_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "My Data (2024)!"
    folder.mkdir()
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, ["init", "--yes"])
    assert result.exit_code == 0, result.output
    assert load_metadata(folder / "opendata.yaml").id == "me/my-data-2024"
    assert "cd " not in result.output


@needs_git
def test_git_origin_gives_id_and_repo(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "remote", "add", "origin", "https://github.com/Acme/Widgets.git")
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--yes"])
    assert result.exit_code == 0, result.output
    meta = load_metadata(tmp_path / "opendata.yaml")
    assert meta.id == "acme/widgets"
    assert meta.repo == "https://github.com/Acme/Widgets"
    assert "note:" not in result.output
    assert check_metadata(tmp_path / "opendata.yaml").findings == []


@needs_git
def test_git_subfolder_names_the_dataset(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "remote", "add", "origin", "git@github.com:acme/datasets.git")
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "fx-rates"), "--yes"])
    assert result.exit_code == 0, result.output
    meta = load_metadata(tmp_path / "fx-rates" / "opendata.yaml")
    assert meta.id == "acme/fx-rates"
    assert meta.repo == "https://github.com/acme/datasets"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/Acme/Widgets.git", GitHubRepo("Acme", "Widgets")),
        ("https://github.com/acme/widgets", GitHubRepo("acme", "widgets")),
        ("https://token@github.com/acme/widgets.git", GitHubRepo("acme", "widgets")),
        ("git@github.com:acme/my.repo.git", GitHubRepo("acme", "my.repo")),
        ("ssh://git@github.com/acme/widgets.git", GitHubRepo("acme", "widgets")),
        ("https://gitlab.com/acme/widgets.git", None),
        ("https://github.com/acme", None),
        ("/srv/git/widgets.git", None),
    ],
)
def test_parse_github_url(url: str, expected: GitHubRepo | None) -> None:
    assert parse_github_url(url) == expected


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "main.py").write_text("print('mine')\n")
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--yes"])
    assert result.exit_code == 1
    assert "main.py, README.md already exist in" in result.output
    assert "--force" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "main.py"]
    assert (tmp_path / "README.md").read_text() == "mine\n"

    forced = CliRunner().invoke(cli, ["init", str(tmp_path), "--yes", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "(replaced main.py, README.md)" in forced.output
    assert (tmp_path / "README.md").read_text() != "mine\n"
    assert check_metadata(tmp_path / "opendata.yaml").findings == []


def test_force_does_not_write_through_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").symlink_to(outside)
    result = CliRunner().invoke(cli, ["init", str(repo), "--yes", "--force"])
    assert result.exit_code == 0, result.output
    assert outside.read_text() == "keep\n"
    assert not (repo / "README.md").is_symlink()


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("widgets", "exactly one '/'"),
        ("acme/fx rates", "space character"),
        ("-acme/fx", "must not start or end with a hyphen"),
        ("acme/..", "name must not be '..'"),
    ],
)
def test_bad_id_is_one_line(tmp_path: Path, bad: str, rule: str) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "x"), "--id", bad, "--yes"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    first, *rest = result.stderr.strip().splitlines()
    assert first.startswith(f"error: invalid dataset id {bad!r}: ")
    assert rule in first
    assert all(line.startswith("hint: ") for line in rest)
    assert not (tmp_path / "x").exists()


def test_bad_title(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--title", "a\nb", "--yes"])
    assert result.exit_code == 2
    assert "Invalid value for '--title': title must be a single line" in result.output
    assert list(tmp_path.iterdir()) == []


def test_directory_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "f"), "--yes"])
    assert result.exit_code == 2


def test_prompts_in_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(init_module, "_stdin_is_tty", lambda: True)
    answers = [
        "not an id",  # rejected: asked again
        "ECB/fx-rates",
        "Euro FX: reference rates",
        "Daily reference rates of the euro.",
        "",  # licence: default
        "European Central Bank",
        "",  # registry: none
    ]
    result = CliRunner().invoke(cli, ["init", str(tmp_path)], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "exactly one '/'" in result.output
    meta = load_metadata(tmp_path / "opendata.yaml")
    assert meta.id == "ecb/fx-rates"
    assert meta.title == "Euro FX: reference rates"
    assert meta.description.strip() == "Daily reference rates of the euro."
    assert meta.license == "CC-BY-4.0"
    assert meta.source.provider == "European Central Bank"


def test_no_prompts_without_a_terminal(tmp_path: Path) -> None:
    # CliRunner's stdin is not a terminal: behave as --yes rather than fail on EOF.
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Dataset id" not in result.output


def test_commands_keep_od_help_light() -> None:
    heavy = ("pandas", "pyarrow", "polars", "ruamel", "msgspec", "httpx", "rich", "opendata_core")
    code = (
        "import sys, opendata_cli.main\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_non_spdx_licence_warns_at_the_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(init_module, "_stdin_is_tty", lambda: True)
    answers = ["acme/fx", "FX", "Rates.", "Public Domain", "ECB", ""]
    result = CliRunner().invoke(cli, ["init", str(tmp_path)], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert (
        "warning: 'Public Domain' is not an SPDX licence identifier; accepted, but tools cannot "
        "check it (use one from https://spdx.org/licenses/" in result.stderr
    )
    report = check_metadata(tmp_path / "opendata.yaml")
    assert report.metadata is not None
    assert report.metadata.license == "Public Domain"
    assert [p.field for p in report.warnings] == ["license"]  # validate says the same later


def test_spdx_licence_gives_no_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(init_module, "_stdin_is_tty", lambda: True)
    answers = ["acme/fx", "FX", "Rates.", "CC0-1.0", "ECB", ""]
    result = CliRunner().invoke(cli, ["init", str(tmp_path)], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_title_too_long_is_refused_by_the_rule_od_validate_applies(tmp_path: Path) -> None:
    from opendata_core.metadata import TITLE_MAX

    title = "t" * (TITLE_MAX + 1)
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--title", title, "--yes"])
    assert result.exit_code == 2
    assert f"title is {TITLE_MAX + 1} characters long; the limit is {TITLE_MAX}" in result.output
    assert not (tmp_path / "opendata.yaml").exists()


# -- `registry:` (issue 23 §3) ---------------------------------------------------------------


def test_opendata_registry_is_written_as_the_registry_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDATA_REGISTRY", "https://registry.example.org/")
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "a"), "--yes"])
    assert result.exit_code == 0, result.output
    assert load_metadata(tmp_path / "a" / "opendata.yaml").registry == (
        "https://registry.example.org"
    )
    # --registry wins over the environment; without either, the field stays a comment.
    flag = ["init", str(tmp_path / "b"), "--yes", "--registry", "http://localhost:8000"]
    assert CliRunner().invoke(cli, flag).exit_code == 0
    assert load_metadata(tmp_path / "b" / "opendata.yaml").registry == "http://localhost:8000"
    monkeypatch.delenv("OPENDATA_REGISTRY")
    assert CliRunner().invoke(cli, ["init", str(tmp_path / "c"), "--yes"]).exit_code == 0
    text = (tmp_path / "c" / "opendata.yaml").read_text()
    assert "# registry: https://" in text
    assert load_metadata(tmp_path / "c" / "opendata.yaml").registry is None


def test_the_registry_is_asked_in_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(init_module, "_stdin_is_tty", lambda: True)
    answers = ["acme/fx", "FX", "Rates.", "", "ECB", "http://example.org", "https://r.example"]
    result = CliRunner().invoke(cli, ["init", str(tmp_path)], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "plain http only for localhost" in result.output  # refused, asked again
    assert load_metadata(tmp_path / "opendata.yaml").registry == "https://r.example"


def test_a_bad_registry_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = CliRunner().invoke(cli, ["init", str(tmp_path), "--yes", "--registry", "ftp://x"])
    assert bad.exit_code == 2 and "'--registry'" in bad.output, bad.output
    monkeypatch.setenv("OPENDATA_REGISTRY", "registry.example.org")
    env = CliRunner().invoke(cli, ["init", str(tmp_path), "--yes"])
    assert env.exit_code == 2 and "OPENDATA_REGISTRY" in env.output, env.output
    assert not (tmp_path / "opendata.yaml").exists()
