from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import opendata as od
from opendata_cli.main import cli
from opendata_core import validate_metadata


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


def _push_described(parquet: Path, tmp_path: Path, yaml_text: str) -> None:
    """Publish ``parquet`` under the id and metadata of an ``opendata.yaml`` text."""
    yaml = tmp_path / "opendata.yaml"
    yaml.write_text(yaml_text)
    od.push(
        parquet, yaml_text.split("\n", 1)[0].removeprefix("id: "), metadata=yaml, time_column="date"
    )


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


def test_search_by_geo_and_the_deprecated_country_option(parquet: Path, tmp_path: Path) -> None:
    _push_described(
        parquet,
        tmp_path,
        "id: me/x\ntitle: X\ndescription: d\nlicense: MIT\nrepo: https://github.com/me/x\n"
        "source: {provider: A}\ngeo: {scope: country, countries: [DE]}\n",
    )
    found = CliRunner().invoke(cli, ["search", "--geo", "de", "--json"])
    assert [e["id"] for e in json.loads(found.stdout)] == ["me/x"]
    assert found.stderr == ""
    assert json.loads(CliRunner().invoke(cli, ["search", "--geo", "FR", "--json"]).stdout) == []
    old = CliRunner().invoke(cli, ["search", "--country", "de", "--json"])
    assert [e["id"] for e in json.loads(old.stdout)] == ["me/x"]
    assert old.stderr.strip() == (
        "warning: --country is deprecated: use --geo (the old name goes away in the next release)"
    )
    both = CliRunner().invoke(cli, ["search", "--geo", "fr", "--country", "de"])
    assert both.exit_code == 2
    assert "give --geo only" in both.stderr


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
        (["get", "me/x", "-o", "o.xlsx"], "use a .parquet, .csv or .json file name, or --format"),
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
    _, out = run("gc", "me/x", "--older-than", "0s")
    assert "deleted 0 shard(s)" in out  # the default retention keeps the first version
    assert "2 version(s) kept, 0 removed by retention" in out
    keep_one = {"keep_versions": 1, "keep_days": 0}
    meta = {"title": "X", "description": "d", "license": "MIT", "repo": "https://github.com/me/x"}
    yaml = validate_metadata(
        {"id": "me/x", **meta, "source": {"provider": "Me"}, "retention": keep_one}
    )
    df["v"] = 1
    od.push(df, "me/x", time_column="date", partition="year", metadata=yaml)
    _, out = run("gc", "me/x", "--older-than", "0s", "--dry-run")
    assert "would delete 4 shard(s) and 2 history entries" in out
    _, out = run("gc", "me/x", "--older-than", "0s")
    assert "deleted 4 shard(s) and 2 history entries" in out and "2 removed by retention" in out
    assert len(od.load("me/x")) == 731
    _, out = run("index", "rebuild")
    assert out.strip() == "index.json rebuilt: 1 dataset(s)"
    yaml = tmp_path / "opendata.yaml"
    yaml.write_text(
        "id: acme/w\ntitle: W\ndescription: d\nlicense: MIT\nrepo: https://github.com/acme/w\nsource: {provider: A}\n"
    )
    _, out = run("index", "add", str(yaml))
    assert out.strip() == "added acme/w to index.json"
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


# Every form a spreadsheet runs as a formula, and text that only looks close.
RISKY = [
    "=1+1",
    "+1",
    "-2",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\n=1",
    " =1",
    "  @x",
    "\u00a0=1",
    "\u3000+1",
    "\uff1d1+1",  # full-width equals
    "\uff0b1",  # full-width plus
    "\uff0d1",  # full-width minus
    "\uff20SUM(A1)",  # full-width at
    "\tplain",
    "\nplain",
    "\u200b \u2003\ufeff=1",  # spaces and invisible characters mixed before the sign
]
SAFE = ["plain", "a=b", "1-2", "x@y.org", " plain", "", "'already"]


def test_escape_formulas_covers_every_text_type() -> None:
    import pyarrow as pa

    from opendata_core.tables import escape_formulas

    values = RISKY + SAFE
    table = pa.table(
        {
            "string": pa.array(values, pa.string()),
            "large": pa.array(values, pa.large_string()),
            "view": pa.array(values, pa.string_view()),
            "dict": pa.array(values, pa.string()).dictionary_encode(),
            "binary": pa.array([v.encode() for v in values], pa.binary()),
            "=header": pa.array(range(len(values))),
            "\uff20name": pa.array(range(len(values))),
        }
    )
    out = escape_formulas(table)
    assert out.column_names[-2:] == ["'=header", "'\uff20name"]
    expected = ["'" + v for v in RISKY] + SAFE
    for name in ("string", "large", "view", "dict", "binary"):
        assert [str(v) for v in out.column(name).to_pylist()] == expected, name
    assert out.column("'=header").to_pylist() == list(range(len(values)))


