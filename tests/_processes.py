"""Helpers for tests that start servers as subprocesses (the registry, the image's command)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["free_port", "redis_server", "stop", "wait_until_ready"]


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started (by its own handle), killing it if it does not stop."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    what: str,
    *,
    log: Path | None = None,
    timeout: float = 120,  # a loaded CI machine starts servers slowly
    interval: float = 0.2,
    errors: tuple[type[Exception], ...] = (OSError,),
) -> None:
    """Poll ``ready()`` until it is true (``errors`` it raises count as not yet); fail naming
    ``what`` (and its log) if ``proc`` exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except errors:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            detail = f":\n{log.read_text()}" if log is not None and log.exists() else ""
            raise AssertionError(f"{what} did not start{detail}")
        time.sleep(interval)


@contextmanager
def redis_server(port: int, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Our own ``redis-server`` on 127.0.0.1:``port`` (never the shared one), nothing on disk.

    Tests that kill Redis kill this one, by its handle; it is stopped when the block ends.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    folder.mkdir(parents=True, exist_ok=True)
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder), "--daemonize", "no"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pong() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    try:
        wait_until_ready(proc, pong, f"redis-server on port {port}", timeout=30, interval=0.05)
        yield proc
    finally:
        if proc.poll() is None:
            stop(proc)
