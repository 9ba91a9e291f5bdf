"""CLI conventions shared by every command: exit codes, help, pipes, error hints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from opendata_cli._exit import MEANINGS, ExitCode
from opendata_cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def od(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def small_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "small.parquet"
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=5).date, "v": range(5)}).to_parquet(
        path
    )
    return path


# ---- exit codes ---------------------------------------------------------------------------


def test_bare_od_prints_help_and_exits_0() -> None:
    result = od()
    assert result.exit_code == 0, result.output
    assert "[OPTIONS] [COMMAND] [ARGS]..." in result.output
    assert "Commands:" in result.output
    assert "Exit codes:" in result.output


def test_usage_error_is_2() -> None:
    result = od("get")
    assert result.exit_code == ExitCode.USAGE == 2
    assert "Missing argument 'DATASET_ID'" in result.output


def test_failure_is_1() -> None:
    result = od("info", "me/nothing-here")
    assert result.exit_code == ExitCode.FAILED == 1
    assert "error: dataset 'me/nothing-here' not found" in result.stderr


@pytest.mark.usefixtures("unreachable_s3_store")
def test_store_failure_is_3_not_usage(small_parquet: Path) -> None:
    result = od("push", str(small_parquet), "me/x", "--time-column", "date")
    assert result.exit_code == ExitCode.STORE == 3, result.output
    assert "error: store s3://od-bucket unavailable" in result.stderr


def test_every_exit_code_is_documented() -> None:
    reference = (REPO / "docs" / "cli-reference.md").read_text()
    guide = (REPO / "docs" / "producer-guide.md").read_text()
    help_text = od("--help").output
    for code, meaning in MEANINGS.items():
        first_words = " ".join(meaning.split()[:4])
        assert f"{int(code)}  {first_words}" in help_text
        assert f"{int(code)}  {first_words}" in reference
        assert f"| {int(code)} | {meaning} |" in guide
    assert {int(c) for c in ExitCode} == {0, 1, 2, 3}


# ---- output for humans and pipes ----------------------------------------------------------

LONG_ID = "statistics-office/consumer-price-index-by-region-and-product-group"


@pytest.mark.parametrize("columns", ["20", "40", "80", "200"])
@pytest.mark.parametrize("command", [["list"], ["search", "price"]])
def test_list_and_search_never_cut_the_id(
    small_parquet: Path, monkeypatch: pytest.MonkeyPatch, columns: str, command: list[str]
) -> None:
    import opendata

    opendata.push(small_parquet, LONG_ID, time_column="date")
    opendata.push(small_parquet, "me/price", time_column="date")
    # rich takes the console width from COLUMNS when stdout is not a terminal.
    monkeypatch.setenv("COLUMNS", columns)
    result = od(*command)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(LONG_ID in line for line in lines), result.stdout
    assert any("me/price" in line.split() for line in lines), result.stdout
    assert "…" not in result.stdout


def _shell(command: str) -> subprocess.CompletedProcess[str]:
    od_bin = Path(sys.executable).parent / "od"
    script = f'set -o pipefail; {od_bin} {command}; echo "od exited $?" >&2'
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, check=False
    )


def test_closed_pipe_exits_quietly(small_parquet: Path, tmp_path: Path) -> None:
    import opendata

    opendata.push(small_parquet, "me/small", time_column="date")
    big = tmp_path / "big.parquet"
    n = 200_000  # ~5 MB of CSV: far more than a pipe holds, so od is still writing
    pd.DataFrame(
        {"date": pd.date_range("2000-01-01", periods=n, freq="h"), "v": range(n)}
    ).to_parquet(big)
    opendata.push(big, "me/big", time_column="date")

    for command in ("info me/small | head -3", "get me/big -o - --format csv | head -3"):
        out = _shell(command)
        assert len(out.stdout.splitlines()) == 3, (command, out.stdout)
        assert out.stderr.strip().splitlines()[-1] == "od exited 0", (command, out.stderr)
        assert "Traceback" not in out.stderr
        assert "Broken pipe" not in out.stderr
        assert "error" not in out.stderr, (command, out.stderr)


# ---- errors say how to fix them -------------------------------------------------------------


def test_start_after_end_is_a_clear_message(small_parquet: Path) -> None:
    import opendata

    opendata.push(small_parquet, "me/small", time_column="date")
    result = od("get", "me/small", "-o", "x.csv", "--start", "2024-01-04", "--end", "2024-01-02")
    assert result.exit_code == 1
    assert "error: start 2024-01-04 is after end" in result.stderr
    assert "hint: `od get --help` lists what each option accepts" in result.stderr
    assert "OPENDATA_DEBUG" not in result.stderr


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("store = [\n", "not valid TOML: ", "fix that line, or delete the file"),
        ('stor = "/tmp/x"\n', "unknown key 'stor'", "did you mean 'store'? known keys: store"),
        ('colour = "red"\n', "unknown key 'colour'", "known keys: store, r2_account_id"),
        ("store = 3\n", "store must be a string, not 3", 'write it in quotes: store = "..."'),
    ],
)
def test_broken_config_names_the_file(text: str, message: str, hint: str) -> None:
    import os

    config = Path(os.environ["OPENDATA_HOME"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    result = od("list")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {config}: {message}"), result.stderr
    assert f"hint: {hint}" in result.stderr
    assert "OPENDATA_DEBUG" not in result.stderr


def test_a_file_error_names_the_file_without_a_debug_hint(
    small_parquet: Path, tmp_path: Path
) -> None:
    import opendata

    opendata.push(small_parquet, "me/small", time_column="date")
    target = tmp_path / "missing-folder" / "x.csv"
    result = od("get", "me/small", "-o", str(target))
    assert result.exit_code == 1
    assert f"the folder {target.parent} does not exist" in result.stderr
    assert "OPENDATA_DEBUG" not in result.stderr


# ---- every command: help text, --json, positional ids --------------------------------------


def _leaf_commands() -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []

    def walk(group: click.Group, prefix: str) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")
            else:
                out.append((f"{prefix}{name}", command))

    walk(cli, "")
    return out


def test_every_option_has_help_text() -> None:
    missing = [
        f"od {name} {'/'.join(param.opts)}"
        for name, command in _leaf_commands()
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()
    ]
    assert missing == []
    assert len(_leaf_commands()) == 18  # a new command is walked too


def test_every_command_that_prints_results_has_json() -> None:
    without = [
        name
        for name, command in _leaf_commands()
        if not any(isinstance(p, click.Option) and "--json" in p.opts for p in command.params)
    ]
    assert without == []


def test_dataset_ids_are_positional_everywhere() -> None:
    checked = []
    for name, command in _leaf_commands():
        ids = [p for p in command.params if p.name == "dataset_id"]
        # `od init DIRECTORY` is the exception: its id is optional (derived from the folder
        # and the git remote), so --id stays an option there.
        if ids and name != "init":
            assert isinstance(ids[0], click.Argument), f"od {name}: DATASET_ID is an option"
            checked.append(name)
    assert sorted(checked) == ["diff", "gc", "get", "info", "push", "versions"]


def test_push_takes_the_id_as_an_argument_or_as_id(small_parquet: Path) -> None:
    result = od("push", str(small_parquet), "me/a", "--time-column", "date")
    assert result.exit_code == 0, result.output
    assert "published me/a: 5 rows" in result.output
    result = od("push", str(small_parquet), "--id", "me/b", "--time-column", "date")
    assert result.exit_code == 0, result.output
    result = od("push", str(small_parquet), "me/a", "--id", "me/b")
    assert result.exit_code == 2
    assert "two dataset ids: 'me/a' and --id 'me/b'" in result.output
    result = od("push", str(small_parquet))
    assert result.exit_code == 2
    assert "Missing argument 'DATASET_ID'" in result.output


def test_json_from_gc_index_registry_and_init(small_parquet: Path, tmp_path: Path) -> None:
    import json

    import opendata

    opendata.push(small_parquet, "me/x", time_column="date")
    opendata.push(pd.read_parquet(small_parquet).assign(v=1), "me/x", time_column="date")
    out = json.loads(od("gc", "me/x", "--older-than", "0s", "--dry-run", "--json").stdout)
    assert out["dry_run"] is True
    assert out["dataset_id"] == "me/x"
    # the default retention keeps both versions, so nothing is collectable
    assert (out["deleted"], out["bytes_freed"], out["versions_kept"]) == ([], 0, 2)
    assert out["versions_removed"] == []
    assert json.loads(od("index", "rebuild", "--json").stdout) == {"datasets": ["me/x"]}

    result = od("init", str(tmp_path / "new"), "--id", "acme/new", "--json")
    assert result.exit_code == 0, result.output
    init = json.loads(result.stdout)
    assert init["dataset_id"] == "acme/new"
    assert init["files"] == [
        "opendata.yaml",
        "main.py",
        "README.md",
        ".gitignore",
        "requirements.txt",
    ]
    assert init["next_steps"][0] == f"cd {tmp_path / 'new'}"

    result = od("index", "add", str(tmp_path / "new" / "opendata.yaml"), "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert entry["id"] == "acme/new"
    assert entry["title"] == "New"


def test_od_registry_add_is_a_hidden_deprecated_alias_of_od_index_add(tmp_path: Path) -> None:
    import json

    import opendata

    (tmp_path / "opendata.yaml").write_text(
        "id: acme/old\ntitle: Old\ndescription: d\nlicense: MIT\n"
        "repo: https://github.com/acme/old\nsource: {provider: A}\n"
    )
    result = od("registry", "add", str(tmp_path / "opendata.yaml"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == "acme/old"
    assert result.stderr.strip() == (
        "warning: od registry add is deprecated: use od index add "
        "(the old name goes away in the next release)"
    )
    assert [e.id for e in opendata.list()] == ["acme/old"]
    assert "registry" not in od("--help").stdout  # hidden: new users meet `od index add` only


def test_od_run_reports_upload_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    from collections.abc import Iterator

    from opendata_cli import _progress

    events: list[tuple[str, str, int, int]] = []

    @contextlib.contextmanager
    def recording(description: str) -> Iterator[object]:
        yield lambda phase, done, total: events.append((description, phase, done, total))

    # The bar itself only draws in a terminal after half a second; what matters here is that
    # `od run` hands the store's transfers to it, as `od push` does.
    monkeypatch.setattr(_progress, "transfer_progress", recording)
    assert od("init", str(tmp_path), "--id", "acme/p", "--yes").exit_code == 0
    result = od("run", str(tmp_path))
    assert result.exit_code == 0, result.output
    uploads = [e for e in events if e[1] == "upload"]
    assert uploads, events
    assert uploads[-1][0] == "publishing"
    assert uploads[-1][2] == uploads[-1][3] >= 1


def test_opendata_variables_are_read_in_one_module() -> None:
    # Issue 8: OPENDATA_DEBUG and OPENDATA_STORE were read in several places; now only the
    # client's settings module reads OPENDATA_* variables (public as opendata.settings()).
    import re

    root = Path(__file__).resolve().parents[2] / "packages"
    reads = re.compile(r"(environ\.get|getenv|environ\[)\(?\s*[\"']OPENDATA_")
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for package in ("opendata-client", "opendata-cli")
        for path in sorted((root / package / "src").rglob("*.py"))
        if path.name != "_config.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if reads.search(line)
    ]
    assert offenders == []


def test_debug_is_read_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import opendata

    monkeypatch.setenv("OPENDATA_DEBUG", "1")
    assert opendata.settings().debug
    result = CliRunner().invoke(cli, ["info", "no/such-dataset"])
    assert isinstance(result.exception, Exception)  # re-raised for the traceback
