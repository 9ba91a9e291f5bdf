"""No input makes a 500 (issue 21, section 4), and every answer says ``nosniff`` (section 5).

First the inputs that gave a 500, each once; then a property-based run (hypothesis) over every
route of the app's OpenAPI document: arbitrary text and bytes in every path and query
parameter, in every header the registry reads, and as the JSON body (arbitrary JSON, arbitrary
bytes, deep nesting), with and without valid credentials and signatures so that the fuzzed
values reach the code behind the checks. Every answer must be below 500, carry
``X-Content-Type-Options: nosniff``, and an error must be the JSON problem shape.
"""

from __future__ import annotations

import json
import string
import time
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, quote_from_bytes, unquote

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendata_core.documents import Block, Shard
from opendata_core.layout import Layout
from opendata_core.problems import ProblemDetails
from opendata_registry.app import create_app
from opendata_registry.domain.publishing.services import put_method
from opendata_registry.domain.publishing.tokens import PublishTokens
from opendata_registry.infra.bodies import MAX_JSON_DEPTH, decode_json_body, nests_deeper
from opendata_registry.infra.settings import ANONYMOUS, Settings
from opendata_registry.infra.signing import UrlSigner, parse_decimal, same_secret

from .conftest import SECRET, Dataset, publish, with_tier

DS: Final = "ecb/fx"
NESTED: Final = b"[" * 10_000


def problem(response: Any, *statuses: int) -> ProblemDetails:
    """The problem body of an error answer (its status one of ``statuses``)."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    return msgspec.json.decode(response.content, type=ProblemDetails)


@pytest.fixture
def database(tmp_path: Path) -> tuple[str, str | None]:
    """SQLite only: what is tested here is in front of the database (conftest runs both)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}", None


@pytest.fixture
def fuzz_settings(settings: Settings) -> Settings:
    """No per-minute limit in the way (a 429 would hide what is behind it)."""
    from dataclasses import replace

    roomy = with_tier(settings, ANONYMOUS, requests_per_minute=10**9)
    roomy = with_tier(roomy, settings.publish_tier, requests_per_minute=10**9)
    return replace(roomy, trust_proxy=True)


@pytest.fixture
def client(local_store: Any, fuzz_settings: Settings, make_client: Any) -> Any:
    publish(local_store, Dataset(DS, years=[2023, 2024]))
    return make_client(fuzz_settings)


def shard_key(client: Any) -> str:
    shard = client.post(f"/v1/datasets/{DS}/download", json={}).json()["shards"][0]
    return Layout().resolve(DS, shard["path"])


def publish_token(owner: str = "ecb") -> str:
    """A publish token of this registry's secret, as the OIDC exchange issues it."""
    return PublishTokens(SECRET).issue(
        {
            "exp": int(time.time()) + 600,
            "repository": f"{owner}/pipelines",
            "repository_id": "1",
            "repository_owner": owner,
            "repository_owner_id": "2",
        }
    )


# -- the inputs that gave a 500 ------------------------------------------------------------------


def test_a_non_ascii_signature_is_a_403(client: Any) -> None:
    key = shard_key(client)
    url = UrlSigner(SECRET).sign("", key, expires=int(time.time()) + 60)
    bad = url.split("signature=")[0] + "signature=%C3%A9"
    assert "not valid" in problem(client.get(bad), 403).message
    put = f"/files/{key}?expires={int(time.time()) + 60}&bytes=10&signature=%C3%A9"
    assert "not valid" in problem(client.put(put, content=b"x" * 10), 403).message


@pytest.mark.parametrize("value", ["%C2%B2", "%D9%A3", "-1", "1e3", "%20%31", "9" * 13, ""])
def test_a_number_that_is_not_ascii_decimal_is_a_403(client: Any, value: str) -> None:
    key = shard_key(client)
    got = client.get(f"/files/{key}?expires={value}&signature={'0' * 64}")
    assert "not valid" in problem(got, 403).message
    put = f"/files/{key}?expires={int(time.time()) + 60}&signature={'0' * 64}&bytes={value}"
    assert "not valid" in problem(client.put(put, content=b"x"), 403).message


