"""A fault-injecting HTTP proxy for tests: put it between obstore and moto's S3 server.

Rules match requests by method and a regular expression on the path, and act on the N-th match:

* ``"forward-503"``: forward the request (it takes effect upstream), then answer 503;
* ``"forward-reset"``: forward it, then reset the connection instead of answering;
* ``"forward-hang"``: forward it, then answer nothing for ``hang`` seconds (past the client's
  timeout) and close;
* ``"503"``: answer 503 without forwarding (nothing happens upstream);
* ``"delay"``: hold the request ``hang`` seconds, then forward it (a write that lands late).

``before`` runs just before the matched request is forwarded (e.g. to let another writer commit).
Every request is logged with what happened to it, for assertions.

Example::

    proxy = FaultProxy(moto_endpoint).start()
    proxy.add(Rule("PUT", r"/manifest\\.json$", "forward-503"))
    store = S3CompatibleStore(bucket, endpoint=proxy.url)
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

Action = Literal["forward-503", "forward-reset", "forward-hang", "503", "reset", "delay"]

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "server", "date", "content-length"}


@dataclass
class Rule:
    """Act on requests ``nth`` … ``nth + times - 1`` that match ``method`` and ``path``."""

    method: str
    path: str
    action: Action
    nth: int = 1
    times: int = 1
    hang: float = 2.0
    before: Callable[[], None] | None = None
    seen: int = 0

    def hit(self, method: str, path: str) -> bool:
        if method != self.method or not re.search(self.path, path):
            return False
        self.seen += 1
        return self.nth <= self.seen < self.nth + self.times


@dataclass
class Logged:
    """One request the proxy saw: what it did, and the upstream status (``None``: not sent)."""

    method: str
    path: str
    action: str
    upstream: int | None


@dataclass
class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of ``upstream``."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    log: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The endpoint to give the client."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.log.clear()

    def match(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.hit(method, path):
                    return rule
        return None

    def record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is in flight (held, hanging or being forwarded)."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout):
                raise TimeoutError("the proxy still has requests in flight")

    def committed(self, method: str, path: str) -> int:
        """How many matching requests succeeded upstream (2xx), whatever the client was told."""
        with self._lock:
            return sum(
                1
                for e in self.log
                if e.method == method
                and re.search(path, e.path)
                and e.upstream is not None
                and 200 <= e.upstream < 300
            )


class _Handler(http.server.BaseHTTPRequestHandler):
    server: http.server.ThreadingHTTPServer

    def log_message(self, *args: object) -> None:
        pass

    @property
    def proxy(self) -> FaultProxy:
        return self.server.proxy  # type: ignore[attr-defined,no-any-return]

    def _forward(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
        target = urlsplit(self.proxy.upstream)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST: the client sees a reset connection.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in _HOP_HEADERS:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        rule = self.proxy.match(self.command, self.path)
        action = rule.action if rule else "forward"
        self.proxy.enter()
        try:
            if rule is not None and rule.before is not None:
                rule.before()
            if action in ("503", "reset"):
                self.proxy.record(Logged(self.command, self.path, action, None))
                if action == "503":
                    self._answer(503, [], b"<Error><Code>SlowDown</Code></Error>")
                else:
                    self._reset()
                return
            if action == "delay":
                assert rule is not None
                time.sleep(rule.hang)
            status, headers, data = self._forward(body)
            self.proxy.record(Logged(self.command, self.path, action, status))
            if action == "forward-503":
                self._answer(503, [], b"<Error><Code>ServiceUnavailable</Code></Error>")
            elif action == "forward-reset":
                self._reset()
            elif action == "forward-hang":
                assert rule is not None
                time.sleep(rule.hang)
                self.close_connection = True
            else:
                self._answer(status, headers, data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self.proxy.leave()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _handle  # noqa: N815 - http.server's names
