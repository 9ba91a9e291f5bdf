"""Twelve producers append to one dataset at once through a real registry (issue 21 §6).

A registry process with two workers (so commits race across processes, serialised only by the
database lease) on the local folder store, on SQLite and on PostgreSQL. Each producer is the
real client (``od.Client.push(mode="append")`` with a producer token) in its own thread, all
released together. The client's own retry on a conflict is switched off, so every success is
the registry's rebase: 12 commits, 12 successes, every row present once, and a history where
each version's parent is the one before.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import opendata as od
from opendata._registry import RegistryTransport
from opendata._results import PushResult
from tests.registry.publishing.test_client_publish import (
    DS,
    Live,
    frame,
    no_store_secrets,
    producer,
    producer_token,
    rows,
)
from tests.registry.test_live import start, stop

PRODUCERS = 12
BASE_DAYS = 3
DEADLINE = 240.0
"""Seconds the producers get, all together (a bound, not a timing assertion)."""


@pytest.fixture
def two_worker_registry(tmp_path: Path, database: tuple[str, str | None]) -> Iterator[Live]:
    """A two-worker registry process on a local folder store and the given database."""
    from obstore.store import LocalStore

    url, schema = database
    home = tmp_path / "registry"
    env = {
        "OPENDATA_REGISTRY_DATABASE_URL": url,
        # Reads (the producers' manifests, previews) must not meet the anonymous limit here.
        "OPENDATA_REGISTRY_TIERS": json.dumps(
            {
                "anonymous": {"requests_per_minute": 100_000},
                "free": {"requests_per_minute": 100_000},
            }
        ),
    }
    if schema:
        env["OPENDATA_REGISTRY_DATABASE_SCHEMA"] = schema
    store = LocalStore(home / "store", mkdir=True)
    proc, base = start(home, env, workers=2)
    try:
        yield Live(base, {"OPENDATA_HOME": str(home), **env}, store)
    finally:
        log = stop(proc)
        assert "Traceback" not in log, log[-4000:]


def test_twelve_concurrent_appends_through_the_registry_all_succeed_with_exact_rows(
    two_worker_registry: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = two_worker_registry
    no_store_secrets(monkeypatch, tmp_path)
    monkeypatch.setenv("OPENDATA_PUBLISH_TOKEN", producer_token(registry, "--namespace", "acme"))
    # No client-side retry: a 409 from the registry would fail that producer.
    monkeypatch.setattr("opendata._publish.APPEND_RETRIES", 1)
    yaml = producer(tmp_path / "fx") / "opendata.yaml"
    od.Client(RegistryTransport(registry.url)).push(frame(BASE_DAYS), DS, metadata=yaml)
    everything = frame(BASE_DAYS + PRODUCERS)

    start_together = threading.Barrier(PRODUCERS)
    results: dict[int, PushResult] = {}
    errors: dict[int, BaseException] = {}

    def append(i: int) -> None:
        day = everything.iloc[[BASE_DAYS + i]]  # its own day: its own partition
        client = od.Client(RegistryTransport(registry.url))
        try:
            start_together.wait(timeout=DEADLINE)
            results[i] = client.push(day, DS, metadata=yaml, mode="append")
        except BaseException as exc:  # reported below, with the producer's number
            errors[i] = exc

    threads = [threading.Thread(target=append, args=(i,), daemon=True) for i in range(PRODUCERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE)
    assert not any(t.is_alive() for t in threads), "producers still running after the deadline"
    assert errors == {}, {i: repr(e) for i, e in errors.items()}
    assert len(results) == PRODUCERS

    # Every appended row present once, nothing lost or repeated.
    assert rows(od.Client(RegistryTransport(registry.url)).load(DS)) == rows(everything)
    # One commit per append, in order: each saw the one before (its rows include them all).
    assert sorted(r.rows for r in results.values()) == list(range(BASE_DAYS + 1, 16))
    detail: dict[str, Any] = httpx.get(f"{registry.url}/v1/datasets/{DS}").json()
    assert detail["manifest"]["row_count"] == BASE_DAYS + PRODUCERS
    history = httpx.get(f"{registry.url}/v1/datasets/{DS}/history").json()["publishes"]
    assert len(history) == 1 + PRODUCERS
    for before, after in itertools.pairwise(history):
        assert after["parent_publish_id"] == before["publish_id"], history
        assert after["row_count"] == before["row_count"] + 1
    assert {p["publish_id"] for p in history[1:]} == {r.publish_id for r in results.values()}
    assert history[-1]["publish_id"] == detail["manifest"]["publish_id"]
    # One run record per publish, and one history entry per version in the bucket.
    assert len(registry.runs()) == 1 + PRODUCERS
    entries = {k.rsplit("/", 1)[1] for k in registry.keys(f"datasets/{DS}/versions/")}
    assert entries == {f"{p['publish_id']}.json" for p in history}