@pytest.mark.parametrize(
    "header",
    ["bytes=0-" + "9" * 5000, "bytes=-" + "9" * 5000, "bytes=0-" + "0" * 4999 + "7"],
)
def test_a_huge_range_end_or_suffix_means_the_whole_object(client: Any, header: str) -> None:
    key = shard_key(client)
    url = UrlSigner(SECRET).sign("", key, expires=int(time.time()) + 60)
    whole = client.get(url).content
    part = client.get(url, headers={"Range": header})
    assert part.status_code == 206, part.text[:200]
    expected = whole[:8] if header.endswith("07") else whole
    assert part.content == expected
    assert part.headers["content-range"] == f"bytes 0-{len(expected) - 1}/{len(whole)}"


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=" + "9" * 5000 + "-9"])
def test_a_huge_range_start_is_a_416(client: Any, header: str) -> None:
    key = shard_key(client)
    url = UrlSigner(SECRET).sign("", key, expires=int(time.time()) + 60)
    answer = client.get(url, headers={"Range": header})
    body = problem(answer, 416)
    assert "outside the object" in body.message and len(body.message) < 300
    assert answer.headers["content-range"].startswith("bytes */")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/auth/github-oidc",
        f"/v1/datasets/{DS}/download",
        f"/v1/datasets/{DS}/commit",
        f"/v1/datasets/{DS}/uploads",
        f"/v1/datasets/{DS}/runs",
    ],
)
@pytest.mark.parametrize("body", [NESTED, b'{"token": ' + NESTED, b"[" * 33 + b"]" * 33])
def test_a_deeply_nested_body_is_a_400(client: Any, path: str, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {publish_token()}"}
    answer = client.post(path, content=body, headers=headers)
    assert f"more than {MAX_JSON_DEPTH} levels deep" in problem(answer, 400).message


def test_a_body_past_the_size_limit_is_a_413(client: Any) -> None:
    from opendata_registry.infra.bodies import MAX_BODY_BYTES

    body = b'{"token": "' + b"x" * MAX_BODY_BYTES + b'"}'
    for path in ["/v1/auth/github-oidc", f"/v1/datasets/{DS}/download"]:
        answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
        problem(answer, 413)


@pytest.mark.parametrize("folder", ["datasets/ecb/fx/parts", "datasets/ecb/fx", "datasets"])
def test_a_signed_folder_is_a_404(client: Any, folder: str) -> None:
    shard_key(client)  # the folders exist
    url = UrlSigner(SECRET).sign("", folder, expires=int(time.time()) + 60)
    assert "no object" in problem(client.get(url), 404).message


def test_a_non_ascii_publish_token_signature_is_a_401(client: Any) -> None:
    token = publish_token()[:-3] + "\u00e9\u00e9\u00e9"
    answer = client.get(
        "/v1/datasets", headers={"Authorization": f"Bearer {token}".encode("latin-1")}
    )
    assert "signature is not valid" in problem(answer, 401).message


def test_content_length_that_is_not_ascii_decimal_is_ignored(client: Any) -> None:
    key = f"datasets/ecb/fx/parts/{'a' * 64}.parquet"
    signed = UrlSigner(SECRET).sign("", key, expires=int(time.time()) + 60, method=put_method(1))
    answer = client.put(f"{signed}&bytes=1", content=b"x", headers={"Content-Length": "1"})
    # the bytes are not the signed shard: refused for that, not for the header
    assert "not the shard" in problem(answer, 422).message


# -- the one decimal parser, the one comparison, the one body decoder ----------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("0012", 12), ("123456789012", 123456789012), ("1234567890123", None)]
    + [(t, None) for t in ["", None, "²", "٣", "１", "-1", "+1", " 1", "1 ", "1_0", "0x1"]],
)
def test_parse_decimal(text: str | None, expected: int | None) -> None:
    assert parse_decimal(text, max_digits=12) == expected


def test_same_secret_takes_any_characters() -> None:
    assert same_secret("abc", "abc")
    for given_ in ["abd", "é", "\udcff", "", "abcd"]:
        assert not same_secret("abc", given_)


@pytest.mark.parametrize(
    ("body", "deeper"),
    [
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b'["' + b"[" * 100 + b'"]', False),  # brackets inside a string are text
        (b'["\\"' + b"[" * 100 + b'"]', False),  # also after an escaped quote
        (b"[" * 10_000, True),  # unbalanced
        (b"]" * 100 + b"[" * 20, False),
        (b"[]" * 100_000, False),
        (b'{"a": ' * 33 + b"1" + b"}" * 33, True),
    ],
)
def test_nests_deeper(body: bytes, deeper: bool) -> None:
    assert nests_deeper(body, MAX_JSON_DEPTH) is deeper


def test_decode_json_body_refuses_what_msgspec_cannot_decode() -> None:
    from litestar.exceptions import SerializationException

    assert decode_json_body(b'{"a": [1]}') == {"a": [1]}
    for body in [NESTED, b"{nope", b'{"a": 1']:
        with pytest.raises(SerializationException):
            decode_json_body(body)


# -- nosniff, Allow, and the schema as sent ------------------------------------------------------


