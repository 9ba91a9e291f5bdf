"""A real registry process (``opendata-registry serve``, granian) on 127.0.0.1.

- It starts on the embedded defaults with nothing but ``OPENDATA_HOME`` set, and serves what is
  already in ``$OPENDATA_HOME/store`` (SQLite file, local store, HMAC-signed downloads).
- schemathesis fuzzes it from ``/schema/openapi.json`` with every check: no server error, every
  answer documented, ``Allow`` listing every method of a path (ST205; Litestar's own ``OPTIONS``
  answers missed some, litestar-org/litestar#4169, and the registry completes them in
  :mod:`opendata_registry.infra.headers`).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests._processes import listening_port

from .conftest import Dataset, publish

BIN = Path(sys.executable).parent


_OUTPUT: dict[int, IO[str]] = {}
"""Each started registry's output (a file: the access log writes a line per request, and a pipe
that nobody reads until the end would fill and stall the server)."""


def start(
    home: Path, extra_env: dict[str, str] | None = None, *, workers: int = 1
) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDATA_")}
    env.update({"OPENDATA_HOME": str(home), **(extra_env or {})})
    output = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(
        [str(BIN / "opendata-registry"), "serve", "--port", "0", "--workers", str(workers)],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    _OUTPUT[proc.pid] = output
    try:
        port = listening_port(proc, "the registry", timeout=90)
    except AssertionError:
        raise AssertionError(f"registry did not start: {stop(proc)}") from None
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"registry exited: {stop(proc)}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop(proc)
    raise AssertionError("registry did not become ready in 90 s")


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = _OUTPUT.pop(proc.pid, None)
    if output is None:
        return ""
    with output:
        output.seek(0)
        return output.read()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    from obstore.store import LocalStore

    home = tmp_path / "home"
    store = LocalStore(home / "store", mkdir=True)
    # format 1.1 shards (blocks, null counts), so answers show every wire form to schemathesis
    publish(store, Dataset("ecb/euro-fx-rates", years=[2023, 2024], blocks=True))
    publish(store, Dataset("opendata/countries", frequency="yearly", years=[2020]))
    return home


@pytest.fixture
def embedded(home: Path) -> Iterator[str]:
    proc, url = start(home)
    yield url
    stop(proc)


def test_serve_on_embedded_defaults_picks_up_the_store(embedded: str, home: Path) -> None:
    found = httpx.get(f"{embedded}/v1/datasets").json()
    assert sorted(h["dataset"]["id"] for h in found["datasets"]) == [
        "ecb/euro-fx-rates",
        "opendata/countries",
    ]
    assert (home / "registry" / "registry.db").is_file()  # the SQLite file under OPENDATA_HOME
    assert (home / "index.json").exists() is False  # the index goes to the store, not home
    assert (home / "store" / "index.json").is_file()
    signed = httpx.post(
        f"{embedded}/v1/datasets/ecb/euro-fx-rates/download", json={"start": "2024"}
    ).json()
    (shard,) = signed["shards"]
    assert shard["url"].startswith(f"{embedded}/files/datasets/ecb/euro-fx-rates/parts/")
    body = httpx.get(shard["url"])
    assert body.status_code == 200
    assert hashlib.sha256(body.content).hexdigest() == shard["sha256"]
    part = httpx.get(shard["url"], headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == body.content[:10]


def test_schemathesis_finds_no_server_error(home: Path, tmp_path: Path) -> None:
    proc, url = start(
        home,
        {"OPENDATA_REGISTRY_TIERS": '{"anonymous": {"requests_per_minute": 1000000}}'},
    )
    try:
        paths = httpx.get(f"{url}/schema/openapi.json").json()["paths"]
        operations = sum(
            len(set(item) & {"get", "post", "put", "delete"}) for item in paths.values()
        )
        result = subprocess.run(
            [
                str(BIN / "schemathesis"),
                "run",
                f"{url}/schema/openapi.json",
                "--url",
                url,
                "--checks",
                "all",
                "--max-examples",
                "40",
                "--seed",
                "20261129",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,  # schemathesis keeps a cache folder in its working directory
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )
    finally:
        log = stop(proc)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert f"Tested: {operations}" in result.stdout  # every operation was exercised
    assert "Traceback" not in log, log[-4000:]
