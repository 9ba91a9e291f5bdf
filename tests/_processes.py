"""Helpers for tests that start servers as subprocesses (the registry, the image's command)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

__all__ = [
    "PortTaken",
    "TcpRelay",
    "free_port",
    "listening_port",
    "logged_url",
    "ready_registry",
    "redis_server",
    "refused_port",
    "registry_env",
    "running_registry",
    "stop",
    "wait_until_ready",
]

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (it may be taken before it is used:
    prefer starting the server on port 0 and asking :func:`listening_port`)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port where connections are refused, for as long as the block lasts: bound by
    us and never listened on, so no other process can take it (unlike a closed
    :func:`free_port`)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc/<pid>/task/<tid>/children``)."""
    pids, i = [pid], 0
    while i < len(pids):
        for children in Path(f"/proc/{pids[i]}/task").glob("*/children"):
            with suppress(OSError):  # the task ended meanwhile
                pids += [int(c) for c in children.read_text().split()]
        i += 1
    return pids


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports that ``pid`` or a descendant listens on, as the kernel reports them."""
    inodes: set[str] = set()
    for p in _process_tree(pid):
        try:
            fds = list(Path(f"/proc/{p}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def listening_port(
    proc: subprocess.Popen[Any], what: str, *, log: Path | None = None, timeout: float = 120
) -> int:
    """The port a server started on port 0 listens on (it bound it itself, so no other
    process can hold it; unlike :func:`free_port`, no race). Linux only (``/proc``).

    The server (or its workers) must listen on exactly one TCP port.
    """
    found: list[int] = []

    def bound() -> bool:
        ports = _listening_ports(proc.pid)
        if len(ports) > 1:
            raise AssertionError(f"{what} listens on several ports: {sorted(ports)}")
        found[:] = ports
        return bool(ports)

    wait_until_ready(proc, bound, what, log=log, timeout=timeout, interval=0.05)
    return found[0]


def ready_registry(proc: subprocess.Popen[Any], *, log: Path, interval: float = 0.2) -> str:
    """The URL of a registry started on port 0, once its ``/readyz`` answers 200."""
    import httpx

    url = f"http://127.0.0.1:{listening_port(proc, 'the registry', log=log)}"
    wait_until_ready(
        proc,
        lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200,
        "the registry",
        log=log,
        interval=interval,
        errors=(httpx.TransportError,),
    )
    return url


WRANGLER_READY: re.Pattern[str] = re.compile(r"Ready on (http://127\.0\.0\.1:\d+)")
"""The line ``wrangler dev`` prints once it listens, with the port it bound."""


def logged_url(
    proc: subprocess.Popen[Any],
    log: Path,
    what: str,
    *,
    pattern: re.Pattern[str] = WRANGLER_READY,
    timeout: float = 180,
) -> str:
    """The URL a server started on port 0 writes to ``log`` once it listens (group 1 of
    ``pattern``), for servers that listen on several ports, so that :func:`listening_port`
    cannot tell which one serves: ``wrangler dev --port 0 --inspector-port 0`` (Miniflare binds
    both itself) and its workerd sockets."""
    found: list[str] = []

    def printed() -> bool:
        if match := pattern.search(log.read_text(errors="replace")):
            found.append(match.group(1))
        return bool(found)

    wait_until_ready(proc, printed, what, log=log, timeout=timeout, interval=0.2)
    return found[0]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started (by its own handle), killing it if it does not stop."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until_ready(
    proc: subprocess.Popen[Any],
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


class PortTaken(Exception):
    """A third-party server could not bind the port it was given (another process took it)."""


def _start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """``redis-server`` on 127.0.0.1:``port``, answering ``PING``; :class:`PortTaken` if the port
    is in use."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"redis-{port}.log"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder), "--daemonize", "no"]
    command += ["--logfile", str(log)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pong() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    try:
        wait_until_ready(proc, pong, f"redis-server on port {port}", timeout=30, interval=0.05)
    except AssertionError:
        if proc.poll() is None:
            stop(proc)
        if log.exists() and "Address already in use" in log.read_text():
            raise PortTaken(port) from None
        raise
    return proc


@contextmanager
def redis_server(port: int | None, folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Our own ``redis-server`` on 127.0.0.1 (never the shared one), nothing on disk; yields its
    process and port.

    ``port`` ``None``: a free port, and another one if it was taken before redis-server bound it
    (redis-server cannot bind port 0 and say which it got). A given ``port`` (to restart a
    killed server where its clients expect it) is used as is.
    Tests that kill Redis kill this one, by its handle; it is stopped when the block ends.
    """
    for attempt in range(5):
        chosen = free_port() if port is None else port
        try:
            proc = _start_redis(chosen, folder)
        except PortTaken:
            if port is not None or attempt == 4:
                raise
            continue
        break
    try:
        yield proc, chosen
    finally:
        if proc.poll() is None:
            stop(proc)


class TcpRelay:
    """A TCP relay that holds a loopback port for its whole life and forwards each connection to
    ``upstream`` (a port on 127.0.0.1), which can change meanwhile.

    For servers a test must restart, or start after their clients, where the clients need one
    fixed address: a restarted server cannot promise to get its old port back (another process
    may have taken it once it was closed), and some servers cannot bind port 0 and say which
    port they got. The relay's port is bound by the test itself until :meth:`close`, so no
    other process can take it. While ``upstream`` refuses (its server was killed) or is
    ``None``, a new connection is reset at once, and connections open when the server dies are
    closed, as a dead server's would be.

    Example::

        with redis_server(None, folder) as (_, port), TcpRelay(port) as relay:
            url = f"redis://127.0.0.1:{relay.port}/0"  # the same URL across restarts
    """

    def __init__(self, upstream: int | None = None) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"relay:{self.port}").start()

    def __enter__(self) -> TcpRelay:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def cut(self) -> None:
        """Close every open connection (both sides), as a server that dies closes its own."""
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    def close(self) -> None:
        """Stop accepting, close every connection and release the port."""
        self._closed = True
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = self.upstream
            try:
                if upstream is None:
                    raise ConnectionRefusedError
                server = socket.create_connection(("127.0.0.1", upstream), timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._open -= {source, sink}
        _reset(source)
        _reset(sink)


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a reset (linger 0), as the kernel answers for a process that died."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def registry_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a registry process: ours without OpenData and cloud settings, its own
    ``OPENDATA_HOME``, no periodic sync, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "AWS_"))}
    env.update(OPENDATA_HOME=str(home), OPENDATA_REGISTRY_SYNC_INTERVAL="0", **extra)
    return env


@contextmanager
def running_registry(home: Path, **extra: str) -> Iterator[str]:
    """The registry on a loopback port it picks until the block ends; yields its URL.

    Its output goes to ``registry-<port>.log`` beside ``home``.
    """
    env = registry_env(home, **extra)
    home.parent.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / f"registry-{secrets.token_hex(4)}.log"
    with log_path.open("w") as log:
        # The image's command (granian + the app factory, which migrates and syncs at start).
        command = [str(BIN / "granian"), "--interface", "asgi", "--factory"]
        command += ["--host", "127.0.0.1", "--port", "0", "opendata_registry.app:create_app"]
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = ready_registry(proc, log=log_path)
            # Named after its port (the file stays open for the server: a rename keeps it).
            log_path.rename(home.parent / f"registry-{url.rsplit(':', 1)[1]}.log")
            yield url
        finally:
            stop(proc)