# Characters a spreadsheet does not show: before a formula sign, TAB or CR they still leave the
# cell a formula (OWASP counts the first character the spreadsheet sees).
INVISIBLE_PREFIXES = {
    "BOM U+FEFF": "\ufeff",
    "zero-width space U+200B": "\u200b",
    "zero-width non-joiner U+200C": "\u200c",
    "zero-width joiner U+200D": "\u200d",
    "left-to-right mark U+200E": "\u200e",
    "right-to-left mark U+200F": "\u200f",
    "line separator U+2028": "\u2028",
    "paragraph separator U+2029": "\u2029",
    "right-to-left override U+202E": "\u202e",
    "word joiner U+2060": "\u2060",
    "first-strong isolate U+2068": "\u2068",
    "soft hyphen U+00AD": "\u00ad",
    "Arabic letter mark U+061C": "\u061c",
    "several": "\ufeff\u200b\u2028",
}
TRIGGERS = ["=1+1", "+1", "-2", "@SUM(A1)", "\t=1", "\rx", "\uff1d1"]


@pytest.mark.parametrize("prefix", INVISIBLE_PREFIXES.values(), ids=INVISIBLE_PREFIXES.keys())
def test_csv_export_counts_invisible_characters_as_leading(prefix: str) -> None:
    import io

    import pyarrow as pa

    from opendata_cli._export import write_table
    from opendata_core.tables import escape_formulas

    risky = [prefix + t for t in TRIGGERS]
    safe = [prefix + "plain", prefix + "1", "a" + prefix + "=1"]
    values = risky + safe
    table = pa.table(
        {
            "string": pa.array(values, pa.string()),
            "view": pa.array(values, pa.string_view()),
            "dict": pa.array(values, pa.string()).dictionary_encode(),
            prefix + "=name": pa.array(range(len(values))),
        }
    )
    out = escape_formulas(table)
    expected = ["'" + v for v in risky] + safe
    for name in ("string", "view", "dict"):
        assert out.column(name).to_pylist() == expected, name
    assert out.column_names[-1] == "'" + prefix + "=name"
    sink = io.BytesIO()
    write_table(table, sink, "csv")
    cells = pd.read_csv(io.BytesIO(sink.getvalue()), dtype=str, keep_default_na=False)
    assert cells["string"].tolist() == expected


