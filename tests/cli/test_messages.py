"""Messages that send people the right way (issue 23 §4).

Each test pins what a message must say (what happened, what to do), not its exact words.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from opendata_cli.main import cli

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
_REGISTRY_COMMAND = re.compile(r"opendata-registry((?: [a-z][a-z-]*){2})")
_OD_COMMAND = re.compile(r"`od ([a-z][a-z-]*)")


def _texts(path: Path) -> Iterator[str]:
    """Every string literal of a module, f-strings with their literal parts only."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.JoinedStr):
            yield "".join(
                v.value if isinstance(v, ast.Constant) else "{}"
                for v in node.values
                if isinstance(v, ast.Constant | ast.FormattedValue)
            )


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGES.glob("*/src/**/*.py"))


def _resolves(group: click.Group, words: list[str]) -> bool:
    command: click.Command = group
    ctx = click.Context(group)
    for word in words:
        if not isinstance(command, click.Group):
            return True  # the rest are arguments
        found = command.get_command(ctx, word)
        if found is None:
            return False
        command = found
    return True


def test_every_command_a_message_names_exists() -> None:
    """A hint that names `opendata-registry producers create` (there is no such command) sends
    the reader nowhere: every command named in a message of any package must exist."""
    from opendata_registry.cli.main import main as registry

    wrong = []
    for path in _sources():
        for text in _texts(path):
            for match in _REGISTRY_COMMAND.finditer(text):
                words = [w for w in match[1].split() if w != "-"]
                if not _resolves(registry, words[:2]):
                    wrong.append(f"{path.name}: opendata-registry {' '.join(words)}")
            for match in _OD_COMMAND.finditer(text):
                if not _resolves(cli, [match[1]]):
                    wrong.append(f"{path.name}: od {match[1]}")
    assert wrong == []


def test_the_missing_credentials_hint_names_the_token_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    for name in ("OPENDATA_STORE", "OPENDATA_PUBLISH_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENDATA_REGISTRY", "http://127.0.0.1:9")
    csv = tmp_path / "x.csv"
    csv.write_text("a\n1\n")
    result = CliRunner().invoke(cli, ["push", str(csv), "acme/x"])
    assert result.exit_code != 0
    assert "OPENDATA_PUBLISH_TOKEN" in result.stderr
    assert "opendata-registry tokens create" in result.stderr, result.stderr


# -- od run: what main.py did wrong ----------------------------------------------------------

YAML = """\
id: acme/widgets
title: Widgets
description: All the widgets.
license: MIT
repo: https://github.com/acme/widgets
source:
  provider: Acme
"""


def _run_main(tmp_path: Path, body: str) -> dict[str, Any]:
    """``od run --json`` of a producer whose main.py is ``body``: its outcome."""
    from click.testing import CliRunner

    folder = tmp_path / "widgets"
    folder.mkdir(exist_ok=True)
    (folder / "opendata.yaml").write_text(YAML)
    (folder / "main.py").write_text(textwrap.dedent(body))
    result = CliRunner().invoke(cli, ["run", str(folder), "--json"])
    outcome: dict[str, Any] = json.loads(result.stdout)
    assert result.exit_code == outcome["exit_code"] == 1, outcome
    return outcome


@pytest.mark.parametrize(
    ("body", "close"),
    [
        ("import httpxx\ndef main(): ...\n", "httpx"),
        ("def main():\n    import pandsa\n", "pandas"),
        ("from pyarow import parquet\ndef main(): ...\n", "pyarrow"),
    ],
    ids=["at-import", "inside-main", "from-import"],
)
def test_an_import_typo_suggests_the_installed_module_not_pip_install(
    tmp_path: Path, body: str, close: str
) -> None:
    outcome = _run_main(tmp_path, body)
    typo = body.split("import ")[1].split()[0] if body.startswith("def") else body.split()[1]
    assert f"imports {typo!r}, which is not installed" in outcome["message"], outcome
    assert outcome["message"].startswith("main.py:")  # where, to fix it
    assert f"did you mean {close!r}" in outcome["hint"], outcome
    assert "pip install" not in outcome["hint"], outcome


