"""Publishing and the lifecycle (issue 24): refused ids, and the producer's own deprecation.

- a publish to a moved id is refused, naming the id to publish to, whoever publishes (GitHub
  Actions through OIDC, or a producer token); the dataset at its new id is published by the same
  repository (its pin moved with it);
- a publish to a withdrawn dataset is refused until an operator restores it;
- ``deprecated: {message, successor}`` in the published ``opendata.yaml`` is shown by the
  registry (detail, search hit, audit trail), unless an operator overrode it.

Through the real app, the operator CLI and the local OIDC issuer, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opendata_core.documents import decode_document
from opendata_core.lifecycle import Lifecycle
from tests.registry.publishing.conftest import Operator
from tests.registry.publishing.issuer import Issuer, Repo
from tests.registry.publishing.pubkit import exchange, metadata, part, publish

DS, NEW = "acme/fx-rates", "acme/fx-daily"
ACME = Repo()


def _deprecated(ds: str, message: str, successor: str | None) -> dict[str, Any]:
    meta = metadata(ds, ACME)
    meta["deprecated"] = {"message": message, "successor": successor}
    return meta


def test_a_moved_or_withdrawn_id_refuses_publishes_naming_where_to_publish(
    reg: Any, issuer: Issuer, operator: Operator, store_root: Path
) -> None:
    first, r = publish(reg, exchange(reg, issuer, ACME), DS, ACME, {"2023": part("2023")})
    assert r.status_code == 200, r.text
    operator("datasets", "move", DS, NEW, "--by", "alice")
    producer = json.loads(
        operator("tokens", "create", "--namespace", "acme", "--expires", "1d", "--json").output
    )["token"]

    # Keyless (OIDC) and producer-token publishes to the old id: refused, naming the new id.
    for token in (exchange(reg, issuer, ACME), producer):
        _, r = publish(reg, token, DS, ACME, {"2024": part("2024")}, parent=first.publish_id)
        assert r.status_code == 403, r.text
        problem = r.json()
        assert problem["code"] == "permission_denied"
        assert problem["message"] == (
            f"{DS} moved to {NEW}: the old id is reserved and no longer published; publish to {NEW}"
        )
        assert f"`id: {NEW}`" in problem["hint"]
    left = [p.name for p in (store_root / "datasets" / DS).rglob("*") if p.is_file()]
    assert left == ["lifecycle.json"]

    # The dataset at its new id: the same repository publishes it (the pin moved with it).
    token = exchange(reg, issuer, ACME)
    second, r = publish(reg, token, NEW, ACME, {"2024": part("2024")}, parent=first.publish_id)
    assert r.status_code == 200, r.text
    assert reg.get(f"/v1/datasets/{NEW}/history").json()["total"] == 2

    # Withdrawn: refused until restored.
    operator("datasets", "withdraw", NEW, "--reason", "producer-request")
    token = exchange(reg, issuer, ACME)
    _, r = publish(reg, token, NEW, ACME, {"2025": part("2025")}, parent=second.publish_id)
    assert r.status_code == 403, r.text
    assert r.json()["message"].startswith(f"{NEW} was withdrawn on ")
    assert "(producer-request): it cannot be published again" in r.json()["message"]
    assert f"opendata-registry datasets restore {NEW}" in r.json()["hint"]
    operator("datasets", "restore", NEW)
    _, r = publish(reg, token, NEW, ACME, {"2025": part("2025")}, parent=second.publish_id)
    assert r.status_code == 200, r.text


def test_the_producers_deprecated_is_shown_unless_an_operator_overrode_it(
    reg: Any, issuer: Issuer, operator: Operator, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    parts = {"2023": part("2023")}
    m, r = publish(reg, token, DS, ACME, parts, metadata=_deprecated(DS, "Use acme/fx-daily.", NEW))
    assert r.status_code == 200, r.text
    doc = reg.get(f"/v1/datasets/{DS}").json()["lifecycle"]
    assert (doc["status"], doc["message"], doc["successor"], doc["status_by"]) == (
        "deprecated", "Use acme/fx-daily.", NEW, "producer",
    )  # fmt: skip
    (hit,) = reg.get("/v1/datasets").json()["datasets"]
    assert (hit["dataset"]["status"], hit["dataset"]["successor"]) == ("deprecated", NEW)
    (event,) = reg.get(f"/v1/datasets/{DS}/events").json()["events"]
    assert (event["by"], event["action"], event["note"]) == (
        "producer", "declare", "Use acme/fx-daily.",
    )  # fmt: skip
    written = (store_root / "datasets" / DS / "lifecycle.json").read_bytes()
    assert decode_document(written, Lifecycle).status == "deprecated"

    # An operator's restore stands over the yaml: a publish that still declares it changes nothing.
    operator("datasets", "restore", DS, "--note", "the successor is not ready")
    _, r = publish(
        reg,
        exchange(reg, issuer, ACME),
        DS,
        ACME,
        {"2024": part("2024")},
        parent=m.publish_id,
        metadata=_deprecated(DS, "Use acme/fx-daily.", NEW),
    )
    assert r.status_code == 200, r.text
    doc = reg.get(f"/v1/datasets/{DS}").json()["lifecycle"]
    assert (doc["status"], doc["status_by"]) == ("active", "operator")
    actions = [e["action"] for e in reg.get(f"/v1/datasets/{DS}/events").json()["events"]]
    assert actions == ["declare", "restore"]


def test_a_transferred_namespace_is_published_by_its_new_owner(
    reg: Any, issuer: Issuer, operator: Operator
) -> None:
    first, r = publish(reg, exchange(reg, issuer, ACME), DS, ACME, {"2023": part("2023")})
    assert r.status_code == 200, r.text
    other = "acme/other"
    _, r = publish(reg, exchange(reg, issuer, ACME), other, ACME, {"2023": part("2023", "o")})
    assert r.status_code == 200, r.text
    # The organisation that now owns the namespace has another name and owner id.
    org = Repo(full_name="acme-foundation/fx-rates", id="202", owner_id="4242")

    # stay: the datasets remain with their repository; new ones belong to the new owner.
    operator("namespaces", "transfer", "acme", "--to-owner", "4242", "--datasets", "stay")
    _, r = publish(
        reg, exchange(reg, issuer, org), DS, org, {"2024": part("2024")}, parent=first.publish_id
    )
    assert r.status_code == 403 and "is registered to repository acme/fx-rates" in r.text
    _, r = publish(reg, exchange(reg, issuer, ACME), "acme/new", ACME, {"2023": part("2023", "n")})
    assert r.status_code == 403, r.text
    assert "belongs to the GitHub owner id 4242" in r.json()["message"]
    _, r = publish(reg, exchange(reg, issuer, org), "acme/new", org, {"2023": part("2023", "n")})
    assert r.status_code == 200, r.text

    # follow: the pins are lifted; the new owner's repository registers each at its next publish.
    operator("namespaces", "transfer", "acme", "--to-owner", "4242", "--datasets", "follow")
    _, r = publish(
        reg, exchange(reg, issuer, ACME), DS, ACME, {"2024": part("2024")}, parent=first.publish_id
    )
    assert r.status_code == 403 and "belongs to the GitHub owner id 4242" in r.text
    _, r = publish(
        reg, exchange(reg, issuer, org), DS, org, {"2024": part("2024")}, parent=first.publish_id
    )
    assert r.status_code == 200, r.text
    assert r.json()["registered"] is True
    events = reg.get(f"/v1/datasets/{other}/events").json()["events"]
    assert [(e["action"], e["details"]["datasets"]) for e in events] == [
        ("transfer", "stay"),
        ("transfer", "follow"),
    ]
