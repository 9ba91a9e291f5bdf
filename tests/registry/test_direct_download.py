"""The direct download path (direct.py): a download whose body decodes is answered without
Litestar's handler machinery, with the same answer, headers, compression, counting and guards;
every other body reaches the route handler and gets Litestar's own validation error."""

from __future__ import annotations

import gzip
from typing import Any

import msgspec
import pytest
from litestar.connection import Request

from opendata_core.api import DownloadResponse, UsageReport
from opendata_core.errors import PermissionDenied
from opendata_registry.domain.downloads import guards
from opendata_registry.infra.settings import Settings

from .conftest import Dataset, publish

DS = "ecb/fx"
URL = f"/v1/datasets/{DS}/download"


@pytest.fixture
def client(local_store: Any, settings: Settings, make_client: Any) -> Any:
    publish(local_store, Dataset(DS, years=[2023, 2024]))
    return make_client(settings)


@pytest.fixture
def requests_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the Litestar ``Request`` objects built from now on (a handler needs one)."""
    built: list[str] = []
    init = Request.__init__

    def counting(self: Any, scope: Any, *args: Any, **kwargs: Any) -> None:
        built.append(scope["path"])
        init(self, scope, *args, **kwargs)

    monkeypatch.setattr(Request, "__init__", counting)
    return built


def test_a_valid_download_is_answered_without_the_handler(
    client: Any, requests_built: list[str]
) -> None:
    for body in [{}, {"start": "2024"}, {"columns": ["value"], "unknown": 1}]:
        response = client.post(URL, json=body, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["ratelimit-remaining"]) >= 0
        msgspec.json.decode(response.content, type=DownloadResponse)
    assert requests_built == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"start": 5}', "body parameter 'start': Expected `str | null`, got `int`"),
        (b"{nope", "JSON is malformed"),
        (b"[1]", "Expected `object`, got `array`"),
        (b"", "body parameter 'data'"),
    ],
)
def test_a_body_that_does_not_decode_gets_the_handlers_validation_error(
    client: Any, requests_built: list[str], content: bytes, message: str
) -> None:
    response = client.post(URL, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert message in response.json()["message"]
    assert response.headers["ratelimit-limit"]  # counted by the access middleware, once
    assert URL in requests_built  # the route handler answered


@pytest.fixture
def refusing_guard(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A guard added to the download's list: it refuses, and notes what it was handed.

    Litestar hands a route handler's guards the request; the direct path hands them an
    ``ASGIConnection`` (it builds no ``Request``), so the note says which path ran it.
    """
    seen: list[str] = []

    def refuse(connection: Any, handler: Any) -> None:
        seen.append("handler" if isinstance(connection, Request) else "direct")
        raise PermissionDenied("refused by the test's guard")

    monkeypatch.setattr(guards, "DOWNLOAD_GUARDS", (*guards.DOWNLOAD_GUARDS, refuse))
    return seen


def test_a_guard_added_to_the_download_refuses_on_both_paths(
    client: Any, refusing_guard: list[str]
) -> None:
    direct = client.post(URL, json={"start": "2024"})  # decodes: the direct path answers
    handler = client.post(URL, content=b"{nope", headers={"Content-Type": "application/json"})
    assert refusing_guard == ["direct", "handler"]
    for response in (direct, handler):
        assert response.status_code == 403, response.text
        body = response.json()
        assert (body["code"], body["message"]) == (
            "permission_denied",
            "refused by the test's guard",
        )
        assert len(response.headers.get_list("ratelimit-limit")) == 1  # counted once
    today = msgspec.json.decode(client.get("/v1/usage").content, type=UsageReport).days[0]
    assert (today.requests, today.failures, today.downloads) == (2, 2, 0)


def test_the_direct_path_runs_the_route_handlers_own_guards(client: Any) -> None:
    """The list the direct path runs is Litestar's for the route (every layer), not a copy."""
    route = "/v1/datasets/{namespace:str}/{name:str}/download"
    handler = client.app.route_handler_method_map[route]["POST"]
    assert [g.__name__ for g in handler.guards] == ["check_download"]
    assert len(handler.resolve_guards()) == 1  # no app, router or controller guards today


def test_compressed_and_plain_answers_carry_the_same_download(client: Any) -> None:
    plain = client.post(URL, json={}, headers={"Accept-Encoding": "identity"})
    packed = client.post(URL, json={}, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    # httpx decompresses; the raw length shows the bytes on the wire were gzip's.
    assert int(packed.headers["content-length"]) < len(packed.content)
    assert len(gzip.compress(plain.content)) == pytest.approx(
        int(packed.headers["content-length"]), rel=0.2
    )
    one, two = (msgspec.json.decode(r.content, type=DownloadResponse) for r in (plain, packed))
    assert one.manifest == two.manifest
    assert [s.path for s in one.shards] == [s.path for s in two.shards]


def test_errors_of_the_service_keep_their_shape_headers_and_count(client: Any) -> None:
    missing = client.post("/v1/datasets/ecb/fz/download", json={})
    assert missing.status_code == 404
    assert missing.json()["code"] == "dataset_not_found"
    assert missing.json()["details"]["close_matches"] == [DS]
    column = client.post(URL, json={"columns": ["nope"]})
    assert (column.status_code, column.json()["code"]) == (422, "column_not_found")
    for response in (missing, column):
        assert response.headers["content-type"] == "application/problem+json"
        # One set of rate-limit headers (the access middleware's), not two.
        assert len(response.headers.get_list("ratelimit-limit")) == 1
    assert client.post(URL, json={}).status_code == 200
    today = msgspec.json.decode(client.get("/v1/usage").content, type=UsageReport).days[0]
    assert (today.requests, today.failures, today.downloads) == (3, 2, 1)


def test_a_body_over_the_size_limit_gets_413(client: Any) -> None:
    response = client.post(URL, content=b"{" + b" " * 10_000_000 + b"}")
    assert response.status_code == 413, response.text[:200]


def _call(client: Any, messages: list[dict[str, Any]]) -> tuple[int, bytes]:
    """Call the app as a server would, the body in several ``http.request`` messages."""
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    client.blocking_portal.call(client.app, scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.parametrize(
    ("chunks", "status"),
    [
        ([b'{"start"', b': "2024"}'], 200),  # decodes once joined: the direct path
        ([b'{"start"', b": 5}"], 400),  # the handler reads the replayed chunks
    ],
)
def test_a_body_in_several_messages(client: Any, chunks: list[bytes], status: int) -> None:
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    got, body = _call(client, messages)
    assert got == status, body
    if status == 200:
        answer = msgspec.json.decode(body, type=DownloadResponse)
        assert [s.partition for s in answer.shards] == ["2024"]
    else:
        assert b"body parameter 'start'" in body