def test_an_unknown_module_is_never_offered_for_installing_under_its_spelling(
    tmp_path: Path,
) -> None:
    outcome = _run_main(tmp_path, "import qwzxv_no_such_thing\ndef main(): ...\n")
    assert "pip install qwzxv" not in outcome["hint"]
    assert "spelling" in outcome["hint"] and "requirements.txt" in outcome["hint"]


@pytest.mark.parametrize(
    "fetch",
    [
        "import httpx\n    return httpx.get('example.org/data.csv')",
        "import requests\n    return requests.get('example.org/data.csv')",
        "import urllib.request\n    return urllib.request.urlopen('example.org/data.csv')",
    ],
    ids=["httpx", "requests", "urllib"],
)
def test_a_url_without_scheme_is_the_producers_bug_not_the_network(
    tmp_path: Path, fetch: str
) -> None:
    outcome = _run_main(tmp_path, f"def main():\n    {fetch}\n")
    assert outcome["error_class"] == "unknown", outcome  # not "network": retrying cannot fix it
    assert "try again" not in outcome["hint"].lower(), outcome
    assert "example.org/data.csv" in outcome["hint"] and "https://" in outcome["hint"], outcome
    assert outcome["message"].startswith("main.py:3:"), outcome  # the line of the call


@pytest.mark.parametrize(
    ("body", "returned", "fix"),
    [
        (
            "import pandas as pd\ndef main():\n    return pd.Series([1.0, 2.0])\n",
            "pandas Series",
            "to_frame",
        ),
        (
            "import polars as pl\ndef main():\n    return pl.Series('a', [1.0])\n",
            "polars Series",
            "to_frame",
        ),
        (
            "import pyarrow as pa\ndef main():\n    return pa.array([1.0])\n",
            "pyarrow DoubleArray",
            "pa.table",
        ),
        (
            "import pandas as pd\ndef main():\n    yield pd.DataFrame({'a': [1]})\n"
            "    yield pd.Series([2])\n",
            "item 2 is a pandas Series",
            "to_frame",
        ),
    ],
    ids=["pandas", "polars", "pyarrow", "generator"],
)
def test_a_series_is_named_with_the_way_to_a_dataframe(
    tmp_path: Path, body: str, returned: str, fix: str
) -> None:
    outcome = _run_main(tmp_path, body)
    assert outcome["error_class"] == "validation"
    assert returned in outcome["message"], outcome
    assert "float" not in outcome["message"], outcome  # not the type of its first value
    assert fix in outcome["hint"] and "DataFrame" in outcome["hint"], outcome


# -- od get: where the output goes ----------------------------------------------------------


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A 3-shard dataset in the local store of this test's OPENDATA_HOME."""
    import pandas as pd

    import opendata

    days = pd.date_range("2022-01-01", "2024-12-31", freq="D")
    frame = pd.DataFrame({"date": days, "v": range(len(days))})
    opendata.Client().push(frame, "acme/days", time_column="date", partition="year")
    return "acme/days"


