"""The client decodes the registry's answers through core's one decoder per type.

Users call ``od.*`` from threads (Dask's threaded scheduler, a pool of loads), and msgspec 0.22
can crash the process when two threads decode a type for the first time at once (see
``tests/core/test_documents_threads.py``): ``msgspec.json.decode(..., type=...)`` must not be
the client's path.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from opendata._registry import _decode
from opendata_core.api import VersionList
from opendata_core.documents import Manifest, decode_document, json_decoder
from opendata_core.versions import publish_summary

FIXTURE = Path(__file__).parents[1] / "core" / "fixtures" / "manifest-1.1.json"


def _body() -> bytes:
    manifest = decode_document(FIXTURE.read_bytes(), Manifest)
    summary = publish_summary(manifest)
    return msgspec.json.encode(
        VersionList(dataset_id=manifest.dataset_id, versions=[summary, summary])
    )


def test_the_client_decodes_answers_with_the_shared_decoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = _body()

    def one_off(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("msgspec.json.decode(type=...) builds a decoder per call")

    monkeypatch.setattr(msgspec.json, "decode", one_off)
    got = _decode(httpx.Response(200, content=body), VersionList, "versions")
    assert [v.publish_id for v in got.versions] == [got.versions[0].publish_id] * 2
    assert json_decoder(VersionList) is json_decoder(VersionList)


def test_answers_decoded_on_many_threads_agree() -> None:
    body = _body()
    start = threading.Barrier(8)
    seen: list[int] = []

    def work() -> None:
        start.wait()
        for _ in range(20):
            answer = _decode(httpx.Response(200, content=body), VersionList, "versions")
            seen.append(len(answer.versions))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [2] * 160
