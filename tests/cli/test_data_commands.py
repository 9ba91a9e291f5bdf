from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import opendata as od
from opendata_cli.main import cli


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    df = pd.DataFrame(
        {
            "date": pd.date_range("2023-01-01", "2024-12-31").date,
            "name": ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "plain"] * 146 + ["x"],
            "v": range(731),
        }
    )
    path = tmp_path / "x.parquet"
    df.to_parquet(path)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_push_list_search_info_get(parquet: Path, tmp_path: Path) -> None:
    code, out = run(
        "push", str(parquet), "--id", "me/x", "--time-column", "date", "--partition", "year"
    )
    assert code == 0, out
    assert "published me/x: 731 rows, 2023-01-01 .. 2024-12-31; 2 shard(s) written" in out
    code, out = run("list", "--json")
    assert [e["id"] for e in json.loads(out)] == ["me/x"]
    code, out = run("search", "x")
    assert "me/x" in out
    code, out = run("search", "nothing-like-this")
    assert out.strip() == "no datasets found"
    code, out = run("info", "me/x")
    assert "coverage: 2023-01-01 .. 2024-12-31" in out
    assert 'od.load("me/x")' in out
    assert json.loads(run("info", "me/x", "--json")[1])["stats"]["row_count"] == 731
    target = tmp_path / "out.parquet"
    code, out = run(
        "get", "me/x", "--start", "2024-01-01", "--columns", "date,v", "-o", str(target)
    )
    assert code == 0, out
    got = pd.read_parquet(target)
    assert list(got.columns) == ["date", "v"]
    assert len(got) == 366


def test_csv_export_escapes_formulas(parquet: Path, tmp_path: Path) -> None:
    od.push(parquet, "me/x", time_column="date", partition="year")
    target = tmp_path / "out.csv"
    code, out = run("get", "me/x", "--end", "2023-01-05", "-o", str(target))
    assert code == 0, out
    names = pd.read_csv(target)["name"].tolist()
    assert names == ["'=cmd|' /C calc'!A0", "'+1", "'-2", "'@SUM(A1)", "plain"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "me/y", "-o", "o.csv"], "error: dataset 'me/y' not found; did you mean 'me/x'?"),
        (
            ["get", "me/x", "--start", "junk", "-o", "o.csv"],
            "error: start='junk' is not a date or time",
        ),
        (
            ["get", "me/x", "--columns", "nope", "-o", "o.csv"],
            "error: me/x: no column 'nope'; columns are: date, name, v",
        ),
        (
            ["get", "me/x", "--start", "2030-01-01", "-o", "o.csv"],
            "is outside the data's coverage (2023-01-01 .. 2024-12-31)",
        ),
        (["get", "me/x", "-o", "o.xlsx"], "use a .parquet or .csv file name"),
        (["push", "x.parquet", "--id", "bad id"], "error: invalid dataset id 'bad id'"),
        (["gc", "me/x", "--older-than", "soon"], "use a number and a unit, e.g. 30m, 1h, 7d"),
    ],
)
def test_bad_input_is_one_line(
    parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    od.push(parquet, "me/x", time_column="date", partition="year")
    monkeypatch.chdir(parquet.parent)
    code, out = run(*args)
    assert code != 0
    assert message in out
    assert "Traceback" not in out
    assert not (tmp_path / "o.csv").exists()


def test_gc_index_and_registry(parquet: Path, tmp_path: Path) -> None:
    od.push(parquet, "me/x", time_column="date", partition="year")
    df = pd.read_parquet(parquet)
    df["v"] = 0
    od.push(df, "me/x", time_column="date", partition="year")
    _, out = run("gc", "me/x", "--older-than", "0s", "--dry-run")
    assert "would delete 2 shard(s)" in out
    _, out = run("gc", "me/x", "--older-than", "0s")
    assert "deleted 2 shard(s)" in out
    assert len(od.load("me/x")) == 731
    _, out = run("index", "rebuild")
    assert out.strip() == "index.json rebuilt: 1 dataset(s)"
    yaml = tmp_path / "opendata.yaml"
    yaml.write_text(
        "id: acme/w\ntitle: W\ndescription: d\nlicense: MIT\nrepo: https://github.com/acme/w\nsource: {provider: A}\n"
    )
    _, out = run("registry", "add", str(yaml))
    assert out.strip() == "registered acme/w"
    assert [e.id for e in od.list()] == ["acme/w", "me/x"]


def test_append_from_the_cli(parquet: Path, tmp_path: Path) -> None:
    od.push(parquet, "me/x", time_column="date", partition="year")
    day = tmp_path / "day.csv"
    pd.DataFrame({"date": [dt.date(2025, 1, 1)], "name": ["n"], "v": [1]}).to_parquet(
        day.with_suffix(".parquet")
    )
    code, out = run(
        "push", str(day.with_suffix(".parquet")), "--id", "me/x", "--mode", "append", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["shards_written"] == 1


def test_progress_callback_reports_transfers(parquet: Path, tmp_path: Path) -> None:
    events: list[tuple[str, int, int]] = []
    client = od.Client(store=tmp_path / "s", progress=lambda *e: events.append(e))
    client.push(parquet, "me/x", time_column="date", partition="year")
    assert events[-1] == ("upload", 2, 2)
    events.clear()
    client.load("me/x")
    total = sum(u.bytes for u in client.urls("me/x"))
    assert events[-1] == ("download", total, total)
    assert len(events) == 2


def test_progress_bar_is_silent_off_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from opendata_cli import _progress

    monkeypatch.setattr(_progress, "DELAY", 0.0)
    with _progress.transfer_progress("x") as progress:
        progress("download", 1, 2)  # stderr is captured, not a terminal: draws nothing
    assert capsys.readouterr().err == ""
