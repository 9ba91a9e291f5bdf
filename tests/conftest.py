"""Fixtures shared by every test: an isolated environment and home directory, one S3 server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test sees the developer's OpenData or cloud settings, or writes to their home."""
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith(("OPENDATA_", "AWS_", "R2_", "GITHUB_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OPENDATA_HOME", str(home / "opendata"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    return home


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's standalone S3 server on 127.0.0.1: a real HTTP server, one for the whole run.

    Tests share it and stay apart by bucket (each makes its own with a random name).
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def bomb_corpus(tmp_path_factory: pytest.TempPathFactory) -> list:  # type: ignore[type-arg]
    """The generated decompression-bomb corpus (tests/bombs.py), written once per session."""
    pytest.importorskip("pyarrow")
    from tests.bombs import generate

    return generate(tmp_path_factory.mktemp("bombs"))
