"""The parity world: one set of datasets behind four transports.

The datasets are published once, with the client, into a local folder store, and the folder is
copied key for key into a bucket of moto's S3 server: both stores hold the same bytes, so every
transport must give the same answers (the same publish ids, times and shards). Two real registry
processes (granian + ``create_app``) serve them: one over the folder, one over the bucket. A test
picks a transport by its environment, as a user does: ``OPENDATA_STORE`` (``local``, ``s3``) or
``OPENDATA_REGISTRY`` (``registry-local``, ``registry-s3``; no bucket credentials at all).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import opendata as od
from opendata_core.metadata import DatasetMetadata, Geo, Source
from tests._processes import running_registry

TRANSPORTS = ("local", "s3", "registry-local", "registry-s3")
PREFIX = "pub"
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "AKIDPARITY",
    "AWS_SECRET_ACCESS_KEY": "parity-secret",
    "AWS_REGION": "us-east-1",
}
# Many requests from one address in a few seconds: well inside this, whatever the suite does.
TIERS = '{"anonymous": {"requests_per_minute": 1000000}}'

PRICES = "parity/prices"
"""Four versions: replace, append, a schema change, append; primary key (date, symbol)."""
TICKS = "parity/ticks"
"""One shard over 1 MiB with format 1.1 blocks: column subsets are ranged reads."""
RATES = "parity/rates"
"""No time column: one shard."""
OTHERS = ("parity/weather", "parity/separate-accounts", "acme/euro-fx")
"""For search: substrings ('ates') versus word prefixes ('rate', 'sep'), filters."""


@dataclass
class World:
    """Where each transport reads, and what was published."""

    root: Path
    endpoint: str
    bucket: str
    registries: dict[str, str]
    versions: list[str] = field(default_factory=list)
    """The publish ids of PRICES, oldest first."""
    published: list[str] = field(default_factory=list)
    """Their ``published_at`` as ISO text."""

    def env(self, transport: str) -> dict[str, str]:
        """The environment that selects ``transport`` (every other OpenData/AWS variable unset)."""
        if transport == "local":
            return {"OPENDATA_STORE": str(self.root)}
        if transport == "s3":
            store = f"s3://{self.bucket}/{PREFIX}"
            return {"OPENDATA_STORE": store, "AWS_ENDPOINT_URL": self.endpoint, **S3_KEYS}
        return {"OPENDATA_REGISTRY": self.registries[transport]}


def meta(dataset_id: str, title: str, description: str, **extra: object) -> DatasetMetadata:
    fields: dict[str, object] = {
        "license": "CC-BY-4.0",
        "topics": ["finance"],
        "frequency": "daily",
        **extra,
    }
    return DatasetMetadata(
        id=dataset_id,
        title=title,
        description=description,
        repo=f"https://github.com/{dataset_id.split('/')[0]}/data",
        source=Source(provider="Parity Exchange"),
        **fields,  # type: ignore[arg-type]
    )


def prices(start: str, end: str, *, bump: float = 0.0) -> pd.DataFrame:
    days = pd.date_range(start, end, freq="D")
    frames = [
        pd.DataFrame(
            {
                "date": days.date,
                "symbol": symbol,
                "close": np.linspace(1, 2, len(days)) + i + bump,
                "volume": np.arange(len(days), dtype="int64") * (i + 1),
            }
        )
        for i, symbol in enumerate(("AAA", "BBB"))
    ]
    return pd.concat(frames, ignore_index=True)


def _publish(root: Path, world: World) -> None:
    client = od.Client(store=root, cache=False)
    prices_meta = meta(
        PRICES,
        "Daily closing prices",
        "Synthetic daily closing prices and volumes of two symbols.",
        time_column="date",
        primary_key=["date", "symbol"],
        partition="year",
        geo=Geo(scope="country", countries=["DE"]),
    )
    steps = [
        lambda: client.push(prices("2021-01-01", "2022-12-31"), PRICES, metadata=prices_meta),
        lambda: client.push(
            prices("2023-01-01", "2023-06-30"), PRICES, metadata=prices_meta, mode="append"
        ),
        lambda: client.push(
            prices("2021-01-01", "2023-06-30", bump=0.5).assign(note="revised"),
            PRICES,
            metadata=prices_meta,
            allow_schema_change=True,
        ),
        lambda: client.push(
            prices("2023-07-01", "2023-12-31").assign(note="new"),
            PRICES,
            metadata=prices_meta,
            mode="append",
        ),
    ]
    for step in steps:
        result = step()
        world.versions.append(result.publish_id)
        world.published.append(client.manifest(PRICES).published_at.isoformat())

    rng = np.random.default_rng(7)
    n = 60_000
    ticks = pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=n, freq="min"),
            "price": rng.normal(100, 5, n),
            "size": rng.integers(1, 1000, n),
            "bid": rng.normal(99, 5, n),
            "ask": rng.normal(101, 5, n),
        }
    )
    client.push(
        ticks,
        TICKS,
        metadata=meta(TICKS, "Minute ticks", "Random minute prices.", time_column="time"),
        partition="none",
    )
    rates = pd.DataFrame({"currency": ["USD", "JPY", "GBP"], "rate": [1.08, 160.2, 0.85]})
    client.push(
        rates,
        RATES,
        metadata=meta(
            RATES,
            "Euro reference rates",
            "Exchange rates against the euro.",
            frequency="monthly",
            topics=["finance", "currencies"],
        ),
    )
    small = pd.DataFrame({"key": [1, 2], "value": [0.5, 1.5]})
    for dataset_id, title, description, extra in (
        ("parity/weather", "Weather stations", "Daily rates of rain.", {"topics": ["climate"]}),
        (
            "parity/separate-accounts",
            "Separate accounts",
            "Accounts kept apart.",
            {"license": "CC0-1.0"},
        ),
        (
            "acme/euro-fx",
            "Euro FX",
            "Foreign exchange rates of the euro.",
            {"geo": Geo(scope="country", countries=["FR"])},
        ),
    ):
        client.push(small, dataset_id, metadata=meta(dataset_id, title, description, **extra))


def _copy_to_bucket(root: Path, endpoint: str, bucket: str) -> None:
    import httpx
    import obstore
    from obstore.store import S3Store

    httpx.put(f"{endpoint}/{bucket}").raise_for_status()
    s3 = S3Store(
        bucket,
        endpoint=endpoint,
        region=S3_KEYS["AWS_REGION"],
        access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            key = f"{PREFIX}/{path.relative_to(root).as_posix()}"
            obstore.put(s3, key, path.read_bytes())


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[World]:
    """The datasets in both stores, and a registry over each (started once per session)."""
    base = tmp_path_factory.mktemp("parity")
    root = base / "store"
    bucket = f"parity-{secrets.token_hex(4)}"
    world = World(root=root, endpoint=moto_endpoint, bucket=bucket, registries={})
    _publish(root, world)
    yield from serve(world, base)


def serve(world: World, base: Path) -> Iterator[World]:
    """Copy the folder into the bucket, then run a registry over each while the caller needs."""
    _copy_to_bucket(world.root, world.endpoint, world.bucket)
    common = {"OPENDATA_REGISTRY_TIERS": TIERS, "OPENDATA_REGISTRY_ACCESS_LOG": "0"}
    with ExitStack() as stack:
        world.registries["registry-local"] = stack.enter_context(
            running_registry(base / "home-local", OPENDATA_STORE=str(world.root), **common)
        )
        s3 = {**S3_KEYS, "AWS_ENDPOINT_URL": world.endpoint}
        world.registries["registry-s3"] = stack.enter_context(
            running_registry(
                base / "home-s3", OPENDATA_STORE=f"s3://{world.bucket}/{PREFIX}", **s3, **common
            )
        )
        yield world


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest, world: World, monkeypatch: pytest.MonkeyPatch) -> str:
    """One transport, selected by the environment (the autouse fixture cleared the rest)."""
    for key, value in world.env(request.param).items():
        monkeypatch.setenv(key, value)
    return str(request.param)
