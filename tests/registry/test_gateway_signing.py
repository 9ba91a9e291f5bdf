"""The registry's ``/files`` signer uses core's string to sign (the gateway vectors' ``files``)."""

from __future__ import annotations

from typing import Any

import pytest

from opendata_core.gateway import signing_vectors
from opendata_registry.infra.signing import UrlSigner

FILES = [v for v in signing_vectors()["vectors"] if v["kind"] == "files"]


@pytest.mark.parametrize("v", FILES, ids=lambda v: v["key"])
def test_the_files_signer_matches_the_shared_vectors(v: dict[str, Any]) -> None:
    signer = UrlSigner(v["secret"].encode())
    url = signer.sign("http://h", v["key"], expires=v["expires"], method=v["method"])
    assert url.endswith(f"signature={v['signature']}")
    assert signer.verify(v["method"], v["key"], str(v["expires"]), v["signature"], now=0)
    assert not signer.verify("PUT", v["key"], str(v["expires"]), v["signature"], now=0)


def test_a_key_with_a_line_break_is_refused_without_raising() -> None:
    signer = UrlSigner(b"k" * 32)
    assert not signer.verify("GET", "datasets/a\nb", "2000000000", "0" * 64, now=0)
