"""`od demo` as the README's main job: it publishes, then serves the portal and the registry on
127.0.0.1 until stopped, and a second run reuses what the first one built (issue 11, item 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from opendata_cli.main import cli

REPO = Path(__file__).resolve().parents[2]
OD = Path(sys.executable).parent / "od"


def _serve(home: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENDATA_", "AWS_", "R2_", "GITHUB_"))
    }
    env["OPENDATA_HOME"] = str(home)
    proc = subprocess.Popen(
        [str(OD), "demo"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Serving until Ctrl-C"):
            return proc, lines
    proc.kill()
    proc.wait(timeout=30)
    proc.stdout.close()
    raise AssertionError("od demo did not start serving:\n" + "\n".join(lines))


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    try:
        return proc.wait(timeout=60)
    finally:
        assert proc.stdout is not None
        proc.stdout.close()


def _url(lines: list[str], label: str) -> str:
    (line,) = [x for x in lines if x.startswith(label)]
    return line.split()[-1]


def test_demo_serves_the_portal_and_the_registry_then_stops_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "opendata"
    proc, lines = _serve(home)
    try:
        portal = _url(lines, "Portal:")
        registry = _url(lines, "Registry API:").removesuffix("/v1/datasets")
        page = httpx.get(f"{portal}/?q=exchange", timeout=30)
        assert page.status_code == 200
        assert "ecb/euro-fx-reference-rates" in page.text
        detail = httpx.get(f"{portal}/ecb/euro-fx-reference-rates", timeout=30)
        assert 'od.load("ecb/euro-fx-reference-rates")' in detail.text
        api = httpx.get(f"{registry}/v1/datasets", timeout=30).json()
        assert api["total"] == 5
        # The printed line loads through that registry (no store configured).
        (hint,) = [x for x in lines if x.strip().startswith("OPENDATA_REGISTRY=")]
        assert registry in hint
        code = (
            "import opendata as od; "
            "print(len(od.load('ecb/euro-fx-reference-rates', start='2025-01')))"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDATA_")}
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "OPENDATA_REGISTRY": registry, "OPENDATA_HOME": str(tmp_path / "c")},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert int(out.stdout) > 0
    finally:
        assert _stop(proc) == 0
    # Both servers are gone with it.
    with pytest.raises(httpx.HTTPError):
        httpx.get(portal, timeout=2)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{registry}/healthz", timeout=2)

    # A second run reuses what is there: no shard written again, the catalogue kept.
    proc, lines = _serve(home)
    try:
        assert any("0 shard(s) written" in x for x in lines)
        registry = _url(lines, "Registry API:").removesuffix("/v1/datasets")
        assert httpx.get(f"{registry}/v1/datasets", timeout=30).json()["total"] == 5
    finally:
        assert _stop(proc) == 0


def test_without_the_servers_installed_demo_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opendata_cli._services as services

    monkeypatch.setattr(services, "missing_servers", lambda: ["opendata-portal"])
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert "5 of 5 published" in result.stdout
    assert "install opendata-portal: pip install 'opendata-cli[demo]'" in result.stderr


def test_a_port_taken_before_the_server_binds_it_costs_a_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``od demo`` picks free ports; another process may take one before the server binds it.
    The server then exits and the demo picks again instead of failing."""
    import socket

    import opendata_cli._services as services

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = int(squatter.getsockname()[1])
        picks = iter([taken])
        real = services.free_port
        monkeypatch.setattr(services, "free_port", lambda: next(picks, None) or real())
        home = tmp_path / "home"
        with services.run_services(home) as running:
            assert next(picks, None) is None  # the taken port was tried first
            assert not running.registry_url.endswith(f":{taken}")
            assert httpx.get(f"{running.registry_url}/readyz", timeout=30).status_code == 200
            assert httpx.get(running.portal_url, timeout=30).status_code == 200
