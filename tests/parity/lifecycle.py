"""The lifecycle states on every transport (spec §10.4): a world of its own, and its cases.

The datasets are published into a folder, an operator's changes are written with core's rules
(tests/lifecycle_ops.py: the end state of the registry's admin commands), and the folder is
copied into a bucket; a registry serves each. Kept apart from the main parity world, whose
search and list cases would otherwise see these datasets too.

* ``life/prices`` — verified source; it was ``life/old-prices`` (moved);
* ``life/legacy`` — deprecated, successor ``life/prices``;
* ``life/gone`` — withdrawn (licence);
* ``life/plain`` — active, never verified.

A case's outcome includes the warnings it raised (class and text), so "one DeprecationWarning
naming the new id" is compared across transports too.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import opendata as od
from tests.lifecycle_ops import deprecate, move_dataset, verify, withdraw
from tests.parity.cases import (
    Case,
    Context,
    by_id,
    frame,
    od_command,
    od_json,
    plain,
    text_without_health,
)
from tests.parity.conftest import World, meta, serve

__all__ = ["LIFECYCLE_CASES", "life_world", "with_warnings"]

MOVED, LIVE, LEGACY, GONE, PLAIN = (
    "life/old-prices",
    "life/prices",
    "life/legacy",
    "life/gone",
    "life/plain",
)


def _publish(root: Path) -> None:
    client = od.Client(store=root, cache=False)
    frame_ = pd.DataFrame(
        {"date": pd.date_range("2024-01-01", periods=40).date, "value": range(40)}
    )
    for ds in (MOVED, LEGACY, GONE, PLAIN):
        client.push(
            frame_,
            ds,
            metadata=meta(ds, f"Life {ds.split('/')[1]}", "Lifecycle rates.", time_column="date"),
        )
    client.push(
        frame_,
        LIVE,
        metadata=meta(LIVE, "Life prices", "Lifecycle rates.", time_column="date"),
    )
    verify(client, MOVED, "verified-source", note="licence confirmed")
    move_dataset(client, MOVED, LIVE)
    deprecate(client, LEGACY, "Superseded by life/prices.", successor=LIVE)
    withdraw(client, GONE, reason="licence")


@pytest.fixture(scope="session")
def life_world(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[World]:
    base = tmp_path_factory.mktemp("parity-life")
    root = base / "store"
    bucket = f"life-{secrets.token_hex(4)}"
    world = World(root=root, endpoint=moto_endpoint, bucket=bucket, registries={})
    _publish(root)
    yield from serve(world, base)


def with_warnings(run: Callable[[Context], Any]) -> Callable[[Context], Any]:
    """The case's value and every warning it raised, as ``(class name, text)``."""

    def wrapped(ctx: Context) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = run(ctx)
        return {
            "value": value,
            "warnings": [(w.category.__name__, str(w.message)) for w in caught],
        }

    return wrapped


LIFECYCLE_CASES: list[Case] = [
    Case(
        "load-moved",
        with_warnings(lambda c: frame(od.load(MOVED, start="2024-02"))),
        {"load": {"id"}},
    ),
    Case(
        "scan-moved",
        with_warnings(lambda c: frame(od.scan(MOVED).collect())),
        {"scan": {"id"}},
    ),
    Case(
        "urls-moved",
        with_warnings(lambda c: [u.sha256 for u in od.urls(MOVED)]),
        {"urls": {"id"}},
    ),
    Case(
        "info-moved",
        with_warnings(lambda c: od.info(MOVED).dataset.id),
        {"info": {"id"}},
    ),
    Case(
        "versions-moved",
        with_warnings(lambda c: len(od.Client().versions(MOVED))),
        {"Client.versions": {"id"}},
    ),
    Case(
        "load-deprecated",
        with_warnings(lambda c: frame(od.load(LEGACY, end="2024-01-05"))),
        {"load": {"id"}},
    ),
    Case(
        "load-withdrawn",
        lambda c: od.load(GONE),
        {"load": {"id"}},
        error=od.DatasetWithdrawn,
    ),
    Case(
        "info-withdrawn",
        lambda c: od.info(GONE),
        {"info": {"id"}},
        error=od.DatasetWithdrawn,
    ),
    Case(
        "lifecycle-moved",
        with_warnings(lambda c: plain(od.Client().lifecycle(MOVED))),
        {"Client.lifecycle": {"id"}},
    ),
    Case(
        "lifecycle-withdrawn",
        lambda c: plain(od.Client().lifecycle(GONE)),
        {"Client.lifecycle": {"id"}},
    ),
    Case(
        "search-trust",
        lambda c: by_id(od.search("life", trust="verified-publisher")),
        {"search": {"trust"}},
    ),
    Case(
        "search-hides-withdrawn",
        lambda c: sorted(e.id for e in od.search("life")),
        {"search": {"query"}},
    ),
    Case(
        "od-info-moved",
        lambda c: text_without_health(od_command(c, "info", MOVED)),
        {"od info": {"DATASET_ID"}},
    ),
    Case(
        "od-info-deprecated-json",
        lambda c: od_json(c, "info", LEGACY)["lifecycle"],
        {"od info": {"--json"}},
    ),
    Case(
        "od-get-withdrawn",
        lambda c: od_command(c, "get", GONE, "-o", str(c.tmp / "x.csv")),
        {"od get": {"DATASET_ID"}},
    ),
    Case(
        "od-search-verified",
        lambda c: od_json(c, "search", "life", "--verified"),
        {"od search": {"--verified"}},
    ),
    Case(
        "od-search-trust",
        lambda c: od_json(c, "search", "life", "--trust", "verified-source"),
        {"od search": {"--trust"}},
    ),
]
"""Every lifecycle state through the read calls and commands, on every transport."""
