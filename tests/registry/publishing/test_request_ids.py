"""Request ids on every answer and in every error body; one access log line per request that never
holds a key, a token, a signature or a query string."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pytest

from opendata_core.problems import ProblemDetails
from opendata_registry.context import Registry
from opendata_registry.domain.publishing.tokens import ProducerTokens
from opendata_registry.infra.requestlog import ACCESS_LOGGER
from opendata_registry.infra.settings import Settings
from tests.registry.conftest import Dataset
from tests.registry.conftest import publish as write_dataset
from tests.registry.publishing.issuer import Issuer, Repo
from tests.registry.publishing.pubkit import auth, part, publish
from tests.registry.test_keys_limits import create_key

GENERATED = re.compile(r"[0-9a-f]{32}")
ACME = Repo()


class Captured(logging.Handler):
    """Every record the registry logs while the test runs, formatted as a handler would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # httpx and httpcore log on the test client's side of the connection (they print the
        # URLs the test asked for); everything else in this process is the registry's.
        if not record.name.startswith(("httpx", "httpcore")):
            self.lines.append(self.format(record))

    def access(self) -> list[dict[str, Any]]:
        prefix = f"{ACCESS_LOGGER} INFO "
        return [json.loads(line[len(prefix) :]) for line in self.lines if line.startswith(prefix)]


@pytest.fixture
def capture() -> Iterator[Captured]:
    """Call after the app started: its logging configuration replaces the access log's handlers."""
    handler = Captured()
    loggers = [logging.getLogger(), logging.getLogger(ACCESS_LOGGER)]
    for logger in loggers:
        logger.addHandler(handler)
    root_level = loggers[0].level
    loggers[0].setLevel(logging.DEBUG)
    yield handler
    loggers[0].setLevel(root_level)
    for logger in loggers:
        logger.removeHandler(handler)


def producer_token(settings: Settings, namespace: str) -> str:
    async def go() -> str:
        registry = Registry(settings)
        try:
            async with registry.sessions() as session:
                token, _ = await ProducerTokens(session).create(
                    expires_at=datetime.now(UTC) + timedelta(days=1), namespace=namespace
                )
            return token
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())


def body_of(response: Any) -> ProblemDetails:
    return msgspec.json.decode(response.content, type=ProblemDetails)


def test_the_access_log_never_holds_a_key_token_or_signature(
    pub_settings: Settings,
    make_client: Any,
    issuer: Issuer,
    local_store: Any,
    request: pytest.FixtureRequest,
) -> None:
    write_dataset(local_store, Dataset("ecb/fx", years=[2023, 2024]))
    client = make_client(pub_settings)
    captured: Captured = request.getfixturevalue("capture")
    key = create_key(pub_settings)
    producer = producer_token(pub_settings, "acme")
    oidc = issuer.token(ACME)
    secrets: dict[str, str] = {"api key": key, "producer token": producer, "oidc token": oidc}
    answers = []

    # OIDC exchange, then a publish (upload URLs carry signatures) with the publish token.
    r = client.post("/v1/auth/github-oidc", json={"token": oidc})
    assert r.status_code == 200, r.text
    answers.append(r)
    publish_token = r.json()["token"]
    secrets["publish token"] = publish_token
    uploads = client.post(
        "/v1/datasets/acme/fx-rates/uploads",
        json={"shards": [{"sha256": hashlib.sha256(part("x")).hexdigest(), "bytes": 250}]},
        headers=auth(publish_token),
    )
    answers.append(uploads)
    for item in uploads.json()["uploads"]:
        secrets["upload signature"] = dict(parse_qsl(urlsplit(item["url"]).query))["signature"]
        secrets["upload query"] = urlsplit(item["url"]).query
    _, committed = publish(
        client, publish_token, "acme/fx-rates", ACME, {"2023": part("2023")}
    )  # 4 requests: uploads, PUT, commit (and the second uploads above)
    assert committed.status_code == 200, committed.text

    # The producer token, on the producer's own namespace and on a refused one.
    producer_answer = client.post(
        "/v1/datasets/acme/fx-rates/runs", json={}, headers=auth(producer)
    )
    answers.append(producer_answer)
    answers.append(client.post("/v1/datasets/ecb/fx/uploads", json={}, headers=auth(producer)))

    # Downloads with the API key in both headers, then every signed file URL (and a tampered one).
    r = download_answer = client.post("/v1/datasets/ecb/fx/download", json={}, headers=auth(key))
    assert r.status_code == 200, r.text
    answers.append(r)
    answers.append(client.get("/v1/usage", headers={"X-API-Key": key}))
    for n, shard in enumerate(r.json()["shards"]):
        url = urlsplit(shard["url"])
        secrets[f"download signature {n}"] = dict(parse_qsl(url.query))["signature"]
        secrets[f"download query {n}"] = url.query
        answers.append(client.get(f"{url.path}?{url.query}"))
        answers.append(client.get(f"{url.path}?{url.query}", headers={"Range": "bytes=10-20"}))
        answers.append(client.get(f"{url.path}?{url.query}x"))  # 403
    # Refused credentials are secrets too.
    wrong = key[:-3] + ("AAA" if not key.endswith("AAA") else "BBB")
    secrets["mistyped key"] = wrong
    answers.append(client.get("/v1/datasets", headers=auth(wrong)))
    answers.append(client.post("/v1/auth/github-oidc", json={"token": oidc + "x"}))
    answers.append(client.get("/v1/datasets?q=" + key))  # a key pasted into a search box

    assert [a.status_code for a in answers[-3:]] == [401, 401, 200]
    text = "\n".join(captured.lines)
    for what, secret in secrets.items():
        assert secret not in text, what
    for what in ("od_live_", "od_prod_", "od_pub_", "signature", "expires=", "?"):
        assert all(what not in line for line in captured.access()), what

    lines = {line["request_id"]: line for line in captured.access()}
    for answer in answers:
        line = lines[answer.headers["X-Request-ID"]]
        assert line["status"] == answer.status_code
        assert line["method"] == answer.request.method
        assert line["duration_ms"] >= 0
    # The route template, never the path; the key's public prefix, never the key.
    download = lines[download_answer.headers["X-Request-ID"]]
    assert download["route"] == "/v1/datasets/{namespace}/{name}/download"
    assert download["key_prefix"] == key[:14]
    assert download["subject"].startswith("key:")
    assert lines[answers[-4].headers["X-Request-ID"]]["route"] == "/files/{key}"
    assert lines[answers[0].headers["X-Request-ID"]]["route"] == "/v1/auth/github-oidc"
    producer_line = lines[producer_answer.headers["X-Request-ID"]]
    assert producer_line["subject"].startswith("producer:")
    assert producer_line["key_prefix"] is None


