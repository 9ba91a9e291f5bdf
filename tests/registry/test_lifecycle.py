"""Dataset lifecycle and trust in the registry (issue 24), end to end over moto's S3 server.

Every transition is made with the operator's command (``opendata-registry datasets …``,
``namespaces transfer``) against the bucket and the test's database (SQLite and PostgreSQL), and
read back through the API: the audit event, the status and trust in search hits and the detail,
the trust filter and facet, withdrawn datasets left out of search and answered 410, a moved id
answered 308 with the new id (downloads too), the bucket's ``lifecycle.json`` equal to what the
API serves, and a database rebuilt by ``sync`` that keeps every state and reserved id. Bad input
to the commands is refused with the option, the value and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import obstore
import pytest
from click.testing import CliRunner, Result
from litestar.testing import transport as litestar_transport

from opendata._registry import RegistryTransport
from opendata_core.documents import Manifest, MetadataDocument, decode_document
from opendata_core.errors import DatasetMoved, DatasetWithdrawn
from opendata_core.lifecycle import Lifecycle
from opendata_core.store import NotFound
from opendata_registry.infra.settings import Settings

from .conftest import Dataset, publish

FX, PMI, OTHER = "ecb/fx", "ecb/pmi", "imf/weo"
VERIFY = ["datasets", "verify", FX, "--level", "audited", "--note", "x"]
Operator = Callable[..., Result]


@pytest.fixture
def world(
    s3_bucket: tuple[str, Any],
    moto_endpoint: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Settings, Any]:
    """Three datasets in a moto bucket; registry settings on it; the CLI's environment."""
    bucket, store = s3_bucket
    for ds in (FX, PMI, OTHER):
        publish(store, Dataset(ds, title=f"Rates {ds}", runs=[("success", datetime.now(UTC))]))
    s3 = replace(
        settings, store=f"s3://{bucket}", aws_endpoint_url=moto_endpoint, aws_region="us-east-1"
    )
    for k, v in {
        "OPENDATA_HOME": str(s3.home),
        "OPENDATA_STORE": s3.store,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": "us-east-1",
        "OPENDATA_REGISTRY_DATABASE_URL": s3.database_url,
        "OPENDATA_REGISTRY_DATABASE_SCHEMA": s3.database_schema or "",
        "OPENDATA_REGISTRY_SECRET": s3.secret.decode(),
        "OPENDATA_OPERATOR": "alice",
    }.items():
        monkeypatch.setenv(k, v)
    return s3, store


@pytest.fixture
def operator() -> Operator:
    """``opendata-registry ARGS…`` against the test's bucket and database."""
    from opendata_registry.cli.main import main

    def run(*args: str, code: int = 0) -> Result:
        done = CliRunner().invoke(main, list(args))
        assert done.exit_code == code, (args, done.output)
        return done

    return run


def _bucket_doc(store: Any, ds: str) -> bytes:
    return bytes(obstore.get(store, f"datasets/{ds}/lifecycle.json").bytes())


