"""Publish the browser tests' datasets with the real client into $OPENDATA_HOME's local store.

Run as a script (``python -m tests.portal.seed_catalogue 1`` then ``... 2``) with OPENDATA_HOME
set; the registry syncs between the two phases, so the history shows two publishes and a schema
change.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pandas as pd

import opendata as od
from opendata_core.documents import Provenance
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.metadata import DatasetMetadata, Geo, Source
from tests.portal.xss import PAYLOADS

REPO = "https://github.com/ecb/opendata-euro-fx-rates"


def _fx(days: int, *, with_gbp: bool) -> pd.DataFrame:
    start = dt.date(2023, 1, 2)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    frame = pd.DataFrame({"date": dates, "usd": [1.05 + (i % 50) / 1000 for i in range(days)]})
    frame["jpy"] = [140.0 + (i % 30) / 10 for i in range(days)]
    frame.loc[frame.index % 37 == 3, "jpy"] = None  # nulls the preview shows as a muted "null"
    if with_gbp:
        frame["gbp"] = [0.85 + (i % 20) / 1000 for i in range(days)]
    return frame


def phase1() -> None:
    od.push(
        _fx(400, with_gbp=False),
        "ecb/euro-fx-rates",
        metadata=DatasetMetadata(
            id="ecb/euro-fx-rates",
            title="Euro foreign exchange reference rates",
            description="Daily reference rates of the euro against the US dollar and the yen.",
            license="CC-BY-4.0",
            repo=REPO,
            source=Source(provider="European Central Bank", homepage="https://www.ecb.europa.eu/"),
            topics=["finance", "currencies"],
            geo=Geo(scope="region", regions=["Euro area"]),
            frequency="daily",
            time_column="date",
        ),
        provenance=Provenance(repo=REPO, commit="1" * 40, run_url=REPO + "/actions/runs/1"),
    )
    months = pd.date_range("1980-01-01", "2024-12-01", freq="MS")
    od.push(
        pd.DataFrame(
            {"month": months.date, "anomaly_c": [(i % 24) / 20 - 0.3 for i in range(len(months))]}
        ),
        "noaa/global-temperature",
        metadata=DatasetMetadata(
            id="noaa/global-temperature",
            title="Global surface temperature anomaly",
            description="Monthly global land and ocean temperature anomalies against the 20th century mean.",
            license="CC0-1.0",
            repo="https://github.com/noaa/global-temperature",
            source=Source(provider="NOAA", dataset="https://www.ncei.noaa.gov/"),
            topics=["climate"],
            geo=Geo(scope="global"),
            frequency="monthly",
            time_column="month",
        ),
    )
    years = list(range(2000, 2024))
    od.push(
        pd.DataFrame(
            {
                "year": [dt.date(y, 1, 1) for y in years],
                "population": [58_000_000 + 400_000 * i for i in range(len(years))],
            }
        ),
        "ons/uk-population",
        metadata=DatasetMetadata(
            id="ons/uk-population",
            title="United Kingdom population estimates",
            description="Mid-year population estimates for the United Kingdom.",
            license="OGL-UK-3.0",
            repo="https://github.com/ons/uk-population",
            source=Source(provider="Office for National Statistics"),
            topics=["demographics"],
            geo=Geo(scope="country", countries=["GB"]),
            frequency="yearly",
            time_column="year",
        ),
    )
    od.push(
        pd.DataFrame({"k": ["<script>window.__xss='cell'</script>", "b"], "v": [1, 2]}),
        "xss/payloads",
        metadata=DatasetMetadata(
            id="xss/payloads",
            title="XSS payloads <img src=x onerror=\"window.__xss='title'\">",
            description="Payloads <script>window.__xss='description'</script> that must stay inert.",
            license="MIT",
            repo="https://github.com/xss/payloads",
            source=Source(provider="Test <b>provider</b>"),
            topics=["testing"],
        ),
    )
    # The client writes a README from the metadata; a producer's own README.md would replace it.
    # Write the payloads where the registry reads README.md from.
    store = Path(os.environ["OPENDATA_HOME"]) / "store"
    readme = store / Layout().readme(DatasetId.parse("xss/payloads"))
    readme.write_text("\n\n".join(f"## {name}\n\n{payload}" for name, payload in PAYLOADS.items()))


def phase2() -> None:
    # A second publish with more rows and a new column: the history chart's schema change.
    od.push(
        _fx(500, with_gbp=True),
        "ecb/euro-fx-rates",
        time_column="date",
        partition="year",  # two shards (2023, 2024): Croissant's FileSet case
        provenance=Provenance(repo=REPO, commit="2" * 40, run_url=REPO + "/actions/runs/2"),
        allow_schema_change=True,  # the new column is on purpose (the schema-drift gate)
    )


if __name__ == "__main__":
    {"1": phase1, "2": phase2}[sys.argv[1]]()
