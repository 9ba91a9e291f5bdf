"""The newcomer's path, as a user types it: od init → edit main.py → validate → run → deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import opendata as od

OD = str(Path(sys.executable).with_name("od"))

MAIN = """\
import pandas as pd


def main() -> pd.DataFrame:
    days = pd.date_range("2024-01-01", "2024-03-31", freq="D")
    return pd.DataFrame({"date": days.date, "visitors": range(len(days))})
"""


def od_cmd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENDATA_DEBUG"}
    return subprocess.run(
        [OD, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "museum-visitors"
    out = od_cmd(
        "init",
        str(folder),
        "--id",
        "acme/museum-visitors",
        "--title",
        "Museum visitors",
        "--yes",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    (folder / "main.py").write_text(MAIN)  # the one edit a newcomer makes
    return folder


def test_newcomer_path(project: Path) -> None:
    validate = od_cmd("validate", cwd=project)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "ok: opendata.yaml (acme/museum-visitors)" in validate.stdout
    run = od_cmd("run", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    # Not a git repository yet: nothing is written, and the hint is the command that fixes it.
    refused = od_cmd("deploy", cwd=project)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "not in a git repository" in refused.stderr
    assert not (project / ".github").exists()
    hint = next(line for line in refused.stderr.splitlines() if line.startswith("hint: "))
    fix = hint.removeprefix("hint: ").split(". Or od deploy --force")[0]
    assert fix == "git init && git remote add origin https://github.com/acme/museum-visitors.git"
    subprocess.run(fix, shell=True, cwd=project, check=True, capture_output=True)
    deploy = od_cmd("deploy", cwd=project)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    workflow = project / ".github" / "workflows" / "opendata.yml"
    assert "od run" in workflow.read_text()
    df = od.load("acme/museum-visitors")
    assert len(df) == 91
    assert df["visitors"].tolist() == list(range(91))
    march = od.load("acme/museum-visitors", start="2024-03")
    assert march["date"].min().isoformat() == "2024-03-01T00:00:00"
    assert march.set_index("date").resample("MS")["visitors"].sum().tolist() == [sum(range(60, 91))]


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    errors = [
        line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error")
    ]
    assert len(errors) == 1, result.stdout + result.stderr
    return errors[0]


def _nothing_published() -> None:
    with pytest.raises(od.DatasetNotFound):
        od.load("acme/museum-visitors")


def test_broken_yaml(project: Path) -> None:
    yaml = project / "opendata.yaml"
    yaml.write_text(yaml.read_text().replace("license:", "licence:"))
    result = od_cmd("run", cwd=project)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "licence: unknown field 'licence' (did you mean 'license'?)" in output
    assert "Traceback" not in output
    _nothing_published()


def test_main_that_raises(project: Path) -> None:
    (project / "main.py").write_text(
        "def main():\n    raise ValueError('the source changed its columns')\n"
    )
    result = od_cmd("run", cwd=project)
    assert result.returncode == 1
    line = _one_error_line(result)
    assert "the source changed its columns" in line
    _nothing_published()


def test_main_that_returns_an_empty_frame(project: Path) -> None:
    (project / "main.py").write_text(
        "import pandas as pd\n\ndef main():\n    return pd.DataFrame({'date': []})\n"
    )
    result = od_cmd("run", cwd=project)
    assert result.returncode == 1
    line = _one_error_line(result)
    assert "0 rows" in line
    assert "nothing was published" in line
    _nothing_published()