def _hits(client: Any, **params: Any) -> dict[str, Any]:
    r = client.get("/v1/datasets", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return sorted(h["dataset"]["id"] for h in body["datasets"])


def test_verify_deprecate_and_restore_are_recorded_and_shown_everywhere(
    world: tuple[Settings, Any], make_client: Any, operator: Operator
) -> None:
    settings, store = world
    client = make_client(settings)
    review = (datetime.now(UTC) + timedelta(days=200)).date().isoformat()
    done = operator(
        "datasets", "verify", FX, "--level", "verified-source",
        "--note", "licence confirmed with the ECB", "--review-by", review,
    )  # fmt: skip
    assert f"{FX}: trust level verified-source, review by {review} (by alice)" in done.output
    operator("datasets", "verify", PMI, "--level", "verified-publisher", "--note", "org checked")

    # The event: who, when, what, why; the bucket's document is what the API serves.
    events = client.get(f"/v1/datasets/{FX}/events").json()
    assert events["trust"] == "verified-source" and events["status"] == "active"
    (event,) = events["events"]
    assert (event["by"], event["action"], event["note"]) == (
        "alice", "verify", "licence confirmed with the ECB",
    )  # fmt: skip
    assert event["details"] == {"level": "verified-source", "review_by": review}
    served = client.get(f"/v1/datasets/{FX}/lifecycle")
    assert served.status_code == 200 and served.content == _bucket_doc(store, FX)
    assert client.get(f"/v1/datasets/{OTHER}/lifecycle").status_code == 404

    # Search hits and the detail carry trust; the filter is a minimum; the facet counts.
    everything = _hits(client)
    trust = {h["dataset"]["id"]: h["dataset"]["trust"] for h in everything["datasets"]}
    assert trust == {FX: "verified-source", PMI: "verified-publisher", OTHER: "none"}
    counts = {c["value"]: c["count"] for c in everything["facets"]["trust"]}
    assert counts == {"verified-source": 1, "verified-publisher": 1, "none": 1}
    assert _ids(_hits(client, trust="verified-source")) == [FX]
    assert _ids(_hits(client, verified="true")) == [FX, PMI]
    assert _ids(_hits(client, q="rates", verified="true", namespace="ecb")) == [FX, PMI]
    assert _ids(_hits(client, trust="audited")) == []
    bad = client.get("/v1/datasets", params={"trust": "gold"})
    assert bad.status_code == 400 and "trust" in bad.json()["message"], bad.text
    detail = client.get(f"/v1/datasets/{FX}").json()
    assert detail["lifecycle"]["trust"]["level"] == "verified-source"
    assert detail["lifecycle"]["trust"]["granted_by"] == "alice"

    # Deprecate with a successor, then restore: each an event, each in the entries.
    operator(
        "datasets", "deprecate", FX, "--message", "Use ecb/pmi.", "--successor", PMI
    )  # fmt: skip
    hit = next(h for h in _hits(client)["datasets"] if h["dataset"]["id"] == FX)
    assert (hit["dataset"]["status"], hit["dataset"]["successor"]) == ("deprecated", PMI)
    index = json.loads(bytes(obstore.get(store, "index.json").bytes()))
    entry = next(e for e in index["datasets"] if e["id"] == FX)
    assert (entry["status"], entry["trust"]) == ("deprecated", "verified-source")
    assert client.get(f"/v1/datasets/{FX}").status_code == 200  # still served
    operator("datasets", "restore", FX, "--note", "the PMI series is not a replacement")
    trail = client.get(f"/v1/datasets/{FX}/events").json()
    assert [e["action"] for e in trail["events"]] == ["verify", "deprecate", "restore"]
    assert trail["status"] == "active"
    assert [e["action"] for e in json.loads(operator("datasets", "events", FX, "--json").output)] == [
        "verify", "deprecate", "restore",
    ]  # fmt: skip


def test_withdrawn_is_left_out_of_search_and_answers_410_until_restored(
    world: tuple[Settings, Any], make_client: Any, operator: Operator
) -> None:
    settings, store = world
    client = make_client(settings)
    operator("datasets", "verify", FX, "--level", "audited", "--note", "quality standard met")
    operator("datasets", "withdraw", FX, "--reason", "legal", "--note", "court order 12/2026")

    assert FX not in _ids(_hits(client)) and FX not in _ids(_hits(client, q="rates"))
    assert _ids(_hits(client, trust="audited")) == []
    assert _hits(client)["total"] == 2
    for method, path, body in [
        ("GET", f"/v1/datasets/{FX}", None),
        ("GET", f"/v1/datasets/{FX}/versions", None),
        ("GET", f"/v1/datasets/{FX}/history", None),
        ("POST", f"/v1/datasets/{FX}/download", {"start": "2024"}),
    ]:
        r = client.request(method, path, json=body)
        assert r.status_code == 410, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["code"] == "dataset_withdrawn"
        assert problem["details"]["reason"] == "legal"
        assert problem["details"]["note"] == "court order 12/2026"
        assert f"OpenData dataset {FX}" in problem["details"]["citation"]
    # The tombstone's metadata stays readable: its lifecycle and audit trail.
    doc = decode_document(client.get(f"/v1/datasets/{FX}/lifecycle").content, Lifecycle)
    assert (doc.status, doc.reason, doc.trust.level) == ("withdrawn", "legal", "audited")
    assert doc.last_publish_id and doc.citation
    assert client.get(f"/v1/datasets/{FX}/events").json()["status"] == "withdrawn"
    # The data stays in the bucket (a restore serves it again).
    assert obstore.head(store, f"datasets/{FX}/manifest.json")

    # The client's registry transport maps the answers to core's types.
    transport = RegistryTransport(
        "http://localhost", transport=litestar_transport.TestClientTransport(client)
    )
    with pytest.raises(DatasetWithdrawn) as caught:
        transport.detail(FX)
    assert caught.value.reason == "legal" and caught.value.citation == doc.citation
    got, _ = transport.get(f"datasets/{FX}/lifecycle.json")
    assert decode_document(bytes(got), Lifecycle) == doc
    with pytest.raises(NotFound):
        transport.get(f"datasets/{OTHER}/lifecycle.json")

    operator("datasets", "restore", FX)
    assert FX in _ids(_hits(client, trust="audited"))  # the trust level came back
    assert client.post(f"/v1/datasets/{FX}/download", json={"start": "2024"}).status_code == 200


def test_move_answers_308_with_the_new_id_and_keeps_the_old_one_reserved(
    world: tuple[Settings, Any], make_client: Any, operator: Operator, tmp_path: Path
) -> None:
    settings, store = world
    client = make_client(settings)
    operator("datasets", "verify", FX, "--level", "verified-source", "--note", "checked")
    new = "ecb/fx-rates"
    done = operator("datasets", "move", FX, new, "--note", "a clearer name")
    assert f"{FX} moved to {new}; {FX} stays reserved" in done.output

    # The bucket: the dataset at the new id (documents rewritten), a pointer at the old one.
    moved = decode_document(
        bytes(obstore.get(store, f"datasets/{new}/manifest.json").bytes()), Manifest
    )
    assert moved.dataset_id == new
    meta = decode_document(
        bytes(obstore.get(store, f"datasets/{new}/metadata.json").bytes()), MetadataDocument
    )
    assert meta.dataset.id == new
    left = [o["path"] for batch in obstore.list(store, f"datasets/{FX}/") for o in batch]
    assert left == [f"datasets/{FX}/lifecycle.json"]
    tomb = decode_document(_bucket_doc(store, FX), Lifecycle)
    assert (tomb.status, tomb.moved_to) == ("moved", new)
    arrived = decode_document(_bucket_doc(store, new), Lifecycle)
    assert arrived.previous_ids == [FX] and arrived.trust.level == "verified-source"

    # API calls on the old id: 308 dataset_moved naming the new id, Location the same call.
    for method, path, body in [
        ("GET", f"/v1/datasets/{FX}", None),
        ("GET", f"/v1/datasets/{FX}/versions", None),
        ("GET", f"/v1/datasets/{FX}/events", None),
        ("POST", f"/v1/datasets/{FX}/download", {"start": "2024"}),
    ]:
        r = client.request(method, path, json=body, follow_redirects=False)
        assert r.status_code == 308, (path, r.text)
        assert r.json()["code"] == "dataset_moved"
        assert r.json()["details"]["moved_to"] == new
        assert r.headers["location"] == path.replace(FX, new)
    followed = client.post(f"/v1/datasets/{FX}/download", json={"start": "2024"})
    assert followed.status_code == 200 and followed.json()["dataset_id"] == new
    assert client.get(f"/v1/datasets/{FX}/lifecycle").content == _bucket_doc(store, FX)
    hits = _ids(_hits(client))
    assert new in hits and FX not in hits
    trail = client.get(f"/v1/datasets/{new}/events").json()["events"]
    assert [(e["action"], e["details"]) for e in trail][-1] == ("move", {"from": FX, "to": new})
    assert client.get(f"/v1/datasets/{new}/history").json()["total"] == 1
    transport = RegistryTransport(
        "http://localhost", transport=litestar_transport.TestClientTransport(client)
    )
    with pytest.raises(DatasetMoved) as caught:
        transport.detail(FX)
    assert caught.value.moved_to == new

    # Reserved: no other dataset moves onto the old id, nor onto a live one.
    refused = operator("datasets", "move", OTHER, FX, code=1)
    assert f"{FX} is the reserved old id of {new}" in refused.output
    taken = operator("datasets", "move", OTHER, PMI, code=1)
    assert f"{PMI} is another dataset" in taken.output
    pointer = operator("datasets", "verify", FX, "--level", "audited", "--note", "x", code=1)
    assert f"apply the change to {new}" in pointer.output
    # Running the move again is harmless; a move back is allowed.
    operator("datasets", "move", FX, new)
    operator("datasets", "move", new, FX)
    assert client.get(f"/v1/datasets/{FX}").status_code == 200
    assert client.get(f"/v1/datasets/{new}", follow_redirects=False).status_code == 308


def test_a_rebuilt_database_gets_every_state_back_from_the_bucket(
    world: tuple[Settings, Any],
    make_client: Any,
    operator: Operator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, _ = world
    operator("datasets", "verify", PMI, "--level", "audited", "--note", "checked")
    operator("datasets", "move", FX, "ecb/fx-rates")
    operator("datasets", "withdraw", OTHER, "--reason", "privacy")
    fresh = replace(
        settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", database_schema=None
    )
    monkeypatch.setenv("OPENDATA_REGISTRY_DATABASE_URL", fresh.database_url)
    monkeypatch.setenv("OPENDATA_REGISTRY_DATABASE_SCHEMA", "")
    client = make_client(fresh)  # migrates and syncs from the bucket alone
    assert client.get(f"/v1/datasets/{FX}", follow_redirects=False).status_code == 308
    assert client.get(f"/v1/datasets/{OTHER}").status_code == 410
    assert _ids(_hits(client, trust="audited")) == [PMI]
    refused = operator("datasets", "move", PMI, FX, code=1)
    assert "reserved old id" in refused.output
    events = client.get(f"/v1/datasets/{PMI}/events").json()["events"]
    assert [e["action"] for e in events] == ["verify"]


def test_namespace_transfer_is_recorded_on_each_dataset(
    world: tuple[Settings, Any], make_client: Any, operator: Operator
) -> None:
    settings, _ = world
    client = make_client(settings)
    done = operator(
        "namespaces", "transfer", "ecb", "--to-owner", "4242", "--datasets", "follow",
        "--note", "the ECB's own organisation",
    )  # fmt: skip
    assert "namespace ecb transferred to GitHub owner id 4242; 2 datasets follow" in done.output
    for ds in (FX, PMI):
        (event,) = client.get(f"/v1/datasets/{ds}/events").json()["events"]
        assert event["action"] == "transfer"
        assert event["details"] == {"owner": "4242", "datasets": "follow"}
        assert event["note"] == "the ECB's own organisation"
    assert client.get(f"/v1/datasets/{OTHER}/events").json()["events"] == []


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["datasets", "verify", FX, "--level", "gold", "--note", "x"], 2, "'gold' is not one of"),
        (["datasets", "verify", FX, "--level", "audited"], 2, "Missing option '--note'"),
        (["datasets", "verify", FX, "--level", "audited", "--note", "  "], 2, "the note is empty"),
        (
            [*VERIFY, "--review-by", "soon"],
            2,
            "'soon' is not a day; write it as YYYY-MM-DD",
        ),
        (
            [*VERIFY, "--review-by", "2020-01-01"],
            2,
            "2020-01-01 has passed",
        ),
        (["datasets", "verify", "Not An Id", "--level", "audited", "--note", "x"], 2, "Not An Id"),
        (["datasets", "verify", "ecb/nope", "--level", "audited", "--note", "x"], 1, "ecb/nope"),
        (["datasets", "deprecate", FX, "--message", " "], 2, "a deprecation needs a message"),
        (
            ["datasets", "deprecate", FX, "--message", "m", "--successor", FX],
            2,
            f"the successor {FX} is the dataset itself",
        ),
        (["datasets", "deprecate", FX, "--message", "m", "--successor", "x y"], 2, "'--successor'"),
        (["datasets", "withdraw", FX, "--reason", "angry"], 2, "'angry' is not one of"),
        (["datasets", "restore", FX], 1, f"{FX} is active: there is nothing to restore"),
        (["datasets", "events", "ecb/fxx"], 1, "dataset 'ecb/fxx' not found"),
        (["datasets", "move", FX, FX], 1, f"{FX} is already its own id"),
        (
            ["namespaces", "transfer", "ecb", "--to-owner", "acme", "--datasets", "follow"],
            2,
            "'acme' is not a GitHub owner id",
        ),
        (["namespaces", "transfer", "ecb", "--to-owner", "1"], 2, "Missing option '--datasets'"),
    ],
)
def test_bad_input_names_the_option_the_value_and_the_fix(
    world: tuple[Settings, Any], operator: Operator, args: list[str], code: int, expected: str
) -> None:
    done = operator(*args, code=code)
    assert expected in done.output, done.output


