"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import socket

import pytest


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    return _closed_port()


@pytest.fixture
def unreachable_s3_store(monkeypatch: pytest.MonkeyPatch) -> str:
    """OPENDATA_STORE and AWS_* pointing at an S3 endpoint that refuses connections."""
    url = "s3://od-bucket/prefix"
    monkeypatch.setenv("OPENDATA_STORE", url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return url
