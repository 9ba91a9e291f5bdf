"""The one definition of the signed-link string, checked against the shared JSON vectors.

The same vectors are checked by the Worker's tests (``packages/opendata-worker/test``), so the
Python signer and the TypeScript verifier cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from opendata_core.gateway import GatewayLink, mac, signing_vectors, string_to_sign

DOC = signing_vectors()
GATEWAY = [v for v in DOC["vectors"] if v["kind"] == "gateway"]
FILES = [v for v in DOC["vectors"] if v["kind"] == "files"]


def _link(v: dict[str, Any]) -> GatewayLink:
    return GatewayLink(
        key=v["key"],
        expires=v["expires"],
        kid=v["kid"],
        sub=v["sub"],
        tier=v["tier"],
        ns=v["ns"],
        method=v["method"],
    )


def test_the_vectors_cover_both_kinds_and_the_awkward_inputs() -> None:
    assert len(GATEWAY) >= 5 and FILES and DOC["invalid"]
    assert any(v["method"] != "GET" for v in GATEWAY)
    assert any(not v["key"].isascii() for v in GATEWAY)  # percent-encoding in the URL
    assert any(v["sub"].count(":") > 1 for v in GATEWAY)  # an IPv6 subject


@pytest.mark.parametrize("v", GATEWAY, ids=lambda v: f"{v['method']}-{v['kid']}-{v['sub']}")
def test_gateway_links_match_the_vectors(v: dict[str, Any]) -> None:
    link = _link(v)
    assert link.string_to_sign() == v["string_to_sign"]
    assert link.signature(v["secret"].encode()) == v["signature"]
    assert link.url(v["base_url"], v["secret"].encode()) == v["url"]


@pytest.mark.parametrize("v", FILES, ids=lambda v: v["key"])
def test_the_files_string_is_the_first_three_fields(v: dict[str, Any]) -> None:
    text = string_to_sign(v["method"], v["key"], v["expires"])
    assert text == v["string_to_sign"]
    assert mac(v["secret"].encode(), text) == v["signature"]


def test_each_signed_field_changes_the_signature() -> None:
    v = GATEWAY[0]
    secret = v["secret"].encode()
    base = _link(v)
    changed = [
        GatewayLink(base.key + "x", base.expires, base.kid, base.sub, base.tier, base.ns),
        GatewayLink(base.key, base.expires + 1, base.kid, base.sub, base.tier, base.ns),
        GatewayLink(base.key, base.expires, base.kid + "x", base.sub, base.tier, base.ns),
        GatewayLink(base.key, base.expires, base.kid, "key:8", base.tier, base.ns),
        GatewayLink(base.key, base.expires, base.kid, base.sub, "pro", base.ns),
        GatewayLink(base.key, base.expires, base.kid, base.sub, base.tier, base.ns, method="PUT"),
    ]
    signatures = {link.signature(secret) for link in changed}
    assert base.signature(secret) not in signatures and len(signatures) == len(changed)
    assert base.signature(b"other" * 8) != base.signature(secret)


@pytest.mark.parametrize("v", DOC["invalid"], ids=lambda v: f"{v['field']}-{v[v['field']]!r}")
def test_a_field_that_could_forge_another_link_is_refused_naming_it(v: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=rf"\b{v['field']}="):
        _link(v).string_to_sign()


def test_a_negative_expiry_is_refused() -> None:
    with pytest.raises(ValueError, match="expires=-1"):
        string_to_sign("GET", "datasets/a/b", -1)


def test_mac_is_plain_hmac_sha256() -> None:
    assert mac(b"s", "t") == hmac.new(b"s", b"t", hashlib.sha256).hexdigest()