def test_a_download_answer_carries_the_lifecycle_as_it_changes(
    world: tuple[Settings, Any], make_client: Any, operator: Operator
) -> None:
    """A load learns from its one download request whether the dataset is deprecated (spec
    §10.4): the answer carries ``GET …/lifecycle``'s document, and the registry's hot cache
    drops it when an operator changes it (migration 0014's generation triggers)."""
    settings, _ = world
    client = make_client(settings)

    def served() -> Any:
        r = client.post(f"/v1/datasets/{FX}/download", json={})
        assert r.status_code == 200, r.text
        return r.json()["lifecycle"]

    assert served() is None and served() is None  # none yet; the second from the hot cache
    operator("datasets", "deprecate", FX, "--message", "Use ecb/pmi.", "--successor", PMI)
    doc = served()
    assert (doc["status"], doc["successor"]) == ("deprecated", PMI)
    assert doc == client.get(f"/v1/datasets/{FX}/lifecycle").json()
    operator("datasets", "verify", FX, "--level", "audited", "--note", "checked")
    assert served()["trust"]["level"] == "audited"


def test_a_withdrawn_citation_names_the_public_url_or_warns_that_it_cannot(
    world: tuple[Settings, Any], make_client: Any, operator: Operator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings, _ = world
    client = make_client(settings)
    done = operator("datasets", "withdraw", PMI, "--reason", "licence")
    assert "OPENDATA_REGISTRY_PUBLIC_URL is not set" in done.stderr
    monkeypatch.setenv("OPENDATA_REGISTRY_PUBLIC_URL", "https://data.example.org")
    done = operator("datasets", "withdraw", FX, "--reason", "legal")
    assert "OPENDATA_REGISTRY_PUBLIC_URL" not in done.stderr
    problem = client.get(f"/v1/datasets/{FX}").json()
    assert "https://data.example.org/v1/datasets/ecb/fx/versions/" in problem["details"]["citation"]
