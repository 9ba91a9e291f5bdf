"""Gateway mode: downloads answer with edge links; the edge's usage batches reach the counters;
``opendata-registry gateway sync|ingest``. The Worker's side is tested inside workerd
(``packages/opendata-worker/test``); both sides use core's string to sign."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec
import pytest
from click.testing import CliRunner

from opendata_core.api import DownloadResponse, UsageReport
from opendata_core.errors import OpenDataError
from opendata_core.gateway import GatewayLink, mac, string_to_sign
from opendata_registry.cli.main import main
from opendata_registry.domain.gateway.services import gateway_url
from opendata_registry.infra.settings import GatewaySettings, Settings

from .conftest import Dataset, publish
from .test_keys_limits import create_key, revoke

GW = GatewaySettings(url="https://gw.example.org", key_id="k1", secret=b"g" * 32)
DS = "ecb/fx"


@pytest.fixture
def gw_settings(local_store: Any, settings: Settings) -> Settings:
    publish(local_store, Dataset(DS, years=[2023, 2024]))
    return replace(settings, gateway=GW)


# -- settings -------------------------------------------------------------------------------------

GOOD = {
    "OPENDATA_REGISTRY_GATEWAY_URL": "https://gw.example.org/",
    "OPENDATA_REGISTRY_GATEWAY_KEY_ID": "k2026_12",
    "OPENDATA_REGISTRY_GATEWAY_SECRET": "s" * 32,
}


def test_gateway_settings_off_unless_the_url_is_set() -> None:
    assert GatewaySettings.from_env({}) is None
    g = GatewaySettings.from_env(GOOD)
    assert g is not None and (g.url, g.key_id, g.secret) == (
        "https://gw.example.org",
        "k2026_12",
        b"s" * 32,
    )
    assert "s" * 32 not in repr(g)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"OPENDATA_REGISTRY_GATEWAY_URL": "gw.example.org"}, "OPENDATA_REGISTRY_GATEWAY_URL"),
        ({"OPENDATA_REGISTRY_GATEWAY_URL": "https://gw/?x=1"}, "OPENDATA_REGISTRY_GATEWAY_URL"),
        ({"OPENDATA_REGISTRY_GATEWAY_KEY_ID": ""}, "OPENDATA_REGISTRY_GATEWAY_KEY_ID"),
        ({"OPENDATA_REGISTRY_GATEWAY_KEY_ID": "k-1"}, "OPENDATA_REGISTRY_GATEWAY_KEY_ID"),
        ({"OPENDATA_REGISTRY_GATEWAY_SECRET": "short"}, "OPENDATA_REGISTRY_GATEWAY_SECRET"),
        ({"OPENDATA_REGISTRY_GATEWAY_SECRET": ""}, "OPENDATA_REGISTRY_GATEWAY_SECRET"),
    ],
)
def test_bad_gateway_settings_name_the_variable(change: dict[str, str], names: str) -> None:
    with pytest.raises(OpenDataError, match=names) as info:
        Settings.from_env({**GOOD, **change, "OPENDATA_HOME": "/tmp/x"}, persist_secret=False)
    assert info.value.hint


# -- download answers -----------------------------------------------------------------------------


def test_downloads_answer_with_gateway_links_the_edge_can_verify(
    gw_settings: Settings, make_client: Any
) -> None:
    key = create_key(gw_settings, "pro")
    client = make_client(gw_settings)
    response = client.post(
        f"/v1/datasets/{DS}/download", json={}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    answer = msgspec.json.decode(response.content, type=DownloadResponse)
    assert len(answer.shards) == 2
    expires = int(answer.expires_at.timestamp())
    for shard in answer.shards:
        url = urlsplit(shard.url)
        assert f"{url.scheme}://{url.netloc}" == GW.url
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = unquote(url.path).lstrip("/")
        assert path == f"datasets/{DS}/{shard.path}"
        assert (q["kid"], q["tier"], q["ns"], int(q["expires"])) == ("k1", "pro", "ecb", expires)
        assert q["sub"].startswith("key:")
        link = GatewayLink(path, expires, "k1", q["sub"], "pro", "ecb")
        assert q["signature"] == link.signature(GW.secret)
        assert q["signature"] != link.signature(b"h" * 32)


def test_anonymous_gateway_links_carry_the_ip_subject_and_the_anonymous_tier(
    gw_settings: Settings, make_client: Any
) -> None:
    client = make_client(gw_settings)
    answer = msgspec.json.decode(
        client.post(f"/v1/datasets/{DS}/download", json={"start": "2024"}).content,
        type=DownloadResponse,
    )
    q = parse_qs(urlsplit(answer.shards[0].url).query)
    assert q["tier"] == ["anonymous"] and q["sub"][0].startswith("ip:")


def test_without_a_gateway_the_links_are_the_registry_own(
    settings: Settings, local_store: Any, make_client: Any
) -> None:
    publish(local_store, Dataset(DS, years=[2024]))
    client = make_client(settings)
    answer = msgspec.json.decode(
        client.post(f"/v1/datasets/{DS}/download", json={}).content, type=DownloadResponse
    )
    assert "/files/datasets/" in answer.shards[0].url and "kid=" not in answer.shards[0].url


def test_a_store_prefix_is_left_to_the_worker() -> None:
    url = gateway_url(
        GW,
        "prod/datasets/a/b/parts/x.parquet",
        store_prefix="prod",
        expires=2000000000,
        subject="key:1",
        tier="free",
        namespace="a",
    )
    assert url.startswith("https://gw.example.org/datasets/a/b/parts/x.parquet?")


# -- usage batches from the edge ------------------------------------------------------------------


def _signed(
    body: bytes, *, kid: str = "k1", secret: bytes = GW.secret, expires: int | None = None
) -> dict[str, str]:
    expires = expires or int(time.time()) + 300
    text = string_to_sign(
        "POST",
        "/gateway/usage",
        expires,
        ("kid", kid),
        ("sha256", hashlib.sha256(body).hexdigest()),
    )
    return {
        "Authorization": f"OpenData-Gateway kid={kid}, expires={expires}, signature={mac(secret, text)}",
        "Content-Type": "application/json",
    }


def _usage(client: Any, key: str) -> UsageReport:
    response = client.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})
    return msgspec.json.decode(response.content, type=UsageReport)


def _subject(client: Any, key: str) -> str:
    # the subject of a key, as its download links carry it
    answer = client.post(
        f"/v1/datasets/{DS}/download",
        json={"start": "2024"},
        headers={"Authorization": f"Bearer {key}"},
    )
    return parse_qs(
        urlsplit(msgspec.json.decode(answer.content, type=DownloadResponse).shards[0].url).query
    )["sub"][0]


def test_edge_usage_batches_reach_the_usage_report(gw_settings: Settings, make_client: Any) -> None:
    key = create_key(gw_settings, "free")
    client = make_client(gw_settings)
    subject = _subject(client, key)
    before = _usage(client, key).days[0]
    assert before.bytes == 0  # behind a gateway the bytes are the edge's to report
    events = [
        {
            "sub": subject,
            "status": 200,
            "bytes": 1000,
            "ns": "ecb",
            "dataset": DS,
            "cache": "miss",
            "extra": 1,
        },
        {"sub": subject, "status": 206, "bytes": 100, "cache": "hit"},
        {"sub": subject, "status": 429, "bytes": 0},
        {"sub": "key:999999", "status": 200, "bytes": 5},
    ]
    body = json.dumps({"events": events}).encode()
    response = client.post("/gateway/usage", content=body, headers=_signed(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"events": 4}
    after = _usage(client, key).days[0]
    assert after.bytes - before.bytes == 1100
    assert after.failures - before.failures == 1
    # 3 edge requests, plus the usage call itself
    assert after.requests - before.requests == 4


@pytest.mark.parametrize(
    "attack", ["tampered", "other-secret", "other-kid", "expired", "far-ahead", "none", "garbled"]
)
def test_a_usage_batch_not_signed_by_the_gateway_is_refused(
    gw_settings: Settings, make_client: Any, attack: str
) -> None:
    client = make_client(gw_settings)
    body = json.dumps({"events": [{"sub": "key:1", "status": 200, "bytes": 10**12}]}).encode()
    headers = {
        "tampered": _signed(body.replace(b"10", b"20", 1)),
        "other-secret": _signed(body, secret=b"x" * 32),
        "other-kid": _signed(body, kid="k2"),
        "expired": _signed(body, expires=int(time.time()) - 1),
        "far-ahead": _signed(body, expires=int(time.time()) + 86400),
        "none": {"Content-Type": "application/json"},
        "garbled": {"Authorization": "OpenData-Gateway nonsense"},
    }[attack]
    response = client.post("/gateway/usage", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthenticated"


def test_a_signed_but_malformed_batch_is_a_400_naming_the_field(
    gw_settings: Settings, make_client: Any
) -> None:
    client = make_client(gw_settings)
    body = json.dumps({"events": [{"sub": "key:1", "status": "ok"}]}).encode()
    response = client.post("/gateway/usage", content=body, headers=_signed(body))
    assert response.status_code == 400, response.text
    assert "status" in response.json()["message"]


def test_usage_ingest_is_404_without_a_gateway(settings: Settings, make_client: Any) -> None:
    client = make_client(settings)
    body = b'{"events": []}'
    assert client.post("/gateway/usage", content=body, headers=_signed(body)).status_code == 404


# -- CLI ------------------------------------------------------------------------------------------


def _env(settings: Settings) -> dict[str, str]:
    env = {
        "OPENDATA_HOME": str(settings.home),
        "OPENDATA_STORE": settings.store,
        "OPENDATA_REGISTRY_DATABASE_URL": settings.database_url,
        "OPENDATA_REGISTRY_SECRET": settings.secret.decode(),
        "OPENDATA_REGISTRY_GATEWAY_URL": GW.url,
        "OPENDATA_REGISTRY_GATEWAY_KEY_ID": GW.key_id,
        "OPENDATA_REGISTRY_GATEWAY_SECRET": GW.secret.decode(),
    }
    if settings.database_schema:
        env["OPENDATA_REGISTRY_DATABASE_SCHEMA"] = settings.database_schema
    return env


def test_gateway_sync_writes_the_revoked_keys(gw_settings: Settings, tmp_path: Path) -> None:
    keep = create_key(gw_settings)
    gone = create_key(gw_settings)
    revoke(gw_settings, gone[: len("od_live_") + 6])
    out = tmp_path / "deny.json"
    result = CliRunner().invoke(main, ["gateway", "sync", "-o", str(out)], env=_env(gw_settings))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert len(doc["subjects"]) == 1 and doc["subjects"][0].startswith("key:")
    stdout = CliRunner().invoke(main, ["gateway", "sync"], env=_env(gw_settings))
    assert json.loads(stdout.output)["subjects"] == doc["subjects"]
    assert keep


def test_gateway_ingest_folds_a_file_and_names_a_bad_line(
    gw_settings: Settings, tmp_path: Path, make_client: Any
) -> None:
    key = create_key(gw_settings)
    client = make_client(gw_settings)
    subject = _subject(client, key)
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        f'{{"sub": "{subject}", "status": 200, "bytes": 7}}\n\n{{"sub": "{subject}", "status": 404}}\n'
    )
    result = CliRunner().invoke(
        main, ["gateway", "ingest", str(lines), "--json"], env=_env(gw_settings)
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"events": 2}
    day = _usage(client, key).days[0]
    assert day.bytes == 7 and day.failures >= 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sub": "key:1", "status": 200}\n{"sub": 5}\n')
    result = CliRunner().invoke(main, ["gateway", "ingest", str(bad)], env=_env(gw_settings))
    assert result.exit_code == 1
    assert "bad.jsonl:2" in result.output