def test_every_answer_and_error_body_carries_the_request_id(
    settings: Settings, make_client: Any, local_store: Any
) -> None:
    write_dataset(local_store, Dataset("ecb/fx", years=[2023]))
    client = make_client(settings)
    shard = client.post("/v1/datasets/ecb/fx/download", json={}).json()["shards"][0]
    signed = urlsplit(shard["url"])
    errors = {
        "no such route": client.get("/v2/nothing"),
        "no such dataset": client.get("/v1/datasets/ecb/nope"),
        "direct path error": client.post("/v1/datasets/ecb/nope/download", json={}),
        "body validation": client.post("/v1/datasets/ecb/fx/download", json={"start": 5}),
        "malformed key": client.get("/v1/datasets", headers={"X-API-Key": "od_live_nope"}),
        "bad signature": client.get(f"{signed.path}?{signed.query}0"),
        "range outside": client.get(
            f"{signed.path}?{signed.query}", headers={"Range": "bytes=99999-"}
        ),
        "method not allowed": client.delete("/v1/datasets"),
    }
    for what, answer in errors.items():
        assert answer.status_code >= 400, what
        header = answer.headers["X-Request-ID"]
        assert GENERATED.fullmatch(header), what
        assert body_of(answer).request_id == header, what
    fine = [client.get("/healthz"), client.post("/v1/datasets/ecb/fx/download", json={})]
    fine.append(client.get(f"{signed.path}?{signed.query}"))
    ids = {a.headers["X-Request-ID"] for a in [*fine, *errors.values()]}
    assert len(ids) == len(fine) + len(errors)  # one per request
    assert all(GENERATED.fullmatch(i) for i in ids)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("trace-1.A_b", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("two words", False),
        ("", False),
        ("caf\u00e9", False),
        ("a/b", False),
        ("a\tb", False),
        ('"quoted"', False),
    ],
)
def test_a_safe_incoming_request_id_is_kept_and_anything_else_replaced(
    settings: Settings, make_client: Any, sent: str, kept: bool
) -> None:
    client = make_client(settings)
    for answer in (
        client.get("/healthz", headers={"X-Request-ID": sent.encode("utf-8")}),
        client.get("/v1/datasets/ecb/nope", headers={"X-Request-ID": sent.encode("utf-8")}),
    ):
        header = answer.headers["X-Request-ID"]
        if kept:
            assert header == sent
        else:
            assert GENERATED.fullmatch(header) and header != sent
    assert body_of(answer).request_id == header


@pytest.mark.parametrize(
    ("value", "on"), [("", True), ("1", True), ("true", True), ("0", False), ("no", False)]
)
def test_access_log_switch(
    settings: Settings, make_client: Any, request: pytest.FixtureRequest, value: str, on: bool
) -> None:
    from dataclasses import replace

    assert (
        Settings.from_env(
            {"OPENDATA_HOME": str(settings.home), "OPENDATA_REGISTRY_ACCESS_LOG": value}
        ).access_log
        is on
    )
    client = make_client(replace(settings, access_log=on))
    captured: Captured = request.getfixturevalue("capture")
    answer = client.get("/v1/datasets/ecb/nope")
    assert body_of(answer).request_id == answer.headers["X-Request-ID"]  # ids either way
    assert len(captured.access()) == int(on)


@pytest.mark.parametrize("value", ["off", "2", "enabled"])
def test_a_bad_access_log_switch_names_the_variable(settings: Settings, value: str) -> None:
    from opendata_core.errors import OpenDataError

    with pytest.raises(
        OpenDataError, match=f"OPENDATA_REGISTRY_ACCESS_LOG={value!r} is not 1 or 0"
    ):
        Settings.from_env(
            {"OPENDATA_HOME": str(settings.home), "OPENDATA_REGISTRY_ACCESS_LOG": value}
        )
