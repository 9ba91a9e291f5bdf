"""A live stack for the browser tests: a real registry and portal as subprocesses on 127.0.0.1,
over datasets that the real client published into a temporary OPENDATA_HOME."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests._processes import listening_port, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts" / "portal"
"""Screenshots and server logs of the browser tests (git-ignored)."""


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The developer's environment without OpenData or cloud settings, with a private home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENDATA_", "AWS_", "R2_", "GITHUB_"))
    }
    env.update(OPENDATA_HOME=str(home / "opendata"), HOME=str(home), PYTHONPATH=str(ROOT), **extra)
    return env


def run(
    args: list[str], env: Mapping[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, env=dict(env), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@contextmanager
def server(args: list[str], env: Mapping[str, str], health_path: str, log: Path) -> Iterator[str]:
    """Start a server listening on port 0 in its own process group; wait until it has bound a
    port and ``health_path`` answers there; yield its base URL; stop it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            port = listening_port(proc, str(args), log=log, timeout=90)
            url = f"http://127.0.0.1:{port}"

            def healthy() -> bool:
                return httpx.get(url + health_path, timeout=2).status_code == 200

            wait_until_ready(
                proc, healthy, f"{url}{health_path}", log=log, timeout=90, errors=(httpx.HTTPError,)
            )
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # our own process group: granian and its workers
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


def registry_command(port: int) -> list[str]:
    """The registry's app under granian on 127.0.0.1:``port`` (0: a port the server picks).

    `opendata-registry serve` at registry commit 8ea64de never answers: its pre-start sync in the
    main process leaves the SQLite catalogue locked and the worker's migration waits forever.
    Granian on the registry's own factory is the same app with the same start-up (migrate, sync),
    minus that pre-step.
    """
    return [
        str(BIN / "granian"),
        "--interface",
        "asgi",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "opendata_registry.app:create_app",
    ]


@dataclass(frozen=True)
class Stack:
    """Where the live registry and portal answer, and the environment that reaches the same store."""

    registry: str
    portal: str
    env: dict[str, str]
    home: Path


def seed(home: Path, env: Mapping[str, str]) -> None:
    """Publish with the real client and `od run`, syncing the registry's catalogue in between."""
    python, od, registry = str(BIN / "python"), str(BIN / "od"), str(BIN / "opendata-registry")
    run([python, "-m", "tests.portal.seed_catalogue", "1"], env)
    run([registry, "sync"], env)
    run([python, "-m", "tests.portal.seed_catalogue", "2"], env)
    # A producer's project: one successful `od run`, then one whose source refuses the connection.
    project = home / "widgets"
    run([od, "init", "--yes", "--id", "acme/widgets", str(project)], env)
    run([od, "run", str(project)], env)
    (project / "main.py").write_text(
        "def main():\n"
        "    raise ConnectionError('the source at https://example.org/widgets.csv refused the connection')\n"
    )
    assert run([od, "run", str(project)], env, check=False).returncode == 1
    run([registry, "sync"], env)


@contextmanager
def live_stack(home: Path, artifacts: Path) -> Iterator[Stack]:
    env = clean_env(home)
    seed(home, env)
    key = run(
        [
            str(BIN / "opendata-registry"),
            "keys",
            "create",
            "--tier",
            "enterprise",
            "--name",
            "portal",
            "--json",
        ],
        env,
    )
    import json

    api_key = json.loads(key.stdout)["key"]
    with server(registry_command(0), env, "/healthz", artifacts / "registry.log") as registry:
        portal_env = dict(
            env, OPENDATA_PORTAL_REGISTRY_URL=registry, OPENDATA_PORTAL_API_KEY=api_key
        )
        with server(
            [str(BIN / "opendata-portal"), "serve", "--port", "0"],
            portal_env,
            "/-/healthz",
            artifacts / "portal.log",
        ) as portal:
            yield Stack(registry=registry, portal=portal, env=env, home=home)
