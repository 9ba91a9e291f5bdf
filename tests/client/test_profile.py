"""Column statistics and first rows written at publish time (metadata.json's profile, spec §5.7)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import opendata as od
from opendata import _profile
from opendata._profile import profile_table
from opendata_core.profile import Profile


def _profile_of(table: pa.Table, time_column: str | None = None) -> Profile:
    return profile_table(
        table,
        publish_id="p1",
        time_column=time_column,
        types={f.name: str(f.type) for f in table.schema},
    )


def test_each_kind_of_column() -> None:
    values = [1.5, None, 2.5, float("nan"), 4.0, float("inf")]
    table = pa.table(
        {
            "f": values,
            "i": pa.array([3, 1, 2, 2, None, 7], pa.int32()),
            "s": ["b", "a", "b", None, "c", "b"],
            "flag": [True, False, True, True, None, False],
            "d": pa.array([dt.date(2024, 1, d) for d in (1, 2, 3, 4, 5, 6)]),
            "ts": pa.array([dt.datetime(2024, 1, 1, h) for h in range(6)], pa.timestamp("ns")),
            "cat": pa.array(["x", "y", "x", "x", None, "y"]).dictionary_encode(),
            "nested": [[1], [2], [], None, [3], [4]],
        }
    )
    p = _profile_of(table)
    f = p.column("f")
    assert f is not None and f.kind == "float" and f.nulls == 1
    finite = [1.5, 2.5, 4.0]
    assert f.min == 1.5 and f.max == 4.0 and f.mean == pytest.approx(np.mean(finite))
    assert f.std == pytest.approx(np.std(finite))
    assert f.histogram is not None and sum(f.histogram.counts) == len(finite)
    assert len(f.histogram.edges) == len(f.histogram.counts) + 1
    i = p.column("i")
    assert i is not None and (i.min, i.max, i.distinct, i.distinct_exact) == (1, 7, 4, True)
    s = p.column("s")
    assert s is not None and s.kind == "text" and s.nulls == 1
    assert [(v.value, v.count) for v in s.top] == [("b", 3), ("a", 1), ("c", 1)]
    assert (s.min, s.max) == ("a", "c") and s.histogram is None
    flag = p.column("flag")
    assert flag is not None and [(v.value, v.count) for v in flag.top] == [
        ("true", 3),
        ("false", 2),
    ]
    d = p.column("d")
    assert d is not None and (d.min, d.max) == ("2024-01-01", "2024-01-06")
    assert d.histogram is not None and d.histogram.edges[0] == "2024-01-01"
    assert d.histogram.edges[-1] == "2024-01-06" and sum(d.histogram.counts) == 6
    ts = p.column("ts")
    assert ts is not None and ts.histogram is not None
    assert ts.histogram.edges[0] == "2024-01-01T00:00:00" and ts.max == "2024-01-01T05:00:00"
    cat = p.column("cat")
    assert cat is not None and cat.distinct == 2 and cat.top[0].value == "x"
    nested = p.column("nested")
    assert nested is not None and nested.kind == "other" and nested.distinct is None
    assert p.row_count == 6 and p.publish_id == "p1"


@pytest.mark.parametrize(
    ("start", "days", "unit", "first"),
    [
        (dt.date(2000, 1, 1), 365 * 12, "year", ("2000", 366)),
        (dt.date(2024, 1, 1), 120, "month", ("2024-01", 31)),
        (dt.date(2024, 3, 1), 40, "day", ("2024-03-01", 1)),
    ],
)
def test_rows_per_period_of_the_time_column(
    start: dt.date, days: int, unit: str, first: tuple[str, int]
) -> None:
    dates = [start + dt.timedelta(days=n) for n in range(days)]
    p = _profile_of(pa.table({"d": dates, "v": list(range(days))}), time_column="d")
    assert p.time is not None and p.time.unit == unit
    assert (p.time.counts[0].value, p.time.counts[0].count) == first
    assert sum(c.count for c in p.time.counts) == days


def test_distinct_values_past_the_bound_are_estimated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_profile, "DISTINCT_EXACT_ROWS", 10_000)
    monkeypatch.setattr(_profile, "_SAMPLE_ROWS", 5_000)
    rng = np.random.default_rng(7)
    table = pa.table({"x": rng.integers(0, 2_000, 50_000)})
    col = _profile_of(table).column("x")
    assert col is not None and not col.distinct_exact
    assert col.distinct is not None and abs(col.distinct - 2_000) / 2_000 < 0.1


def test_empty_and_all_null_columns() -> None:
    p = _profile_of(
        pa.table(
            {"x": pa.array([None, None], pa.float64()), "s": pa.array([None, None], pa.string())}
        )
    )
    x, s = p.column("x"), p.column("s")
    assert x is not None and x.nulls == 2 and x.histogram is None and x.mean is None
    assert s is not None and s.top == [] and s.min is None


def test_a_publish_writes_first_rows_and_statistics_of_its_version(tmp_path: Path) -> None:
    client = od.Client(store=tmp_path / "store")
    frame = pd.DataFrame(
        {
            "date": [dt.date(2020, 1, 1) + dt.timedelta(days=n) for n in range(400)],
            "v": [n / 2 for n in range(400)],
        }
    )
    result = client.push(frame, "acme/stats", time_column="date", partition="year")
    doc = client.info("acme/stats")
    assert doc.profile is not None and doc.profile.publish_id == result.publish_id
    assert doc.profile.row_count == 400 and doc.profile.time is not None
    assert [r["date"] for r in doc.preview_head[:2]] == ["2020-01-01", "2020-01-02"]
    assert len(doc.preview_head) == 100 and doc.preview[-1]["date"] == "2021-02-03"
    # An append rewrites one partition; the statistics still cover the whole version.
    more = pd.DataFrame({"date": [dt.date(2021, 6, 1)], "v": [math.pi]})
    appended = client.push(more, "acme/stats", time_column="date", mode="append")
    after = client.info("acme/stats").profile
    assert after is not None and after.publish_id == appended.publish_id
    assert after.row_count == 401
    v = after.column("v")
    assert v is not None and v.max == 199.5 and v.distinct == 401


def test_a_profile_past_its_bounds_is_refused_when_decoded() -> None:
    import msgspec

    from opendata_core.profile import HISTOGRAM_BINS

    too_many = {
        "publish_id": "p",
        "row_count": 1,
        "columns": [
            {
                "name": "x",
                "type": "double",
                "kind": "float",
                "histogram": {
                    "edges": [0.0] * (HISTOGRAM_BINS + 2),
                    "counts": [0] * (HISTOGRAM_BINS + 1),
                },
            }
        ],
    }
    with pytest.raises(msgspec.ValidationError, match=r"columns\[0\]\.histogram"):
        msgspec.convert(too_many, Profile)