def test_every_kind_of_answer_says_nosniff(client: Any) -> None:
    key = shard_key(client)
    url = UrlSigner(SECRET).sign("", key, expires=int(time.time()) + 60)
    answers = [
        client.get("/v1/datasets"),  # JSON from a handler
        client.post(f"/v1/datasets/{DS}/download", json={}),  # the direct path
        client.post(f"/v1/datasets/{DS}/download", json={"start": 5}),  # its validation error
        client.get("/v1/nowhere"),  # routing 404
        client.delete(f"/v1/datasets/{DS}"),  # routing 405
        client.get(url),  # a file stream
        client.get(url, headers={"Range": "bytes=0-3"}),
        client.get(url.replace("signature=", "signature=0")),  # 403 problem
        client.options("/v1/datasets"),
        client.get("/healthz"),
        client.get("/schema/openapi.json"),
    ]
    for answer in answers:
        assert answer.headers.get("x-content-type-options") == "nosniff", answer.request.url
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/files/datasets/x", "GET, OPTIONS, PUT"),
        ("/v1/auth/github-oidc", "GET, OPTIONS, POST"),
        (f"/v1/datasets/{DS}/runs", "GET, OPTIONS, POST"),
        (f"/v1/datasets/{DS}", "GET, OPTIONS"),
        (f"/v1/datasets/{DS}/commit", "OPTIONS, POST"),
    ],
)
def test_options_allow_lists_every_method_of_the_path(client: Any, path: str, methods: str) -> None:
    answer = client.options(path)
    assert answer.status_code == 204
    assert answer.headers.get_list("allow") == [methods]


def test_the_openapi_document_describes_blocks_and_null_counts_as_sent() -> None:
    doc = create_app().openapi_schema.to_schema()
    shard = doc["components"]["schemas"]["Shard"]["properties"]
    block = shard["blocks"]["items"]
    assert block["type"] == "array"
    assert block["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert block["minItems"] == block["maxItems"] == 2
    assert shard["null_counts"]["additionalProperties"] == {"type": "integer", "minimum": 0}
    # and the wire form is that array
    sent = msgspec.json.encode(
        Shard(
            path="p",
            sha256="s",
            rows=1,
            bytes=1,
            partition="all",
            blocks=[Block(length=3, sha256="ab")],
        )
    )
    assert json.loads(sent)["blocks"] == [[3, "ab"]]


def test_answers_with_blocks_and_null_counts_match_the_openapi_document(
    local_store: Any, fuzz_settings: Settings, make_client: Any
) -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    publish(local_store, Dataset(DS, years=[2023, 2024], blocks=True))
    client = make_client(fuzz_settings)
    doc = client.get("/schema/openapi.json").json()
    schemas = Registry().with_resource(
        "urn:openapi", Resource.from_contents(doc, default_specification=DRAFT202012)
    )

    def conforms(answer: Any, component: str) -> None:
        assert answer.status_code == 200, answer.text
        schema = {"$ref": f"urn:openapi#/components/schemas/{component}"}
        errors = list(Draft202012Validator(schema, registry=schemas).iter_errors(answer.json()))
        assert errors == [], [e.message for e in errors]

    answer = client.post(f"/v1/datasets/{DS}/download", json={})
    assert answer.json()["manifest"]["shards"][0]["blocks"][0][0] > 0  # the array form is sent
    conforms(answer, "DownloadResponse")
    conforms(client.get(f"/v1/datasets/{DS}"), "DatasetDetail")


def test_a_negative_null_count_is_refused_with_its_path() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.null_counts\[\.\.\.\]"):
        msgspec.json.decode(
            b'{"path": "p", "sha256": "s", "rows": 1, "bytes": 1, "partition": "all",'
            b' "null_counts": {"a": -1}}',
            type=Shard,
        )


# -- the property: no input gives a 5xx ----------------------------------------------------------

READ_HEADERS: Final = [
    "Range",
    "Authorization",
    "X-API-Key",
    "If-None-Match",
    "If-Match",
    "If-Modified-Since",
    "If-Range",
    "X-Forwarded-For",
    "X-Request-ID",
    "Accept-Encoding",
    "Accept",
    "Content-Type",
]
"""Every header the registry (or Litestar for it) reads, plus the usual conditional ones."""

# Header values: any byte a client can send in a header (h11/httpx refuse CR, LF and NUL).
_HEADER_BYTES = st.binary(max_size=80).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b"")
)
_TEXT = st.text(max_size=60)
_DIGITS = st.text(alphabet=string.digits, min_size=1, max_size=30)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


def _operations() -> list[tuple[str, str, list[dict[str, Any]], bool]]:
    """(method, path template, parameters, has a body) for every documented operation."""
    doc = create_app().openapi_schema.to_schema()
    found = []
    for path, item in doc["paths"].items():
        methods = [m for m in ("get", "post", "put", "delete", "patch") if m in item]
        for method in methods:
            op = item[method]
            found.append((method.upper(), path, op.get("parameters", []), "requestBody" in op))
        found.append(("OPTIONS", path, [], False))
    return sorted(found)


OPERATIONS: Final = _operations()


