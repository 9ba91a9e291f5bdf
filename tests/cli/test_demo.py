"""`od demo`: the README's main job — every example published offline, each with a working
`od.load(...)` line; running it again re-uses every shard."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner, Result

import opendata
from opendata_cli.commands.demo import Route, find_examples, serve_fixtures, shipped_examples
from opendata_cli.main import cli
from tests.e2e.test_guides import examples

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
IDS = {
    "binance/btcusdt-daily-klines",
    "ecb/euro-fx-reference-rates",
    "fred/unrate",
    "opendata/iso-3166-countries",
    "us-treasury/daily-yield-curve",
}


def demo(*args: str) -> Result:
    return CliRunner().invoke(cli, ["demo", "--no-serve", *args])


def load_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith("od.load(")]


@pytest.fixture(scope="module")
def first_and_second(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Result, Path]:
    """Two runs of `od demo` into one home (module-scoped: each run takes a few seconds)."""
    home = tmp_path_factory.mktemp("demo-home") / "opendata"
    with pytest.MonkeyPatch.context() as mp:
        # Module-scoped, so it runs before the autouse isolation: isolate here too.
        for key in list(os.environ):
            if key.startswith(("OPENDATA_", "AWS_", "R2_", "GITHUB_")):
                mp.delenv(key)
        mp.setenv("OPENDATA_HOME", str(home))
        mp.setenv("HOME", str(home.parent))
        mp.chdir(REPO)
        first = demo()
        second = demo("--json")
    return first, second, home


def test_demo_publishes_every_example_with_a_load_line(
    first_and_second: tuple[Result, Result, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _, home = first_and_second
    assert first.exit_code == 0, first.output
    assert "5 of 5 published" in first.stdout
    lines = load_lines(first.stdout)
    assert {line.split('"')[1] for line in lines} == IDS
    monkeypatch.setenv("OPENDATA_HOME", str(home))
    for line in lines:
        namespace: dict[str, object] = {}
        exec(f"import opendata as od\ndf = {line}", namespace)
        df = namespace["df"]
        assert isinstance(df, pd.DataFrame)
        assert len(df) > 0, line


def test_demo_prints_rows_and_coverage(first_and_second: tuple[Result, Result, Path]) -> None:
    out = first_and_second[0].stdout
    assert "✓ fred/unrate: 132 rows, 2015-01-01 .. 2025-12-01" in out
    assert "✓ opendata/iso-3166-countries: 249 rows;" in out
    assert "✓ ecb/euro-fx-reference-rates: 2,490 rows, 2024-11-01 .. 2025-02-28" in out


def test_second_run_reuses_every_shard(
    first_and_second: tuple[Result, Result, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, second, home = first_and_second
    assert second.exit_code == 0, second.output
    out = json.loads(second.stdout)
    assert out["ok"] is True
    assert out["store"] == str(home / "store")
    datasets = {d["dataset_id"]: d for d in out["datasets"]}
    assert set(datasets) == IDS
    for d in datasets.values():
        assert d["status"] == "success"
        assert d["shards_written"] == 0
        assert d["shards_reused"] >= 1
        assert d["load"] == f'od.load("{d["dataset_id"]}")'
        assert d["rows"] > 0
    monkeypatch.setenv("OPENDATA_HOME", str(home))
    # Two successful run records per dataset, and the data unchanged.
    client = opendata.Client()
    for ds in IDS:
        runs = list(client.store.list(f"datasets/{ds}/runs/"))
        assert len(runs) == 2
        assert len(client.load(ds)) == datasets[ds]["rows"]


def test_demo_never_uses_the_network(first_and_second: tuple[Result, Result, Path]) -> None:
    # Every example ran against 127.0.0.1: a real host would have failed offline, and the
    # producers' sources are only reachable through OPENDATA_SOURCE_URL.
    first = first_and_second[0]
    assert "offline" in first.stdout
    assert f"their producers (main.py, opendata.yaml, source snapshots): {EXAMPLES}" in first.stdout
    assert "failed" not in first.stdout


def test_demo_without_examples_is_one_line(tmp_path: Path) -> None:
    result = demo("--examples", str(tmp_path))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert f"no examples in {tmp_path} (sub-folders with opendata.yaml" in errors[0]
    assert "leave out --examples to use the ones that come with opendata-cli" in result.stderr


def test_demo_with_a_custom_store_prints_working_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    source = EXAMPLES / "fred-unemployment-rate"
    target = examples / "fred"
    target.mkdir()
    for name in ("opendata.yaml", "main.py"):
        (target / name).write_text((source / name).read_text())
    (target / "fixtures").mkdir()
    for f in (source / "fixtures").iterdir():
        (target / "fixtures" / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    result = demo()
    assert result.exit_code == 0, result.output
    (line,) = [ln.strip() for ln in result.stdout.splitlines() if ".load(" in ln]
    assert line.startswith("od.Client(")
    namespace: dict[str, object] = {}
    exec(f"import opendata as od\ndf = {line}", namespace)
    assert len(namespace["df"]) == 132  # type: ignore[arg-type]


def test_failing_example_is_reported_and_the_others_still_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = tmp_path / "examples"
    for name in ("fred-unemployment-rate", "iso-country-codes"):
        src, dst = EXAMPLES / name, examples / name
        (dst / "fixtures").mkdir(parents=True)
        for f in ("opendata.yaml", "main.py"):
            (dst / f).write_text((src / f).read_text())
        for f in (src / "fixtures").iterdir():
            (dst / "fixtures" / f.name).write_bytes(f.read_bytes())
    # Break FRED's fixture the way a changed source format would.
    (examples / "fred-unemployment-rate/fixtures/fredgraph-UNRATE.csv").write_text("<html>")
    result = demo("--examples", str(examples))
    assert result.exit_code == 1
    assert "✗ fred/unrate: failed (parse)" in result.stdout
    assert "✓ opendata/iso-3166-countries: 249 rows" in result.stdout
    assert "1 of 2 published" in result.stdout


def test_find_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_examples(REPO) == EXAMPLES
    assert find_examples(EXAMPLES / "fred-unemployment-rate" / "fixtures") == EXAMPLES
    assert find_examples(EXAMPLES) == EXAMPLES
    # Anywhere else: the examples that come with the package (in a checkout, the repository's;
    # a wheel's own copy is checked by scripts/check-wheels.sh and tests/e2e/test_wheels.py).
    assert shipped_examples() == EXAMPLES
    assert find_examples(tmp_path) == EXAMPLES
    mine = tmp_path / "project" / "examples"
    shutil.copytree(EXAMPLES / "fred-unemployment-rate", mine / "fred")
    assert find_examples(mine.parent) == mine  # your own copy wins


def test_fixture_server_routes() -> None:
    with serve_fixtures(EXAMPLES / "us-treasury-yield-curve" / "fixtures") as url:
        base = f"{url}/resource-center/data-chart-center/interest-rates/daily-treasury-rates.csv"
        query = "?type=daily_treasury_yield_curve&field_tdr_date_value={y}&page&_format=csv"
        r2024 = httpx.get(f"{base}/2024/all" + query.format(y=2024))
        assert r2024.status_code == 200
        assert r2024.headers["content-type"].startswith("text/csv")
        assert "12/31/2024,4.40" in r2024.text
        # Any other year: the catch-all route (a header, no rows).
        r1999 = httpx.get(f"{base}/1999/all" + query.format(y=1999))
        assert r1999.text.count("\n") == 1
        missing = httpx.get(f"{url}/nothing/here?x=1")
        assert missing.status_code == 404
        assert "no fixture answers /nothing/here?x=1" in missing.text


def test_route_matching() -> None:
    route = Route("/api/v3/klines", Path("x"), {"symbol": "BTCUSDT"})
    assert route.matches("/api/v3/klines", {"symbol": ["BTCUSDT"], "limit": ["1000"]})
    assert not route.matches("/api/v3/klines", {"symbol": ["ETHUSDT"]})
    assert not route.matches("/api/v3/klines", {})
    prefix = Route("/a/*", Path("x"))
    assert prefix.matches("/a/b/c", {})
    assert not prefix.matches("/b", {})
    assert route.specificity > Route("/api/v3/klines", Path("x")).specificity > prefix.specificity


@pytest.mark.parametrize("doc", ["README.md", "docs/consumer-guide.md"])
def test_documented_python_runs_on_the_demo_data(
    first_and_second: tuple[Result, Result, Path], monkeypatch: pytest.MonkeyPatch, doc: str
) -> None:
    """Every ```python block of the consumer-facing docs runs against what `od demo` published
    in the local store (tests/e2e/test_guides.py runs them through the registry)."""
    _, _, home = first_and_second
    monkeypatch.setenv("OPENDATA_HOME", str(home))
    # A `not-tested` mark names what the block needs that no test machine has (pyspark and a JRE).
    blocks = [
        e
        for e in examples(doc)
        if e.lang == "python" and (e.mark is None or e.mark[0] != "not-tested")
    ]
    assert blocks
    namespace: dict[str, object] = {}  # one session per document, like a notebook
    for block in blocks:
        exec(compile(block.code, block.id, "exec"), namespace)


def test_the_printed_load_line_starts_the_python_that_runs_od() -> None:
    # In a checkout `uv run python`; from a wheel, this interpreter's own path (scripts/
    # check-wheels.sh covers that install).
    from opendata_cli.commands import demo as demo_command

    assert demo_command._python() == "uv run python"
