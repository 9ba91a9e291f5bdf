"""The registry rebases an append onto a publish that committed since its parent (spec §4.1).

In-process registry on the local folder store, on SQLite and PostgreSQL. Each test publishes a
base version, then commits appends built on it (``mode: "append"``): the registry commits them
one after the other on the live manifest unless two wrote the same partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendata_core.documents import Field, Manifest, decode_document
from tests.registry.publishing.issuer import Issuer, Repo
from tests.registry.publishing.pubkit import auth, commit_body, exchange, manifest, part, upload

DS = "acme/fx-rates"
ACME = Repo()


def _live(store_root: Path) -> Manifest:
    path = store_root / "datasets" / DS / "manifest.json"
    return decode_document(path.read_bytes(), Manifest)


@dataclass
class Built:
    """A manifest and its shards' bytes by partition."""

    manifest: Manifest
    parts: dict[str, bytes]

    @property
    def publish_id(self) -> str:
        return self.manifest.publish_id


def _append(
    reg: Any,
    token: str,
    parent: Built,
    parts: dict[str, bytes],
    *,
    schema: list[Field] | None = None,
    mode: str | None = "append",
) -> tuple[Built, dict[str, Any], Any]:
    """Upload ``parts`` and commit ``parent``'s shards plus them, built on ``parent``."""
    upload(reg, token, DS, parts)
    every = parent.parts | parts
    m = manifest(DS, every, parent=parent.publish_id, schema=schema)
    body = commit_body(m, DS, ACME, **({"mode": mode} if mode else {}))
    r = reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
    return Built(m, every), body, r


def _base(reg: Any, token: str, **parts: bytes) -> Built:
    upload(reg, token, DS, parts)
    m = manifest(DS, parts)
    r = reg.post(f"/v1/datasets/{DS}/commit", json=commit_body(m, DS, ACME), headers=auth(token))
    assert r.status_code == 200, r.text
    return Built(m, parts)


def _moved_on(
    reg: Any,
    issuer: Issuer,
    *,
    base: tuple[str, ...] = ("2023",),
    first: str = "2024",
    mode: str | None = "append",
) -> tuple[str, Built, Built]:
    """A base version, then an append of ``first`` built on it: (token, base, append)."""
    token = exchange(reg, issuer, ACME)
    built = _base(reg, token, **{label: part(label) for label in base})
    a, _, r = _append(reg, token, built, {first: part(first)}, mode=mode)
    assert r.status_code == 200, r.text
    assert r.json()["rebased_onto"] is None
    return token, built, a