def _fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


@st.composite
def requests(
    draw: st.DrawFn, operation: tuple[str, str, list[dict[str, Any]], bool], key: str
) -> tuple[str, str, dict[str, bytes], bytes | None]:
    """(method, URL, headers, body) of one request to ``operation``."""
    method, template, params, has_body = operation
    # Path parameters: the real dataset or key (to reach the code behind them), or anything.
    path_values: dict[str, str] = {}
    for name in [p["name"] for p in params if p["in"] == "path"] or [
        n[1:-1] for n in template.split("/") if n.startswith("{")
    ]:
        real = {"namespace": "ecb", "name": "fx", "key": key}.get(name, "x")
        value = draw(
            st.one_of(
                st.just(real),
                _TEXT.filter(bool),
                st.sampled_from(["datasets", "datasets/ecb/fx", ".."]),
            )
        )
        path_values[name] = quote(value, safe="/" if name == "key" else "")
    path = _fill(template, path_values)
    signed_key = unquote(path_values.get("key", ""))
    # Query parameters: each declared one absent, arbitrary text, arbitrary bytes or digits.
    query: list[str] = []
    for p in params:
        if p["in"] != "query":
            continue
        kind = draw(st.sampled_from(["absent", "text", "bytes", "digits"]))
        if kind == "text":
            query.append(f"{p['name']}={quote(draw(_TEXT), safe='')}")
        elif kind == "bytes":
            query.append(f"{p['name']}={quote_from_bytes(draw(st.binary(max_size=40)), safe='')}")
        elif kind == "digits":
            query.append(f"{p['name']}={draw(_DIGITS)}")
    if template.startswith("/files/") and method != "OPTIONS" and draw(st.booleans()):
        # A valid signature for the drawn key, so that Range and the body get read.
        size = draw(st.integers(min_value=0, max_value=64))
        signed_for = "GET" if method == "GET" else put_method(size)
        expires = int(time.time()) + 600
        try:
            signed = UrlSigner(SECRET).sign("", signed_key, expires=expires, method=signed_for)
        except ValueError:  # a key with a control character cannot be signed: sent unsigned
            signed = "?"
        query = [signed.split("?", 1)[1]] + ([f"bytes={size}"] if method == "PUT" else [])
    if query:
        path = f"{path}?{'&'.join(query)}"
    # Headers the registry reads: each absent or arbitrary; credentials sometimes valid.
    headers: dict[str, bytes] = {}
    for name in draw(st.lists(st.sampled_from(READ_HEADERS), max_size=4, unique=True)):
        headers[name] = draw(_HEADER_BYTES)
    credential = draw(st.sampled_from(["none", "publish", "publish+junk", "key-junk"]))
    if credential == "publish":
        headers["Authorization"] = f"Bearer {publish_token()}".encode()
    elif credential == "publish+junk":
        headers["Authorization"] = f"Bearer {publish_token()}".encode() + draw(_HEADER_BYTES)
    elif credential == "key-junk":
        headers["X-API-Key"] = b"od_" + draw(_HEADER_BYTES)
    if "Range" not in headers and draw(st.booleans()):
        a, b = draw(st.one_of(_DIGITS, st.just(""))), draw(st.one_of(_DIGITS, st.just("")))
        headers["Range"] = f"bytes={a}-{b}".encode()
    # The body: arbitrary JSON, arbitrary bytes, deep nesting, or none.
    body: bytes | None = None
    if has_body or method in ("POST", "PUT"):
        body = draw(
            st.one_of(
                _JSON.map(lambda v: json.dumps(v).encode()),
                st.binary(max_size=200),
                st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
                st.integers(min_value=1, max_value=3000).map(
                    lambda n: b'{"a":' * n + b"1" + b"}" * n
                ),
                st.none(),
            )
        )
        headers.setdefault("Content-Type", b"application/json")
    return method, path, headers, body


EXAMPLES_PER_OPERATION: Final = 30


def test_no_request_gets_a_server_error(client: Any) -> None:
    key = shard_key(client)
    tried: list[str] = []
    for operation in OPERATIONS:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,  # the same examples on every run: CI is deterministic
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(request=requests(operation, key))
        def check(request: tuple[str, str, dict[str, bytes], bytes | None]) -> None:
            method, path, headers, body = request
            answer = client.request(method, path, headers=headers, content=body)
            tried.append(method)
            context = (method, path[:200], headers, (body or b"")[:200], answer.text[:500])
            assert answer.status_code < 500, context
            assert answer.headers.get("x-content-type-options") == "nosniff", context
            if answer.status_code >= 400:
                problem(answer, answer.status_code)

        check()
    # Every operation got its examples (a strategy bug cannot silently test nothing).
    assert len(tried) >= len(OPERATIONS) * EXAMPLES_PER_OPERATION // 2
