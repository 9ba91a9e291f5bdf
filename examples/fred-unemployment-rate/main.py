"""FRED series UNRATE (U.S. civilian unemployment rate): the producer of fred/unrate.

FRED serves any series as a two-column CSV, oldest month first::

    observation_date,UNRATE
    1948-01-01,3.4

A month without a figure has an empty cell (older files used "."), e.g. October 2025, when the
survey was not run during the federal shutdown. Such months are kept, with a null value.

`od run` imports this file, calls main() and publishes the result. OPENDATA_SOURCE_URL replaces
FRED's host (the tests and `od demo` serve fixtures/ from 127.0.0.1).
"""

from __future__ import annotations

import io
import os

import httpx
import pandas as pd

SOURCE_URL = "https://fred.stlouisfed.org"
SERIES = "UNRATE"


def source_url() -> str:
    return os.environ.get("OPENDATA_SOURCE_URL", SOURCE_URL).rstrip("/")


def parse_csv(text: str, series: str = SERIES) -> pd.DataFrame:
    """FRED's CSV as ``date`` (the month's first day) and ``value`` (percent, null if missing)."""
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    # The date column was called DATE before 2024 and observation_date since.
    date_column = next((c for c in ("observation_date", "DATE") if c in raw.columns), None)
    if date_column is None or series not in raw.columns:
        raise ValueError(f"unexpected FRED CSV columns {list(raw.columns)}")
    values = raw[series].str.strip().replace({".": "", "": None})
    return pd.DataFrame(
        {
            "date": pd.to_datetime(raw[date_column], format="%Y-%m-%d").dt.date,
            "value": pd.to_numeric(values).astype("float64"),
        }
    )


def main() -> pd.DataFrame:
    """The whole history of the series, one row per month."""
    response = httpx.get(
        f"{source_url()}/graph/fredgraph.csv",
        params={"id": SERIES},
        timeout=60,
        follow_redirects=True,
    )
    response.raise_for_status()
    return parse_csv(response.text)


if __name__ == "__main__":
    print(main())
