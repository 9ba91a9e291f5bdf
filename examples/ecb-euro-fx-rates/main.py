"""ECB euro foreign exchange reference rates: the producer of ecb/euro-fx-reference-rates.

The ECB publishes the whole history since 1999 as a zip file holding one CSV in wide format,
newest day first, one column per currency, every line ending with a comma::

    Date,USD,JPY,BGN,CYP,CZK,...,ZAR,
    2025-02-28,1.0404,156.32,1.9558,N/A,25.014,...,19.3835,

A currency that is not quoted on a day (discontinued, like CYP or HRK, or not yet quoted) says
"N/A". The result is long: one row per date and quoted currency.

`od run` imports this file, calls main() and publishes the result. OPENDATA_SOURCE_URL replaces
the ECB's host (the tests and `od demo` serve fixtures/ from 127.0.0.1).
"""

from __future__ import annotations

import io
import os
import zipfile

import httpx
import pandas as pd

SOURCE_URL = "https://www.ecb.europa.eu"
ZIP_PATH = "/stats/eurofxref/eurofxref-hist.zip"


def source_url() -> str:
    return os.environ.get("OPENDATA_SOURCE_URL", SOURCE_URL).rstrip("/")


def read_zip(data: bytes) -> str:
    """The text of the one CSV inside the zip file."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
        if len(names) != 1:
            raise ValueError(f"expected one CSV in {ZIP_PATH}, found {archive.namelist()}")
        return archive.read(names[0]).decode("utf-8")


def parse_csv(text: str) -> pd.DataFrame:
    """The wide CSV as long rows: date, currency (ISO 4217), rate (units per euro)."""
    wide = pd.read_csv(io.StringIO(text), dtype={"Date": str}, na_values=["N/A"])
    if "Date" not in wide.columns:
        raise ValueError(f"the ECB CSV has no 'Date' column; its columns are {list(wide)[:5]}...")
    # The trailing comma on every line makes an empty, unnamed last column.
    wide = wide.drop(columns=[c for c in wide.columns if c.startswith("Unnamed:")])
    long = wide.melt(id_vars="Date", var_name="currency", value_name="rate")
    long = long.dropna(subset=["rate"])
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(long["Date"], format="%Y-%m-%d").dt.date,
            "currency": long["currency"].str.strip().astype("str"),
            "rate": pd.to_numeric(long["rate"]).astype("float64"),
        }
    )
    return frame.sort_values(["date", "currency"], ignore_index=True)


def main() -> pd.DataFrame:
    """Every reference rate since 4 January 1999."""
    response = httpx.get(f"{source_url()}{ZIP_PATH}", timeout=120, follow_redirects=True)
    response.raise_for_status()
    return parse_csv(read_zip(response.content))


if __name__ == "__main__":
    print(main())
