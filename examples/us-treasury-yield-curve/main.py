"""U.S. Treasury daily par yield curve rates: the producer of us-treasury/daily-yield-curve.

The Treasury publishes one CSV per calendar year, newest day first, with dates as MM/DD/YYYY and
one quoted column per maturity::

    Date,"1 Mo","1.5 Month","2 Mo","3 Mo","4 Mo","6 Mo","1 Yr",...,"30 Yr"
    03/31/2025,4.36,4.34,4.32,4.32,4.28,4.23,4.03,...,4.59

The set of maturities changes over the years (the 4-month bill from October 2022, the 6-week bill
"1.5 Month" from February 2025); a maturity missing from a year's file, or an empty cell, is null.

`od run` imports this file, calls main() and publishes the result. OPENDATA_SOURCE_URL replaces
the Treasury's host (the tests and `od demo` serve fixtures/ from 127.0.0.1).
"""

from __future__ import annotations

import io
import os
import re
import sys
from datetime import UTC, datetime

import httpx
import pandas as pd

SOURCE_URL = "https://home.treasury.gov"
CSV_URL = (
    "{base}/resource-center/data-chart-center/interest-rates/daily-treasury-rates.csv/{year}/all"
    "?type=daily_treasury_yield_curve&field_tdr_date_value={year}&page&_format=csv"
)
FIRST_YEAR = 1990
"""The first year of the daily par yield curve."""

MATURITIES = {
    "1 Mo": "mo_1",
    "1.5 Month": "mo_1_5",
    "2 Mo": "mo_2",
    "3 Mo": "mo_3",
    "4 Mo": "mo_4",
    "6 Mo": "mo_6",
    "1 Yr": "yr_1",
    "2 Yr": "yr_2",
    "3 Yr": "yr_3",
    "5 Yr": "yr_5",
    "7 Yr": "yr_7",
    "10 Yr": "yr_10",
    "20 Yr": "yr_20",
    "30 Yr": "yr_30",
}
"""The source's column label -> our column name (percent, float)."""
_TENOR_RE = re.compile(r"\d+(\.\d+)? (Mo|Month|Months|Yr|Year|Years)")


def source_url() -> str:
    return os.environ.get("OPENDATA_SOURCE_URL", SOURCE_URL).rstrip("/")


def parse_csv(text: str) -> pd.DataFrame:
    """One year's CSV as a typed frame: date, then one float column per maturity."""
    columns = ["date", *MATURITIES.values()]
    if not text.strip():
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    raw = pd.read_csv(io.StringIO(text), dtype={"Date": str})
    if "Date" not in raw.columns:
        raise ValueError(f"the Treasury CSV has no 'Date' column; its columns are {list(raw)}")
    unknown = [c for c in raw.columns if c != "Date" and c not in MATURITIES]
    if unknown:
        # A new maturity is news, not a reason to fail the daily job: say so in the log.
        kind = "maturities" if all(_TENOR_RE.fullmatch(c) for c in unknown) else "columns"
        print(
            f"note: ignoring new Treasury {kind} {unknown}; add them to MATURITIES", file=sys.stderr
        )
    frame = pd.DataFrame({"date": pd.to_datetime(raw["Date"], format="%m/%d/%Y").dt.date})
    for label, name in MATURITIES.items():
        values = raw[label] if label in raw.columns else pd.Series(float("nan"), index=raw.index)
        frame[name] = pd.to_numeric(values).astype("float64")
    return frame


def fetch_year(client: httpx.Client, year: int) -> pd.DataFrame:
    response = client.get(CSV_URL.format(base=source_url(), year=year))
    response.raise_for_status()
    return parse_csv(response.text)


def main() -> pd.DataFrame:
    """Every business day since 1990, oldest first (one request per year)."""
    this_year = datetime.now(UTC).year
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        years = [fetch_year(client, year) for year in range(FIRST_YEAR, this_year + 1)]
    found = [y for y in years if not y.empty]
    if not found:
        return parse_csv("")
    return pd.concat(found, ignore_index=True).sort_values("date", ignore_index=True)


if __name__ == "__main__":
    print(main())
