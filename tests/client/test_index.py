"""``od index rebuild``: keeps registered entries, never loses a concurrent producer's entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import opendata as od
from opendata_core import DatasetId

from .test_faults import _client_on, _Wrapped
from .test_push_load import daily

YAML = """\
id: {id}
title: T
description: d
license: MIT
repo: https://github.com/me/x
source: {{provider: P}}
"""


def _yaml(tmp_path: Path, dataset_id: str) -> Path:
    path = tmp_path / f"{dataset_id.replace('/', '_')}.yaml"
    path.write_text(YAML.format(id=dataset_id))
    return path


def test_rebuild_keeps_registered_unpublished_entries(client: od.Client, tmp_path: Path) -> None:
    client.push(daily(("A",)), "me/prices", time_column="date")
    client.index.register_from_file(_yaml(tmp_path, "me/coming-soon"))
    rebuilt = client.index.rebuild()
    assert [e.id for e in rebuilt.datasets] == ["me/coming-soon", "me/prices"]
    assert [e.id for e in client.list()] == ["me/coming-soon", "me/prices"]


def test_rebuild_drops_datasets_that_are_gone(client: od.Client) -> None:
    client.push(daily(("A",)), "me/prices", time_column="date")
    client.push(daily(("A",)), "me/gone", time_column="date")
    client.store.delete(client.layout.metadata(DatasetId.parse("me/gone")))
    assert [e.id for e in client.index.rebuild().datasets] == ["me/prices"]


def test_rebuild_keeps_an_entry_published_while_it_ran(client: od.Client) -> None:
    client.push(daily(("A",)), "me/prices", time_column="date")
    other = _client_on(client.store, client)
    state = {"raced": False}

    def publish_meanwhile() -> None:
        if not state["raced"]:
            state["raced"] = True  # after the rebuild listed the store, before it writes
            other.push(daily(("B",)), "me/late", time_column="date")

    class _IndexHook(_Wrapped):
        def put(self, key: str, data: bytes, **kw: Any) -> str:
            if key.endswith("index.json"):
                publish_meanwhile()
            return self.inner.put(key, data, **kw)

    racing = _client_on(_IndexHook(client.store, lambda: None), client)
    rebuilt = racing.index.rebuild()
    assert state["raced"]
    assert [e.id for e in rebuilt.datasets] == ["me/late", "me/prices"]
    assert [e.id for e in client.list()] == ["me/late", "me/prices"]
