"""The engines section of docs/consumer-guide.md runs as written (its Spark block: opt-in)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import opendata as od

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "consumer-guide.md"
SECTION = "## Engines beyond one machine"
RATES = "ecb/euro-fx-reference-rates"


def blocks(*, tested: bool = True) -> list[str]:
    """The ```python blocks of the engines section: those the default run tests, or the ones
    marked ``<!-- not-tested: … -->`` (Spark: the opt-in tests run them)."""
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start + len(SECTION))]
    found = re.findall(r"(<!-- not-tested:[^\n]*-->\n)?```python\n(.*?)```", section, flags=re.S)
    return [code for mark, code in found if bool(mark) != tested]


def publish_rates(store: Path) -> pd.DataFrame:
    """Daily reference rates of three currencies, 2022-2024, one shard a year."""
    days = pd.date_range("2022-01-01", "2024-12-31", freq="D")
    rng = np.random.default_rng(3)
    frame = pd.concat(
        pd.DataFrame({"date": days.date, "currency": c, "rate": base + rng.random(len(days))})
        for c, base in (("JPY", 150.0), ("USD", 1.0), ("GBP", 0.8))
    ).reset_index(drop=True)
    od.Client(store=store).push(frame, RATES, time_column="date", partition="year")
    return frame


@pytest.mark.skipif(
    int(pd.__version__.split(".")[0]) < 3,
    reason="the guide's pandas example passes to_pandas_kwargs, which pandas 3 added",
)
def test_the_guides_engine_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENDATA_STORE", str(tmp_path / "store"))
    frame = publish_rates(tmp_path / "store")
    found = blocks()
    assert len(found) == 3  # pandas, Dask, DuckDB
    namespace: dict[str, object] = {}
    for code in found:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(GUIDE), "exec"), namespace)
    df = namespace["df"]
    assert isinstance(df, pd.DataFrame)
    pd.testing.assert_frame_equal(df, od.load(RATES, start="2024"))
    spring = frame[
        (frame.date >= pd.Timestamp("2024-03-01").date())
        & (frame.date <= pd.Timestamp("2024-05-31").date())
    ]
    expected = spring.groupby("currency").rate.mean()
    got = namespace["spring"].groupby("currency").rate.mean().compute(scheduler="threads")  # type: ignore[attr-defined]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    assert "JPY" in out.getvalue()  # the DuckDB query printed its rows