def test_csv_export_escapes_categoricals_headers_and_lookalikes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=len(RISKY)).date,
            "cat": pd.Categorical(RISKY),
            '=HYPERLINK("http://x")': RISKY,
        }
    )
    od.push(frame, "me/risky", time_column="date")
    target = tmp_path / "out.csv"
    code, out = run("get", "me/risky", "-o", str(target))
    assert code == 0, out
    got = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert list(got.columns) == ["date", "cat", '\'=HYPERLINK("http://x")']
    assert got["cat"].tolist() == ["'" + v for v in RISKY]
    assert got['\'=HYPERLINK("http://x")'].tolist() == ["'" + v for v in RISKY]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_get_to_stdout_in_each_format(parquet: Path, fmt: str) -> None:
    import io

    od.push(parquet, "me/x", time_column="date", partition="year")
    result = CliRunner().invoke(
        cli, ["get", "me/x", "--end", "2023-01-03", "-o", "-", "--format", fmt]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3 rows (" + fmt + ") to stdout" in result.stderr
    data = result.stdout_bytes
    if fmt == "csv":
        got = pd.read_csv(io.BytesIO(data))
        assert got["name"].tolist() == ["'=cmd|' /C calc'!A0", "'+1", "'-2"]
    elif fmt == "parquet":
        got = pd.read_parquet(io.BytesIO(data))
        assert got["name"].tolist() == ["=cmd|' /C calc'!A0", "+1", "-2"]
    else:
        rows = json.loads(data)
        assert rows[0] == {"date": "2023-01-01", "name": "=cmd|' /C calc'!A0", "v": 0}
        assert len(rows) == 3


def test_get_format_option_and_json_summary(parquet: Path, tmp_path: Path) -> None:
    od.push(parquet, "me/x", time_column="date", partition="year")
    target = tmp_path / "data.out"
    code, out = run("get", "me/x", "-o", str(target), "--format", "json", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["rows"] == 731
    assert summary["format"] == "json"
    assert summary["path"] == str(target)
    assert len(json.loads(target.read_text())) == 731
    code, out = run("get", "me/x", "-o", "-", "--json")
    assert code == 2
    assert "--json prints to stdout, where -o - writes the data" in out


def test_versions_diff_cite_and_pinned_get(tmp_path: Path) -> None:
    frames = [
        pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n).date, "v": range(n)})
        for n in (3, 4)
    ]
    ids = []
    for i, df in enumerate(frames):
        path = tmp_path / f"v{i}.parquet"
        df.to_parquet(path)
        code, out = run("push", str(path), "--id", "me/x", "--time-column", "date")
        assert code == 0, out
        ids.append(od.Client().manifest("me/x").publish_id)
    code, out = run("versions", "me/x", "--json")
    listed = json.loads(out)
    assert [v["publish_id"] for v in listed] == ids[::-1]
    assert [v["row_count"] for v in listed] == [4, 3]
    code, out = run("versions", "me/x")
    assert code == 0 and ids[0] in out and ids[1] in out, out
    code, out = run("diff", "me/x", ids[0], ids[1])
    assert code == 0, out
    assert "rows: 3 -> 4 (+1)" in out and "schema: no change" in out
    code, out = run("diff", "me/x", ids[0], ids[1], "--json")
    assert json.loads(out)["rows_after"] == 4
    target = tmp_path / "old.csv"
    code, out = run("get", "me/x", "--version", ids[0], "-o", str(target))
    assert code == 0, out
    assert len(pd.read_csv(target)) == 3
    code, out = run("info", "me/x", "--version", ids[0], "--cite")
    assert code == 0 and f"(version {ids[0]})" in out, out
    code, out = run("info", "me/x", "--as-of", "2000-01-01", "--cite", "--format", "bibtex")
    assert code != 0 and "no version existed at 2000-01-01" in out, out
    code, out = run("info", "me/x", "--version", ids[0], "--cite", "--format", "bibtex")
    assert out.startswith("@misc{me_x_") and f"version = {{{ids[0]}}}" in out
    code, out = run("info", "me/x", "--version", ids[0], "--cite", "--format", "cff")
    assert code == 0 and out.startswith("cff-version: 1.2.0") and f'version: "{ids[0]}"' in out
    code, out = run("info", "me/x", "--version", ids[0], "--cite", "--format", "apa")
    assert code == 0 and f"(Version {ids[0]}) [Data set]. OpenData." in out, out
    code, out = run("get", "me/x", "--version", "zz", "-o", str(target))
    assert code != 0 and "too short" in out, out


def test_cache_info_and_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENDATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENDATA_CACHE_MAX", "1000")
    od.cache().put("ab" * 32, b"x")  # refused: the bytes do not hash to the name
    blob = b"cached bytes"
    import hashlib

    assert od.cache().put(hashlib.sha256(blob).hexdigest(), blob) is not None
    code, out = run("cache", "info")
    assert code == 0 and f"{tmp_path / 'cache'}: 1 entries, 12 bytes of 1,000" in out
    code, out = run("cache", "info", "--json")
    assert json.loads(out)["entries"] == 1
    code, out = run("cache", "clear")
    assert code == 0 and "12 bytes freed" in out
    assert od.cache().info().entries == 0


def test_search_suggests_the_catalogues_words_for_a_typo(parquet: Path, tmp_path: Path) -> None:
    _push_described(
        parquet,
        tmp_path,
        "id: ilo/jobless\ntitle: Unemployment by country\ndescription: Monthly rates\n"
        "license: MIT\nrepo: https://github.com/ilo/jobless\nsource: {provider: ILO}\n",
    )
    assert "ilo/jobless" in run("search", "countries")[1]  # by the stem "countri"
    code, out = run("search", "Unemplyment")
    assert (code, out) == (0, 'no datasets found\ndid you mean "unemployment"?\n')
    found = CliRunner().invoke(cli, ["search", "unemplyment rtaes", "--json"])
    assert json.loads(found.stdout) == []
    assert found.stderr == 'did you mean "unemployment rates"?\n'
    assert od.search("unemplyment").suggestion == "unemployment"
    assert od.search("unemployment").suggestion is None
