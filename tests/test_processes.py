"""The test helpers that find where a server started on port 0 listens (no free-port race)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests._processes import listening_port, stop

_SERVE = """
import http.server, sys
server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
server.serve_forever()
"""

_CHILD = """
import subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1]])
"""

_TWO = """
import socket, time
a, b = socket.socket(), socket.socket()
for s in (a, b):
    s.bind(("127.0.0.1", 0))
    s.listen()
print("listening", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("command", [[_SERVE], [_CHILD, _SERVE]], ids=["itself", "a child"])
def test_the_port_a_server_bound_is_found_and_answers(command: list[str], tmp_path: Path) -> None:
    # Its own process group: stopping the wrapper alone would leave its child serving.
    proc = subprocess.Popen([sys.executable, "-c", *command], cwd=tmp_path, start_new_session=True)
    try:
        port = listening_port(proc, "http.server", timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert answer.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_a_server_on_two_ports_or_that_exits_is_an_error() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _TWO], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"listening\n"
        with pytest.raises(AssertionError, match="two-ports listens on several ports"):
            listening_port(proc, "two-ports", timeout=30)
    finally:
        stop(proc)
        assert proc.stdout is not None
        proc.stdout.close()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    with pytest.raises(AssertionError, match="quitter did not start"):
        listening_port(gone, "quitter", timeout=30)


def test_redis_server_moves_to_another_port_when_its_port_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race ``free_port`` leaves open: another process binds the port first."""
    import socket

    from tests import _processes

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        given = _processes.redis_server(busy, tmp_path / "given")
        with pytest.raises(_processes.PortTaken), given:  # a given port is used as is
            pass
        picks = iter([busy])
        real = _processes.free_port
        monkeypatch.setattr(_processes, "free_port", lambda: next(picks, None) or real())
        with _processes.redis_server(None, tmp_path / "picked") as (proc, port):
            assert port != busy and proc.poll() is None
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"PING\r\n")
                assert conn.recv(16).startswith(b"+PONG")


def test_a_refused_port_refuses_connections_and_cannot_be_taken() -> None:
    import socket

    from tests._processes import refused_port

    with refused_port() as port:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))
