"""``/versions`` and pinned downloads: the history a direct reader sees, by core's rules (spec §8).

On SQLite and PostgreSQL: the list is the chain of history entries from the current manifest
(an orphan entry is never a version), one version's manifest by id or prefix, ``as_of`` in a
download, core's errors and codes; retention removing an entry shows at once (the bucket is
listed per call), and an entry is read from the bucket once per process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from opendata_core.api import DownloadResponse, VersionList
from opendata_core.documents import Manifest, encode_document
from opendata_core.ids import DatasetId
from opendata_core.layout import Layout
from opendata_core.problems import ProblemDetails
from opendata_registry.infra.settings import Settings

from .conftest import Dataset, publish

DS = "ecb/fx"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _get(client: Any, path: str, status: int = 200) -> Any:
    response = client.get(f"/v1/datasets/{DS}{path}")
    assert response.status_code == status, response.text
    return response


def _problem(response: Any, code: str) -> ProblemDetails:
    body = msgspec.json.decode(response.content, type=ProblemDetails)
    assert body.code == code, body
    return body


@pytest.fixture
def three(local_store: Any, settings: Settings, make_client: Any) -> tuple[Any, list[Manifest]]:
    """Three versions a day apart (2022, 2023, 2024) and an orphan entry; a registry on them."""
    manifests: list[Manifest] = []
    for i, year in enumerate((2022, 2023, 2024)):
        parent = manifests[-1].publish_id if manifests else None
        ds = Dataset(
            DS,
            years=[year],
            published_at=T0 + timedelta(days=i),
            publish_id=f"v2025-0000-{i}",
            parent_publish_id=parent,
        )
        manifests.append(publish(local_store, ds))
    import obstore

    orphan = msgspec.structs.replace(manifests[-1], publish_id="v2025-orphan")
    key = Layout().version(DatasetId.parse(DS), orphan.publish_id)
    obstore.put(local_store, key, encode_document(orphan))
    return make_client(settings), manifests


def test_the_list_is_the_chain_newest_first(three: tuple[Any, list[Manifest]]) -> None:
    client, manifests = three
    body = msgspec.json.decode(_get(client, "/versions").content, type=VersionList)
    assert body.dataset_id == DS
    assert [v.publish_id for v in body.versions] == [m.publish_id for m in reversed(manifests)]
    assert [v.min_time for v in body.versions] == ["2024-01-01", "2023-01-01", "2022-01-01"]
    assert [v.parent_publish_id for v in body.versions][:2] == [
        manifests[1].publish_id,
        manifests[0].publish_id,
    ]


def test_one_version_by_id_or_prefix(three: tuple[Any, list[Manifest]]) -> None:
    client, manifests = three
    for asked in (manifests[1].publish_id, manifests[1].publish_id.upper()):
        got = msgspec.json.decode(_get(client, f"/versions/{asked}").content, type=Manifest)
        assert got == manifests[1]
    short = _problem(_get(client, "/versions/v2025", 400), "bad_request")
    assert "too short" in short.message
    several = _problem(_get(client, "/versions/v2025-00", 404), "version_not_found")
    assert "matches 3 versions" in several.message
    assert several.details["matches"] == [m.publish_id for m in manifests]  # type: ignore[index]
    orphan = _problem(_get(client, "/versions/v2025-orphan", 404), "version_not_found")
    assert "is not a version of this dataset" in orphan.message  # on no chain: never a version
    missing = client.get("/v1/datasets/ecb/fy/versions")
    assert _problem(missing, "dataset_not_found").details["close_matches"] == [DS]  # type: ignore[index]


def test_downloads_pin_by_version_or_as_of(three: tuple[Any, list[Manifest]]) -> None:
    client, manifests = three

    def download(body: dict[str, Any], status: int = 200) -> Any:
        response = client.post(f"/v1/datasets/{DS}/download", json=body)
        assert response.status_code == status, response.text
        return response

    def partitions(body: dict[str, Any]) -> list[str]:
        got = msgspec.json.decode(download(body).content, type=DownloadResponse)
        return [s.partition for s in got.shards]

    assert partitions({}) == ["2024"]
    assert partitions({"as_of": "2025-01-02T12:00:00"}) == ["2023"]  # no zone: UTC
    assert partitions({"as_of": "2025-01-01"}) == ["2022"]
    assert partitions({"version": manifests[0].publish_id}) == ["2022"]
    early = _problem(download({"as_of": "2024-06-01"}, 404), "version_not_found")
    assert "no version existed at 2024-06-01 00:00:00 UTC" in early.message
    both = {"version": manifests[0].publish_id, "as_of": "2025-01-02"}
    assert "not both" in _problem(download(both, 400), "bad_request").message
    bad = _problem(download({"as_of": "last tuesday"}, 400), "bad_request")
    assert "as_of='last tuesday' is not an ISO 8601 date" in bad.message


def test_retention_shows_at_once_and_entries_are_read_once(
    three: tuple[Any, list[Manifest]], local_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, manifests = three
    store = client.app.state.registry.store
    reads: list[str] = []
    original = store.get

    async def counting_get(key: str) -> Any:
        reads.append(key)
        return await original(key)

    monkeypatch.setattr(store, "get", counting_get)
    _get(client, "/versions")
    assert len(reads) == 3  # the two older versions and the orphan, read once
    _get(client, "/versions")
    _get(client, f"/versions/{manifests[0].publish_id}")
    assert len(reads) == 3  # immutable: never read again

    import obstore

    obstore.delete(local_store, Layout().version(DatasetId.parse(DS), manifests[0].publish_id))
    body = msgspec.json.decode(_get(client, "/versions").content, type=VersionList)
    assert [v.publish_id for v in body.versions] == [m.publish_id for m in manifests[:0:-1]]
    gone = _problem(_get(client, f"/versions/{manifests[0].publish_id}", 404), "version_not_found")
    assert "removed by the dataset's retention" in gone.message
