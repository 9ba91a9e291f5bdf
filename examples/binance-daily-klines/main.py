"""Binance spot daily klines: the producer of binance/btcusdt-daily-klines.

``GET /api/v3/klines?symbol=BTCUSDT&interval=1d&startTime=...&limit=1000`` answers a JSON array of
candles, oldest first, each a 12-element array with prices and volumes as strings::

    [1733011200000, "96407.99000000", "97836.00000000", "95693.88000000", "97185.18000000",
     "14605.44990000", 1733097599999, "1414413722.32030000", 2186531, "7150.10270000",
     "692639779.21060000", "0"]

(open time, open, high, low, close, volume, close time, quote volume, trades, taker buy base
volume, taker buy quote volume, unused). At most 1000 candles come per request, so each symbol
is read page by page from its first day. The candle of the current day is still open and is
left out.

Binance refuses requests from the United States (HTTP 451), which is where GitHub's hosted
runners are: opendata.yaml sends this job to a self-hosted runner.

`od run` imports this file, calls main() and publishes the result. OPENDATA_SOURCE_URL replaces
Binance's host (the tests and `od demo` serve fixtures/ from 127.0.0.1).
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pandas as pd

SOURCE_URL = "https://api.binance.com"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
PAGE = 1000
"""Candles per request (Binance's maximum)."""
DAY_MS = 86_400_000

FIELDS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)
FLOATS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)


def source_url() -> str:
    return os.environ.get("OPENDATA_SOURCE_URL", SOURCE_URL).rstrip("/")


def fetch_klines(client: httpx.Client, symbol: str) -> list[list[Any]]:
    """Every daily candle of ``symbol`` since it was listed."""
    candles: list[list[Any]] = []
    start = 0
    while True:
        response = client.get(
            f"{source_url()}/api/v3/klines",
            params={"symbol": symbol, "interval": "1d", "startTime": start, "limit": PAGE},
        )
        response.raise_for_status()
        page = response.json()
        if not isinstance(page, list):
            raise ValueError(f"{symbol}: expected a JSON array of klines, got {str(page)[:200]}")
        candles.extend(page)
        if len(page) < PAGE:
            return candles
        start = int(page[-1][0]) + DAY_MS


def parse_klines(symbol: str, candles: list[list[Any]], now_ms: int) -> pd.DataFrame:
    """Typed rows of one symbol's closed candles."""
    for candle in candles:
        if not isinstance(candle, list) or len(candle) < len(FIELDS):
            raise ValueError(f"{symbol}: expected a 12-element kline, got {str(candle)[:200]}")
    closed = [c[: len(FIELDS)] for c in candles if int(c[6]) < now_ms]
    raw = pd.DataFrame(closed, columns=list(FIELDS))
    floats = {name: pd.to_numeric(raw[name]).astype("float64") for name in FLOATS}
    return pd.DataFrame(
        {
            "symbol": pd.Series([symbol] * len(raw), dtype="str"),
            "open_time": pd.to_datetime(raw["open_time"].astype("int64"), unit="ms", utc=True),
            **{n: floats[n] for n in ("open", "high", "low", "close", "volume", "quote_volume")},
            "trades": raw["trades"].astype("int64"),
            "taker_buy_base_volume": floats["taker_buy_base_volume"],
            "taker_buy_quote_volume": floats["taker_buy_quote_volume"],
        }
    )


def main() -> pd.DataFrame:
    """One row per symbol and closed UTC day."""
    now_ms = int(time.time() * 1000)
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        frames = [parse_klines(s, fetch_klines(client, s), now_ms) for s in SYMBOLS]
    frame = pd.concat(frames, ignore_index=True)
    frame["open_time"] = frame["open_time"].astype("datetime64[ms, UTC]")
    return frame.sort_values(["open_time", "symbol"], ignore_index=True)


if __name__ == "__main__":
    print(main())