def _od(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    """``od ARGS`` in a process of its own (exit codes and exit crashes are its own)."""
    import os
    import sys

    od = str(Path(sys.executable).with_name("od"))
    return subprocess.run(
        [od, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ),
        preexec_fn=lambda: os.umask(umask),
    )


def test_od_get_into_a_missing_folder_names_the_folder(published: str) -> None:
    done = _od("get", published, "-o", "/missing/dir/x.parquet")
    assert done.returncode == 1, done.stderr
    assert "the folder /missing/dir does not exist" in done.stderr
    assert "mkdir -p /missing/dir" in done.stderr
    assert ".tmp" not in done.stderr


def test_a_failed_write_after_the_download_names_the_file_and_exits_cleanly(
    published: str,
) -> None:
    """Issue 23 §4: after such a failure the process sometimes died at exit (`terminate called
    without an active exception`, 134) while Arrow's threads were torn down; every run must
    exit with the command's own code."""
    for _ in range(10):
        done = _od("get", published, "-o", "/proc/x.parquet")  # /proc takes no new file
        assert done.returncode == 1, done.stderr
        assert "terminate called" not in done.stderr
        assert "cannot write /proc/x.parquet" in done.stderr and ".tmp" not in done.stderr


def test_files_od_writes_follow_the_umask(published: str, tmp_path: Path) -> None:
    """Not mkstemp's 0600: 0666 less the umask (027 here, so not a hard-coded 0644)."""
    import stat

    umask = 0o027
    out = tmp_path / f"days-{umask:o}.csv"
    assert _od("get", published, "-o", str(out), umask=umask).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask

    project = tmp_path / f"p{umask:o}"
    assert _od("init", str(project), "--id", "acme/days", "--yes", umask=umask).returncode == 0
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    origin = ["git", "-C", str(project), "remote", "add", "origin"]
    subprocess.run([*origin, "https://github.com/acme/days.git"], check=True)
    done = _od("deploy", str(project), umask=umask)
    assert done.returncode == 0, done.stderr
    workflow = project / ".github" / "workflows" / "opendata.yml"
    assert stat.S_IMODE(workflow.stat().st_mode) == 0o666 & ~umask
    # A file that is replaced keeps the mode it had.
    out.chmod(0o600)
    assert _od("get", published, "-o", str(out), umask=umask).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


# -- tables at 80 columns: one row, one line -------------------------------------------------


def _yaml(tmp_path: Path, ds: str, title: str, license: str) -> Path:
    path = tmp_path / f"{ds.replace('/', '-')}.yaml"
    path.write_text(
        f"id: {ds}\ntitle: {title}\ndescription: d\nlicense: {license}\n"
        f"repo: https://github.com/{ds}-with-a-long-repository-name\nsource:\n  provider: p\n"
    )
    return path


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_tables_keep_each_row_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    """At 80 columns `od versions` wrapped its header mid-word ("publishe / d (UTC)"), and
    `od list` split licences and timestamps over lines."""
    import pandas as pd
    from click.testing import CliRunner

    import opendata

    hours = pd.date_range("2024-12-01", periods=800, freq="h", tz="UTC")
    datasets = {
        "binance/btcusdt-daily-klines": ("LicenseRef-Binance-Terms-of-Use", hours),
        "us-treasury/daily-yield-curve": ("LicenseRef-US-Government-Work", hours[:30]),
    }
    for ds, (licence, times) in datasets.items():
        title = "Binance spot daily klines (OHLCV) for BTCUSDT and other major USDT pairs"
        frame = pd.DataFrame({"time": times, "v": range(len(times))})
        yaml = _yaml(tmp_path, ds, title, licence)
        opendata.push(frame, ds, time_column="time", metadata=yaml)
        opendata.push(frame.head(10), ds, time_column="time", metadata=yaml, mode="append")
    monkeypatch.setenv("COLUMNS", str(columns))
    for command, rows in (
        (["list"], 2),
        (["search", "klines"], 2),
        (["versions", "binance/btcusdt-daily-klines"], 2),
    ):
        out = CliRunner().invoke(cli, command)
        assert out.exit_code == 0, out.output
        lines = out.stdout.rstrip("\n").splitlines()
        assert len(lines) == 1 + rows, out.stdout  # the header, then one line per row
        assert all(len(line.rstrip()) <= columns for line in lines), out.stdout
        header = lines[0].split()
        assert all(
            word
            in {
                "id",
                "title",
                "rows",
                "coverage",
                "license",
                "version",
                "published",
                "UTC",
                "bytes",
                "schema",
                "from",
            }
            for word in header
        )
        # A licence is shown whole, or not at all (never "LicenseRef-U" / "S-Government").
        licences = {licence for licence, _ in datasets.values()}
        shown = [w for line in lines for w in line.split() if w.startswith("LicenseRef")]
        assert all(w in licences for w in shown), out.stdout
