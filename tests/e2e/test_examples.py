"""The five example producers, end to end: real source formats served from 127.0.0.1, `od run`,
then `od.load` returns what the source held."""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from click.testing import CliRunner

import opendata
from opendata_cli._runner import SOURCE_URL_ENV
from opendata_cli.main import cli
from opendata_core.metadata import load_metadata

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def import_example(example: str) -> ModuleType:
    """A fresh import of ``examples/<example>/main.py``."""
    path = EXAMPLES / example / "main.py"
    spec = importlib.util.spec_from_file_location(f"example_{example.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Expected:
    example: str
    rows: int
    columns: dict[str, str]
    """Column -> pandas dtype of the producer's frame (``object`` for dates, which ``od.load``
    returns as ``datetime64[ms]``)."""
    first: object = None
    last: object = None
    real_host: str = ""


TREASURY_COLUMNS = {
    "date": "object",
    **dict.fromkeys(
        [
            "mo_1",
            "mo_1_5",
            "mo_2",
            "mo_3",
            "mo_4",
            "mo_6",
            "yr_1",
            "yr_2",
            "yr_3",
            "yr_5",
            "yr_7",
            "yr_10",
            "yr_20",
            "yr_30",
        ],
        "float64",
    ),
}
BINANCE_FLOATS = ["open", "high", "low", "close", "volume", "quote_volume"]
CASES = [
    Expected(
        "us-treasury-yield-curve",
        123,
        TREASURY_COLUMNS,
        date(2024, 10, 1),
        date(2025, 3, 31),
        "https://home.treasury.gov",
    ),
    Expected(
        "fred-unemployment-rate",
        132,
        {"date": "object", "value": "float64"},
        date(2015, 1, 1),
        date(2025, 12, 1),
        "https://fred.stlouisfed.org",
    ),
    Expected(
        "binance-daily-klines",
        5 * 62,
        {
            "symbol": "str",
            "open_time": "datetime64[ms, UTC]",
            **dict.fromkeys(BINANCE_FLOATS, "float64"),
            "trades": "int64",
            "taker_buy_base_volume": "float64",
            "taker_buy_quote_volume": "float64",
        },
        pd.Timestamp("2024-12-01", tz="UTC"),
        pd.Timestamp("2025-01-31", tz="UTC"),
        "https://api.binance.com",
    ),
    Expected(
        "ecb-euro-fx-rates",
        83 * 30,
        {"date": "object", "currency": "str", "rate": "float64"},
        date(2024, 11, 1),
        date(2025, 2, 28),
        "https://www.ecb.europa.eu",
    ),
    Expected(
        "iso-country-codes",
        249,
        dict.fromkeys(
            ("alpha_2", "alpha_3", "numeric", "name", "official_name", "common_name", "flag"), "str"
        ),
        real_host="https://salsa.debian.org",
    ),
]
IDS = [c.example for c in CASES]


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {c: str(t) for c, t in frame.dtypes.items()}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_main_reads_the_source_format(case: Expected, source_server: Callable[[str], str]) -> None:
    source_server(case.example)
    meta = load_metadata(EXAMPLES / case.example / "opendata.yaml")
    frame = import_example(case.example).main()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == case.rows
    assert _dtypes(frame) == case.columns
    assert not frame.duplicated(subset=meta.primary_key).any()
    if meta.time_column is not None:
        times = frame[meta.time_column]
        assert times.notna().all()
        assert times.is_monotonic_increasing
        assert (times.iloc[0], times.iloc[-1]) == (case.first, case.last)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_od_run_publishes_and_od_load_returns_it(
    case: Expected, source_server: Callable[[str], str]
) -> None:
    source_server(case.example)
    meta = load_metadata(EXAMPLES / case.example / "opendata.yaml")
    result = CliRunner().invoke(cli, ["run", str(EXAMPLES / case.example)])
    assert result.exit_code == 0, result.output
    assert f"published {meta.id}: {case.rows:,} rows" in result.stdout
    assert f'od.load("{meta.id}")' in result.stdout

    loaded = opendata.Client().load(meta.id)
    assert len(loaded) == case.rows
    dates = {c: "datetime64[ms]" for c, t in case.columns.items() if t == "object"}
    assert _dtypes(loaded) == case.columns | dates
    if meta.time_column is not None:
        times = loaded[meta.time_column]
        assert times.is_monotonic_increasing
        assert (times.iloc[0], times.iloc[-1]) == (
            pd.Timestamp(case.first),
            pd.Timestamp(case.last),
        )
    info = opendata.Client().info(meta.id)
    assert info.stats.row_count == case.rows
    assert info.provenance.repo == meta.repo


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_without_override_the_real_https_source_is_used(
    case: Expected, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SOURCE_URL_ENV, raising=False)
    module = import_example(case.example)
    assert case.real_host == module.SOURCE_URL
    assert module.SOURCE_URL.startswith("https://")
    assert module.source_url() == case.real_host
    monkeypatch.setenv(SOURCE_URL_ENV, "http://127.0.0.1:1/")
    assert module.source_url() == "http://127.0.0.1:1"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_routes_name_every_fixture_and_the_real_host(case: Expected) -> None:
    fixtures = EXAMPLES / case.example / "fixtures"
    doc = json.loads((fixtures / "routes.json").read_text())
    assert doc["source"] == case.real_host
    served = {r["file"] for r in doc["routes"]}
    assert all((fixtures / f).is_file() for f in served)
    present = {p.name for p in fixtures.iterdir()} - {"routes.json"}
    # The ECB's CSV is shipped next to its zip so that the fixture can be read and diffed.
    assert present - served <= {"eurofxref-hist.csv"}
    assert all(r["path"].startswith("/") for r in doc["routes"])


# ---------------------------------------------------------------------------------------------
# The quirks of each source


def test_treasury_quirks(capsys: pytest.CaptureFixture[str]) -> None:
    treasury = import_example("us-treasury-yield-curve")
    fixtures = EXAMPLES / "us-treasury-yield-curve" / "fixtures"
    y2025 = treasury.parse_csv((fixtures / "daily-treasury-rates-2025.csv").read_text())
    # The 6-week bill is quoted from 2025-02-18; before, the cell is empty.
    quoted = y2025["date"] >= date(2025, 2, 18)
    assert y2025.loc[~quoted, "mo_1_5"].isna().all()
    assert y2025.loc[quoted, "mo_1_5"].notna().all()
    # 2024's file has no "1.5 Month" column at all: a null column, not an error.
    y2024 = treasury.parse_csv((fixtures / "daily-treasury-rates-2024.csv").read_text())
    assert y2024["mo_1_5"].isna().all()
    assert y2024.set_index("date").loc[date(2024, 10, 7), "yr_10"] == 4.03
    # A year without rows, and an empty body.
    assert treasury.parse_csv((fixtures / "daily-treasury-rates-empty.csv").read_text()).empty
    assert treasury.parse_csv("").empty
    # A maturity the Treasury adds later is reported and ignored, not a failure.
    extra = treasury.parse_csv('Date,"1 Mo","9 Mo"\n01/02/2025,4.1,4.2\n')
    assert extra["mo_1"].tolist() == [4.1]
    assert "9 Mo" in capsys.readouterr().err
    with pytest.raises(ValueError, match="match format"):
        treasury.parse_csv('Date,"1 Mo"\n2025-01-02,4.1\n')


def test_fred_quirks() -> None:
    fred = import_example("fred-unemployment-rate")
    text = (EXAMPLES / "fred-unemployment-rate/fixtures/fredgraph-UNRATE.csv").read_text()
    assert text.startswith("observation_date,UNRATE\n")
    frame = fred.parse_csv(text).set_index("date")
    # October 2025 was never measured (shutdown): kept, with a null value.
    assert pd.isna(frame.loc[date(2025, 10, 1), "value"])
    assert frame.loc[date(2020, 4, 1), "value"] == 14.8
    old_style = fred.parse_csv("DATE,UNRATE\n1948-01-01,3.4\n1948-02-01,.\n")
    assert old_style["value"].isna().tolist() == [False, True]
    with pytest.raises(ValueError, match="unexpected FRED CSV columns"):
        fred.parse_csv("<html>Service Unavailable</html>\n")


def test_binance_quirks() -> None:
    binance = import_example("binance-daily-klines")
    candles = json.loads(
        (EXAMPLES / "binance-daily-klines/fixtures/klines-BTCUSDT.json").read_text()
    )
    assert all(len(c) == 12 and isinstance(c[1], str) for c in candles)
    # The current day's candle is still open: left out.
    last_open = candles[-1][0]
    frame = binance.parse_klines("BTCUSDT", candles, now_ms=last_open + 3_600_000)
    assert len(frame) == len(candles) - 1
    assert frame["open_time"].iloc[-1] == pd.Timestamp(candles[-2][0], unit="ms", tz="UTC")
    assert frame["open"].iloc[0] == float(candles[0][1])
    with pytest.raises(ValueError, match="12-element kline"):
        binance.parse_klines("BTCUSDT", [[1, "2"]], now_ms=10)


def test_ecb_quirks() -> None:
    ecb = import_example("ecb-euro-fx-rates")
    fixtures = EXAMPLES / "ecb-euro-fx-rates" / "fixtures"
    csv_text = (fixtures / "eurofxref-hist.csv").read_text()
    # The served zip holds exactly the CSV shipped next to it.
    with zipfile.ZipFile(fixtures / "eurofxref-hist.zip") as archive:
        assert archive.namelist() == ["eurofxref-hist.csv"]
    assert ecb.read_zip((fixtures / "eurofxref-hist.zip").read_bytes()) == csv_text
    header, first = csv_text.splitlines()[:2]
    assert header.endswith(",") and first.endswith(",") and "N/A" in first
    frame = ecb.parse_csv(csv_text)
    currencies = set(frame["currency"])
    assert len(currencies) == 30
    assert {"HRK", "RUB", "CYP"}.isdisjoint(currencies)  # N/A everywhere here: no rows
    assert not any(c.startswith("Unnamed") for c in currencies)
    assert set(frame.loc[frame["currency"] == "BGN", "rate"]) == {1.9558}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "nothing")
    with pytest.raises(ValueError, match="expected one CSV"):
        ecb.read_zip(buf.getvalue())


