"""ISO 3166-1 country codes: the producer of opendata/iso-3166-countries.

Debian's iso-codes project keeps the ISO 3166-1 list as JSON::

    {"3166-1": [{"alpha_2": "AF", "alpha_3": "AFG", "flag": "🇦🇫", "name": "Afghanistan",
                 "numeric": "004", "official_name": "Islamic Republic of Afghanistan"}, ...]}

``official_name`` and ``common_name`` appear only where they differ from ``name``. ``numeric`` is
kept as the three-digit text ISO defines ("004"), not as a number.

`od run` imports this file, calls main() and publishes the result. OPENDATA_SOURCE_URL replaces
the host (the tests and `od demo` serve fixtures/ from 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx
import pandas as pd

SOURCE_URL = "https://salsa.debian.org"
JSON_PATH = "/iso-codes-team/iso-codes/-/raw/main/data/iso_3166-1.json"
COLUMNS = ("alpha_2", "alpha_3", "numeric", "name", "official_name", "common_name", "flag")
_PATTERNS = {"alpha_2": r"[A-Z]{2}", "alpha_3": r"[A-Z]{3}", "numeric": r"[0-9]{3}"}


def source_url() -> str:
    return os.environ.get("OPENDATA_SOURCE_URL", SOURCE_URL).rstrip("/")


def parse_json(data: bytes) -> pd.DataFrame:
    """The entries as a frame sorted by alpha_2; checks the code formats."""
    entries: list[dict[str, Any]] = json.loads(data)["3166-1"]
    frame = pd.DataFrame.from_records(entries, columns=list(COLUMNS))
    for column in COLUMNS:
        frame[column] = frame[column].astype("str")
    for column, pattern in _PATTERNS.items():
        bad = [v for v in frame[column] if not isinstance(v, str) or not re.fullmatch(pattern, v)]
        if bad:
            raise ValueError(f"{column}: {bad[:3]} do not look like ISO 3166-1 codes")
    return frame.sort_values("alpha_2", ignore_index=True)


def main() -> pd.DataFrame:
    """Every current country code (withdrawn ones, ISO 3166-3, are a separate list)."""
    response = httpx.get(f"{source_url()}{JSON_PATH}", timeout=60, follow_redirects=True)
    response.raise_for_status()
    return parse_json(response.content)


if __name__ == "__main__":
    print(main())
