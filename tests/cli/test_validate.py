from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from opendata_cli.main import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*/opendata.yaml"))

GOOD = """\
id: acme/widgets
title: Widgets
description: All the widgets.
license: MIT
repo: https://github.com/acme/widgets
source:
  provider: Acme
"""
MAIN = "def main():\n    return None\n"


def test_examples_exist_and_validate() -> None:
    assert len(EXAMPLES) >= 5
    result = CliRunner().invoke(cli, ["validate", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok: ") == len(EXAMPLES)


def test_directory_and_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "opendata.yaml").write_text(GOOD)
    (tmp_path / "main.py").write_text(MAIN)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 0
    assert "ok: " in result.output
    assert "(acme/widgets)" in result.output
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["validate"]).exit_code == 0


def test_every_problem_printed_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "opendata.yaml"
    bad.write_text(
        GOOD.replace("MIT", "Public Domain") + "frequency: daly\ngeo:\n  countries: [USA]\n"
    )
    (tmp_path / "main.py").write_text(MAIN)
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        f"{bad}:4:10: license: 'Public Domain' is not an SPDX licence identifier; accepted, but "
        "tools cannot check it (use one from https://spdx.org/licenses/, e.g. 'CC-BY-4.0' or "
        "'CC0-1.0', or 'LicenseRef-<name>')",
        f"{bad}:8:12: frequency: 'daly' is not a known frequency (did you mean 'daily'?)",
        f"{bad}:10:15: geo.countries[0]: 'USA' is not an ISO 3166-1 alpha-2 code (did you mean 'US'?)",
    ]


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "opendata.yaml"
    path.write_text(GOOD.replace("MIT", "Public Domain"))
    (tmp_path / "main.py").write_text(MAIN)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0
    assert "ok: " in result.output
    assert "(1 warning(s))" in result.output


def test_json_output(tmp_path: Path) -> None:
    path = tmp_path / "opendata.yaml"
    path.write_text(GOOD.replace("acme/widgets\n", "acme/\n"))
    (tmp_path / "main.py").write_text(MAIN)
    result = CliRunner().invoke(cli, ["validate", "--json", str(path)])
    assert result.exit_code == 1
    (report,) = json.loads(result.output)
    assert report["ok"] is False
    assert report["problems"] == report["findings"]  # the deprecated key, for one release
    assert report["findings"][0] == {
        "severity": "error",
        "line": 1,
        "column": 5,
        "field": "id",
        "message": "name is empty",
        "hint": "IDs look like 'namespace/name', e.g. 'ecb/euro-fx-rates'",
    }


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == f"{tmp_path / 'nope.yaml'}: file not found (run `od init` to create opendata.yaml)"
    )


def test_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "opendata_cli", "validate", *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def main(:\n    pass\n", "main.py:1:10: syntax error"),
        (
            "def fetch():\n    return 1\n",
            "main.py: main: main.py does not define main() (add `def main():`",
        ),
        (
            "def main(url, *, key):\n    return 1\n",
            "main.py:1:1: main: main() must take no arguments, but it needs url, key",
        ),
        (  # regression: positional-only parameters passed od validate, then failed od run
            "def main(x, /, y=1, *args, **kw):\n    return 1\n",
            "main.py:1:1: main: main() must take no arguments, but it needs x",
        ),
    ],
)
def test_main_py_is_checked_without_running_it(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "opendata.yaml").write_text(GOOD)
    (tmp_path / "main.py").write_text(source)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert message in result.output


def test_good_main_py_passes(tmp_path: Path) -> None:
    (tmp_path / "opendata.yaml").write_text(GOOD)
    (tmp_path / "main.py").write_text(
        "raise SystemExit('never executed')\n\ndef main(limit=10):\n    return None\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_missing_main_py_fails(tmp_path: Path) -> None:
    (tmp_path / "opendata.yaml").write_text(GOOD)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert (
        f"{tmp_path / 'main.py'}: file not found: `od run` calls main() in main.py beside "
        "opendata.yaml (create it with a main() that returns the data" in result.output
    )


def test_scaffold_placeholders_are_warnings_until_replaced(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["init", str(tmp_path), "--yes"]).exit_code == 0
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "opendata.yaml"
    lines = result.output.splitlines()
    assert any(
        line.startswith(f"{path}:9: id: the namespace 'me' is the placeholder `od init` writes")
        for line in lines
    ), result.output
    assert any(
        line.startswith(f"{path}:") and ": description: still the example text of `od init`" in line
        for line in lines
    ), result.output
    assert any(
        ": source.provider: still the example text of `od init` (name who publishes" in line
        for line in lines
    ), result.output
    assert "(3 warning(s))" in result.output

    yaml = path.read_text()
    yaml = yaml.replace("id: me/", "id: acme/").replace("github.com/me/", "github.com/acme/")
    yaml = yaml.replace("Who publishes the original data", "Acme")
    yaml = yaml.replace("Describe the dataset here", "One row per day")
    path.write_text(yaml)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert f"ok: {path} (acme/" in result.output


# -- the example texts of `od init` are never published (issue 23 §3) --------------------------


def test_placeholders_warn_locally_and_fail_in_github_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opendata

    folder = tmp_path / "widgets"
    init = CliRunner().invoke(cli, ["init", str(folder), "--id", "acme/widgets", "--yes"])
    assert init.exit_code == 0, init.output
    yaml = folder / "opendata.yaml"
    csv = tmp_path / "w.csv"
    csv.write_text("date,sold\n2024-01-01,1\n")

    # On the producer's machine: warnings naming each field; the run still works.
    local = CliRunner().invoke(cli, ["run", str(folder)])
    assert local.exit_code == 0, local.output
    for field in ("description", "source.provider"):
        assert f"{field}: still the example text of `od init`" in local.stderr, local.stderr
    assert CliRunner().invoke(cli, ["validate", str(folder)]).exit_code == 0
    published = opendata.Client().manifest("acme/widgets").publish_id

    # In GitHub Actions: an error; nothing is published, by od run or od push.
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run = CliRunner().invoke(cli, ["run", str(folder), "--json"])
    outcome = json.loads(run.stdout)
    assert run.exit_code == 1 and outcome["error_class"] == "validation", outcome
    assert "description" in outcome["message"] and "never published" in outcome["message"]
    assert "od validate" in outcome["hint"]
    validate = CliRunner().invoke(cli, ["validate", str(folder)])
    assert validate.exit_code == 1
    assert "description: still the example text" in validate.output
    assert "source.provider: still the example text" in validate.output
    push = CliRunner().invoke(cli, ["push", str(csv), "acme/widgets", "--metadata", str(yaml)])
    assert push.exit_code == 1 and "still the example text" in push.stderr, push.output
    assert opendata.Client().manifest("acme/widgets").publish_id == published