def test_iso_quirks() -> None:
    iso = import_example("iso-country-codes")
    frame = iso.parse_json(
        (EXAMPLES / "iso-country-codes/fixtures/iso_3166-1.json").read_bytes()
    ).set_index("alpha_2")
    assert frame.loc["DE", "alpha_3"] == "DEU"
    assert frame.loc["DE", "numeric"] == "276"
    assert frame.loc["AF", "numeric"] == "004"  # a code, not a number
    assert frame.loc["AF", "official_name"] == "Islamic Republic of Afghanistan"
    assert pd.isna(frame.loc["AW", "official_name"])
    assert frame.loc["DE", "flag"] == "🇩🇪"
    bad = json.dumps({"3166-1": [{"alpha_2": "d", "alpha_3": "DEU", "numeric": "276"}]})
    with pytest.raises(ValueError, match="alpha_2"):
        iso.parse_json(bad.encode())


def test_all_five_examples_are_covered() -> None:
    folders = sorted(p.parent.name for p in EXAMPLES.glob("*/opendata.yaml"))
    assert folders == sorted(IDS)
    for name in folders:
        assert (EXAMPLES / name / "main.py").is_file()
        assert (EXAMPLES / name / "requirements.txt").is_file()
        assert (EXAMPLES / name / "README.md").is_file()


def test_time_is_utc_aware_for_binance(source_server: Callable[[str], str]) -> None:
    source_server("binance-daily-klines")
    frame = import_example("binance-daily-klines").main()
    first = frame["open_time"].iloc[0]
    assert first.tzinfo is not None
    assert first.to_pydatetime() == datetime.fromisoformat("2024-12-01T00:00:00+00:00")