def test_appends_on_one_parent_are_rebased_one_after_the_other(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token, base, a = _moved_on(reg, issuer)
    # Built on the base too: its parent is no longer live, yet it only adds 2025.
    b, _, second = _append(reg, token, base, {"2025": part("2025")})
    assert second.status_code == 200, second.text
    answer = second.json()
    assert answer["publish_id"] == b.publish_id and answer["rebased_onto"] == a.publish_id
    assert answer["stats"]["row_count"] == 30 and answer["stats"]["shard_count"] == 3
    live = _live(store_root)
    assert live.publish_id == b.publish_id and live.parent_publish_id == a.publish_id
    assert [s.partition for s in live.shards] == ["2023", "2024", "2025"]
    # Every derived field recomputed from the merged shards, not copied from the request.
    assert (live.row_count, live.bytes) == (30, sum(s.bytes for s in live.shards))
    assert (live.min_time, live.max_time) == ("2023-01-01", "2025-12-31")
    assert live.provenance.verified_by == "github-oidc"
    entry = store_root / "datasets" / DS / "versions" / f"{b.publish_id}.json"
    assert decode_document(entry.read_bytes(), Manifest) == live
    history = reg.get(f"/v1/datasets/{DS}/history").json()["publishes"]
    assert [(p["publish_id"], p["parent_publish_id"]) for p in history] == [
        (base.publish_id, None),
        (a.publish_id, base.publish_id),
        (b.publish_id, a.publish_id),
    ]
    assert [p["row_count"] for p in history] == [10, 20, 30]


def test_two_appends_to_the_same_partition_one_conflicts_naming_it(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token, base, a = _moved_on(reg, issuer)
    _, _, second = _append(reg, token, base, {"2024": part("2024", "b")})
    assert second.status_code == 409, second.text
    problem = second.json()
    assert problem["code"] == "conflict"
    assert problem["details"]["partition"] == "2024"
    assert problem["details"]["publish_id"] == a.publish_id
    assert "partition '2024' was also written by" in problem["message"]
    assert "nothing was changed" in problem["message"]
    assert _live(store_root).publish_id == a.publish_id


def test_an_append_extending_a_partition_is_rebased_when_another_wrote_elsewhere(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    """The client re-writes a partition it extends; another append's partition is kept."""
    token, base, a = _moved_on(reg, issuer, base=("2023", "2024"), first="2025")
    extended = part("2024", "more rows")
    b, _, second = _append(reg, token, base, {"2024": extended})
    assert second.status_code == 200, second.text
    live = _live(store_root)
    assert live.publish_id == b.publish_id and live.parent_publish_id == a.publish_id
    by_label = {s.partition: s.sha256 for s in live.shards}
    assert by_label["2024"] == next(s.sha256 for s in b.manifest.shards if s.partition == "2024")
    assert by_label["2025"] == next(s.sha256 for s in a.manifest.shards if s.partition == "2025")


def test_an_append_with_a_schema_change_is_still_gated_when_rebased(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token, base, a = _moved_on(reg, issuer)
    changed = [
        Field(name="date", type="date32[day]", nullable=False),
        Field(name="value", type="double"),
        Field(name="source", type="string"),
    ]
    _, _, r = _append(reg, token, base, {"2025": part("2025")}, schema=changed)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "schema_mismatch"
    assert "added source" in r.json()["message"]
    assert _live(store_root).publish_id == a.publish_id


def test_a_commit_without_mode_keeps_the_409_of_a_stale_parent(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    """An old client sends no ``mode``: the registry answers as before, and changes nothing."""
    token, base, a = _moved_on(reg, issuer, mode=None)
    _, body, r = _append(reg, token, base, {"2025": part("2025")}, mode=None)
    assert "mode" not in body
    assert r.status_code == 409, r.text
    assert r.json()["details"] == {"dataset_id": DS, "publish_id": a.publish_id}
    _, _, replace = _append(reg, token, base, {"2025": part("2025")}, mode="replace")
    assert replace.status_code == 409, replace.text
    assert _live(store_root).publish_id == a.publish_id


def test_an_unknown_mode_is_refused_naming_the_field(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token = exchange(reg, issuer, ACME)
    base = _base(reg, token, **{"2023": part("2023")})
    _, _, r = _append(reg, token, base, {"2024": part("2024")}, mode="merge")
    assert 400 <= r.status_code < 500, r.text
    assert "mode" in r.text
    assert _live(store_root).publish_id == base.publish_id


def test_a_retried_append_that_was_rebased_is_not_applied_twice(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    """The reply of a rebased commit is lost and another append lands before the retry."""
    token, base, a = _moved_on(reg, issuer)
    b, body, second = _append(reg, token, base, {"2025": part("2025")})
    assert second.status_code == 200, second.text
    rebased = Built(_live(store_root), a.parts | b.parts)
    c, _, third = _append(reg, token, rebased, {"2026": part("2026")})
    assert third.status_code == 200, third.text
    again = reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
    assert again.status_code == 200, again.text
    assert again.json()["already_committed"] is True
    assert again.json()["publish_id"] == b.publish_id
    live = _live(store_root)
    assert live.publish_id == c.publish_id and live.row_count == 40
    assert [s.partition for s in live.shards] == ["2023", "2024", "2025", "2026"]


def test_an_append_that_drops_a_partition_or_lost_its_parent_is_refused(
    reg: Any, issuer: Issuer, store_root: Path
) -> None:
    token, base, a = _moved_on(reg, issuer, base=("2023", "2024"), first="2025")
    # "Append" whose manifest lacks the base's 2023: not an append; refused, naming the field.
    upload(reg, token, DS, {"2026": part("2026")})
    m = manifest(DS, {"2024": part("2024"), "2026": part("2026")}, parent=base.publish_id)
    body = commit_body(m, DS, ACME, mode="append")
    r = reg.post(f"/v1/datasets/{DS}/commit", json=body, headers=auth(token))
    assert r.status_code == 422, r.text
    assert r.json()["details"]["field"] == "mode"
    assert "partition '2023'" in r.json()["message"]
    # Without the parent's history entry the registry cannot tell what the append changed.
    (store_root / "datasets" / DS / "versions" / f"{base.publish_id}.json").unlink()
    _, _, lost = _append(reg, token, base, {"2026": part("2026")})
    assert lost.status_code == 409, lost.text
    assert lost.json()["details"]["publish_id"] == a.publish_id
    assert _live(store_root).publish_id == a.publish_id
