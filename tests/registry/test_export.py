"""One-file exports: a download answer carries signed CSV and Parquet links of the same rows,
made by the registry from the shards: exactly the range, the CSV formula-escaped, bounded."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import msgspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opendata_core.api import DownloadResponse
from opendata_core.problems import ProblemDetails
from opendata_registry.infra.settings import Settings

from .conftest import SCHEMA, Dataset, publish

DS = "ecb/fx"
NOTES = ["=1+1", "-5", "@SUM(A1)", "\t=x", "plain", None, "+3"]


def year_table(year: int) -> pa.Table:
    days = [date(year, 1, 1) + timedelta(days=i) for i in range(365)]
    return pa.table(
        {
            "date": pa.array(days, pa.date32()),
            "value": pa.array([year + i / 1000 for i in range(365)], pa.float64()),
            "note": pa.array([NOTES[i % len(NOTES)] for i in range(365)], pa.string()),
        }
    )


def parquet(year: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(year_table(year), sink, row_group_size=100)
    return sink.getvalue()


SCHEMA3 = [*SCHEMA, type(SCHEMA[0])(name="note", type="string")]


@pytest.fixture
def exporting(local_store: Any, settings: Settings, make_client: Any) -> Any:
    publish(local_store, Dataset(DS, years=[2022, 2023, 2024], schema=SCHEMA3, shard_data=parquet))

    def make(**changes: Any) -> Any:
        return make_client(replace(settings, **changes))

    return make


def answer(client: Any, body: dict[str, Any]) -> DownloadResponse:
    r = client.post(f"/v1/datasets/{DS}/download", json=body)
    assert r.status_code == 200, r.text
    return msgspec.json.decode(r.content, type=DownloadResponse)


def expected(start: str | None, end: str | None) -> pd.DataFrame:
    df = pa.concat_tables([year_table(y) for y in (2022, 2023, 2024)]).to_pandas()
    keep = pd.Series(True, index=df.index)
    if start:
        keep &= df["date"] >= date.fromisoformat(start)
    if end:
        keep &= df["date"] <= date.fromisoformat(end)
    return df[keep].reset_index(drop=True)


def get(client: Any, url: str) -> Any:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


@pytest.mark.parametrize(
    ("start", "end"), [(None, None), ("2023-06-01", "2023-07-31"), ("2024-12-01", None)]
)
def test_csv_export_is_the_range_formula_escaped(exporting: Any, start: Any, end: Any) -> None:
    client = exporting()
    body = {k: v for k, v in {"start": start, "end": end}.items() if v}
    links = answer(client, body).exports
    assert set(links) == {"csv", "parquet"}
    r = get(client, links["csv"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="ecb__fx')
    got = pd.read_csv(io.BytesIO(r.content), dtype={"note": str}, keep_default_na=False)
    want = expected(start, end)
    assert got["date"].tolist() == [d.isoformat() for d in want["date"]]
    assert got["value"].tolist() == want["value"].tolist()
    # Every cell a spreadsheet would run as a formula starts with a quote (OWASP).
    escaped = {"=1+1": "'=1+1", "-5": "'-5", "@SUM(A1)": "'@SUM(A1)", "\t=x": "'\t=x", "+3": "'+3"}
    assert got["note"].tolist() == [
        escaped.get(n, n) if isinstance(n, str) else "" for n in want["note"]
    ]


def test_parquet_export_is_one_file_of_the_range(exporting: Any) -> None:
    client = exporting()
    r = get(client, answer(client, {"start": "2022-12-01", "end": "2023-01-31"}).exports["parquet"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
    got = pq.read_table(io.BytesIO(r.content)).to_pandas()
    pd.testing.assert_frame_equal(got, expected("2022-12-01", "2023-01-31"))


def test_an_export_link_binds_its_range_and_expiry(exporting: Any) -> None:
    client = exporting()
    url = answer(client, {"start": "2024"}).exports["csv"]
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for change in (
        {"start": "2022"},
        {"expires": str(int(query["expires"]) + 1)},
        {"signature": "0" * 64},
    ):
        r = client.get(f"{parts.path}?{urlencode({**query, **change})}")
        assert r.status_code == 403, change
        assert "not valid for this dataset, version and range" in r.text
    # The csv link's signature does not open the Parquet export.
    r = client.get(f"{parts.path.replace('.csv', '.parquet')}?{parts.query}")
    assert r.status_code == 403


def test_past_the_bound_there_is_no_export_and_the_answer_says_why(exporting: Any) -> None:
    shard = len(parquet(2024))
    client = exporting(export_max_bytes=2 * shard)
    small = answer(client, {"start": "2024"})
    assert set(small.exports) == {"csv", "parquet"} and small.export_refused is None
    whole = answer(client, {})
    assert whole.exports == {}
    assert whole.export_refused is not None
    assert f"{3 * shard / 1e6:,.1f} MB of Parquet, more than the {2 * shard / 1e6:,.1f} MB" in (
        whole.export_refused
    )
    assert "choose a shorter time range" in whole.export_refused
    assert "od get ecb/fx --start" in whole.export_refused


def test_an_export_past_the_bound_is_refused_by_name(exporting: Any, settings: Settings) -> None:
    # A link signed before the bound was lowered: the export itself checks it again.
    client = exporting()
    url = answer(client, {}).exports["csv"]
    lowered = exporting(export_max_bytes=1)
    r = get(lowered, url)
    assert r.status_code == 400
    body = msgspec.json.decode(r.content, type=ProblemDetails)
    assert "more than the 0.0 MB this registry turns into one CSV or Parquet file" in body.message
