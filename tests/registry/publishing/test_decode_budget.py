"""The commit decodes every new shard within a budget (issue 21 §1): each bomb of the generated
corpus (tests/bombs.py: every encoding x nesting x codec pyarrow writes), uploaded through the
registry's own signed URLs, is refused at commit with a 422 naming the shard and the limit, and
nothing is committed; the honest twins of the same layouts commit."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from opendata_core.decoding import decode_limit
from opendata_registry.infra.settings import Settings
from tests.bombs import BUDGET, Case
from tests.registry.publishing.issuer import Issuer, Repo
from tests.registry.publishing.pubkit import auth, commit_body, exchange, manifest, part, upload

ACME = Repo()


@pytest.fixture
def budget_reg(pub_settings: Settings, make_client: Any) -> Any:
    """A registry whose commit allows BUDGET decoded bytes per shard."""
    return make_client(replace(pub_settings, max_decode_bytes=BUDGET))


def test_every_bomb_is_refused_at_commit_and_nothing_changes(
    budget_reg: Any, issuer: Issuer, store_root: Path, bomb_corpus: list[Case]
) -> None:
    reg = budget_reg
    ds = "acme/bombs"
    token = exchange(reg, issuer, ACME)
    # The dataset exists (an honest first publish), so a refused commit must change nothing.
    first = manifest(ds, {"2020": part("2020")})
    upload(reg, token, ds, {"2020": part("2020")})
    r = reg.post(
        f"/v1/datasets/{ds}/commit", json=commit_body(first, ds, ACME), headers=auth(token)
    )
    assert r.status_code == 200, r.text
    live = store_root / "datasets" / ds / "manifest.json"
    before = live.read_bytes()

    bombs = {c.name: c.path.read_bytes() for c in bomb_corpus if c.bomb}
    upload(reg, token, ds, bombs)
    refused = 0
    for case in (c for c in bomb_corpus if c.bomb):
        data = bombs[case.name]
        m = manifest(ds, {"2021": part("2020"), "2022": data}, parent=first.publish_id)
        shards = {s.sha256: i for i, s in enumerate(m.shards)}
        i = shards[hashlib.sha256(data).hexdigest()]
        body = commit_body(m, ds, ACME)
        body["manifest"]["shards"][i]["rows"] = case.rows
        body["manifest"]["row_count"] = sum(s["rows"] for s in body["manifest"]["shards"])
        r = reg.post(f"/v1/datasets/{ds}/commit", json=body, headers=auth(token))
        assert r.status_code == 422, (case.name, r.status_code, r.text[:300])
        message = r.json()["message"]
        limit = decode_limit(len(data), BUDGET)
        assert f"manifest.shards[{i}] parts/{hashlib.sha256(data).hexdigest()}" in message
        assert "exceeds OPENDATA_REGISTRY_MAX_DECODE_BYTES" in message, message
        assert f"more than the {limit:,} allowed" in message
        assert "nothing was changed" in message
        assert r.json()["details"]["field"] == f"manifest.shards[{i}]"
        assert live.read_bytes() == before  # nothing committed
        refused += 1
    assert refused == len(bombs) == 210


def test_honest_shards_of_every_layout_commit(
    budget_reg: Any, issuer: Issuer, store_root: Path, bomb_corpus: list[Case]
) -> None:
    reg = budget_reg
    ds = "acme/honest"
    token = exchange(reg, issuer, ACME)
    honest = [c for c in bomb_corpus if not c.bomb]
    # One shard per year label (the manifest's min/max are dates): 210 layouts, one commit.
    parts = {str(1700 + i): c.path.read_bytes() for i, c in enumerate(honest)}
    upload(reg, token, ds, parts)
    m = manifest(ds, parts)
    body = commit_body(m, ds, ACME)
    rows = {hashlib.sha256(c.path.read_bytes()).hexdigest(): c.rows for c in honest}
    for shard in body["manifest"]["shards"]:
        shard["rows"] = rows[shard["sha256"]]
    body["manifest"]["row_count"] = sum(rows.values())
    r = reg.post(f"/v1/datasets/{ds}/commit", json=body, headers=auth(token))
    assert r.status_code == 200, r.text[:500]
    assert (store_root / "datasets" / ds / "manifest.json").exists()


def test_rows_and_garbage_are_checked_at_commit(
    budget_reg: Any, issuer: Issuer, store_root: Path
) -> None:
    """A shard whose rows differ from the manifest's, or that is not Parquet, is refused."""
    reg = budget_reg
    ds = "acme/rows"
    token = exchange(reg, issuer, ACME)
    data = part("2024")
    upload(reg, token, ds, {"2024": data})
    body = commit_body(manifest(ds, {"2024": data}), ds, ACME)
    body["manifest"]["shards"][0]["rows"] = 11
    body["manifest"]["row_count"] = 11
    r = reg.post(f"/v1/datasets/{ds}/commit", json=body, headers=auth(token))
    assert r.status_code == 422, r.text
    assert "holds 10 rows, the manifest lists 11" in r.json()["message"]
    assert r.json()["details"]["field"] == "manifest.shards[0].rows"
    junk = b"PAR1 not parquet at all " * 20
    upload(reg, token, ds, {"2024": junk})
    r = reg.post(
        f"/v1/datasets/{ds}/commit",
        json=commit_body(manifest(ds, {"2024": junk}), ds, ACME),
        headers=auth(token),
    )
    assert r.status_code == 422, r.text
    assert "not a readable Parquet file" in r.json()["message"]
    assert not (store_root / "datasets" / ds / "manifest.json").exists()


def test_the_ratio_and_floor_are_settings() -> None:
    s = Settings.from_env(
        {
            "OPENDATA_HOME": "/tmp/od-decode-settings",
            "OPENDATA_REGISTRY_MAX_DECODE_BYTES": "1000000",
            "OPENDATA_REGISTRY_DECODE_FLOOR": "1000",
            "OPENDATA_REGISTRY_DECODE_RATIO": "5",
        },
        persist_secret=False,
    )
    assert (s.max_decode_bytes, s.decode_floor, s.decode_ratio) == (1_000_000, 1000, 5)
    assert decode_limit(100, s.max_decode_bytes, floor=s.decode_floor, ratio=s.decode_ratio) == 1500
