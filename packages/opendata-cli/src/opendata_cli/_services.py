"""Start the registry and the portal on 127.0.0.1 for ``od demo`` (when they are installed).

Both run as child processes with their own console commands (``python -m opendata_registry.cli.main
serve`` and ``python -m opendata_portal.cli serve``), so a crash or a Ctrl-C in one never leaves
the other half-running, and their logs go to files under ``$OPENDATA_HOME/demo/``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from opendata_core.errors import OpenDataError

__all__ = ["Services", "free_port", "missing_servers", "run_services"]

START_TIMEOUT = 180.0
"""Seconds to wait for a server to answer (a cold start on a busy 2-core machine takes ~20 s)."""


@dataclass(frozen=True)
class Services:
    """The URLs of the running servers (and their processes)."""

    registry_url: str
    portal_url: str
    processes: tuple[subprocess.Popen[bytes], ...] = ()

    def wait(self) -> int | None:
        """Block until Ctrl-C or SIGTERM (``None``) or until a server exits (its exit code)."""

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            while True:
                for proc in self.processes:
                    if proc.poll() is not None:
                        return proc.returncode
                time.sleep(0.5)
        except KeyboardInterrupt:
            return None


def missing_servers() -> list[str]:
    """The distributions ``od demo`` needs to serve the portal that are not installed."""
    wanted = {"opendata_registry": "opendata-registry", "opendata_portal": "opendata-portal"}
    return [dist for module, dist in wanted.items() if importlib.util.find_spec(module) is None]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_PORT_ATTEMPTS = 5


def _start_on_a_port(
    module: str, fixed: int | None, check: str, log: Path, what: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``module``'s server and wait until ``check`` answers; its process and URL.

    A port we chose (``fixed`` is ``None``) was free a moment before the server bound it: when
    another process took it in between, the server exits and we pick another one, so the race
    costs a retry, never a failed ``od demo``.
    """
    for attempt in range(_PORT_ATTEMPTS):
        url = f"http://127.0.0.1:{fixed or free_port()}"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 (our own modules, no shell)
                [sys.executable, "-m", module, "serve", "--port", url.rsplit(":", 1)[1]],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches od demo, which stops them in order
            )
        try:
            _wait_until_up(url + check, proc, log, what)
        except OpenDataError:
            exited = proc.poll() is not None  # by itself, not stopped by us for being slow
            _stop(proc)
            taken = exited and _taken(int(url.rsplit(":", 1)[1]))
            if fixed is not None or not taken or attempt == _PORT_ATTEMPTS - 1:
                raise
            continue
        return proc, url
    raise AssertionError("unreachable")  # pragma: no cover


def _taken(port: int) -> bool:
    """Whether another process holds ``port`` on 127.0.0.1 now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.25)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-8:]) if log.exists() else ""
    state = (
        f"exited with code {proc.returncode}"
        if proc.poll() is not None
        else f"did not answer {url} within {START_TIMEOUT:.0f} s"
    )
    raise OpenDataError(
        f"the {what} {state}" + (f"; the end of its log ({log}):\n{tail}" if tail else ""),
        hint="run `od demo --no-serve` to publish only, or pass --port to choose another port",
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def run_services(
    home: Path, *, port: int | None = None, registry_port: int | None = None
) -> Iterator[Services]:
    """Run the registry (over ``home``'s local store) and the portal (over that registry).

    Args:
        home: ``$OPENDATA_HOME``: the registry serves ``home/store`` and keeps its SQLite
            catalogue there, so a second run reuses what the first one built.
        port: The portal's port (default: a free one).
        registry_port: The registry's port (default: a free one).

    Raises:
        OpenDataError: a server did not start; the message quotes the end of its log.
    """
    logs = home / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OPENDATA_HOME": str(home), "OPENDATA_STORE": str(home / "store")}
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for module, fixed, check, log_name, what in (
            ("opendata_registry.cli.main", registry_port, "/readyz", "registry.log", "registry"),
            ("opendata_portal.cli", port, "/", "portal.log", "portal"),
        ):
            proc, url = _start_on_a_port(module, fixed, check, logs / log_name, what, env)
            procs.append(proc)
            urls.append(url)
            env["OPENDATA_PORTAL_REGISTRY_URL"] = urls[0]
        yield Services(registry_url=urls[0], portal_url=urls[1], processes=tuple(procs))
    finally:
        for proc in reversed(procs):
            _stop(proc)
